package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/termsafe"
)

// runsOptions are the flags of `sortie runs` and its subcommands.
type runsOptions struct {
	// Out is where "runs attach" and "runs report" write the run
	// directory. Defaults to the run's directory under the data directory.
	Out string
	// Concurrency of "runs resume". Defaults to the number of CPUs.
	Concurrency int
	// OlderThan makes "runs prune" remove runs started longer ago than
	// this. Defaults to no age limit.
	OlderThan string
	// States makes "runs prune" remove runs in these states only.
	// Defaults to every state but running.
	States []string
	// DryRun makes "runs rm" and "runs prune" say what they would remove.
	// Defaults to false.
	DryRun bool
}

func newRunsCommand(g *globalOptions) *cobra.Command {
	opts := &runsOptions{}
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List, show, attach to, cancel, resume, report and remove runs",
		Long: `List runs and act on one.

Without --server these are the local runs (each with its engine in its run
directory): those in the data directory and those written elsewhere with
--out DIR; with --server, the runs on that server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRunsList(cmd.Context(), g)
		},
	}
	show := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a run's tasks, chunks, attempts, workers, outcomes and dead letters",
		Args:  exactArgs(1, "name one run: sortie runs show RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRunsShow(cmd.Context(), g, args[0])
		},
	}
	attach := &cobra.Command{
		Use:   "attach RUN",
		Short: "Follow a run started elsewhere until it finishes",
		Long: `Show a run's findings as they arrive until it finishes, writing them to a run
directory (--out, or the run's directory). Ctrl-C stops following; the run
goes on.`,
		Args: exactArgs(1, "name one run: sortie runs attach RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRunsAttach(cmd.Context(), g, opts, args[0])
		},
	}
	attach.Flags().StringVarP(&opts.Out, "out", "o", "", "write the run directory to `DIR`")
	cancel := &cobra.Command{
		Use:   "cancel RUN",
		Short: "Stop every chunk of a run, keeping partial findings",
		Args:  exactArgs(1, "name one run: sortie runs cancel RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRunsCancel(cmd.Context(), g, args[0])
		},
	}
	resume := &cobra.Command{
		Use:   "resume RUN",
		Short: "Continue an interrupted local run",
		Long: `Continue a local run that was interrupted (its sortie process was killed):
chunks that finished are not run again, chunks that were running are run
again, and the findings already written are kept.`,
		Args: exactArgs(1, "name one run: sortie runs resume RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRunsResume(cmd.Context(), g, opts, args[0])
		},
	}
	resume.Flags().IntVar(&opts.Concurrency, "concurrency", 0, "chunks run at once (default: number of CPUs)")
	rep := &cobra.Command{
		Use:   "report RUN",
		Short: "Write a run's findings from the engine: JSON lines on stdout, or a run directory",
		Long: `Read a run's findings from its engine. Without --out they are written to stdout
as JSON lines, one finding a line; with --out DIR, DIR gets the run's
findings.jsonl and run.json.`,
		Args: exactArgs(1, "name one run: sortie runs report RUN [--out DIR]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRunsReport(cmd.Context(), g, opts, args[0])
		},
	}
	rep.Flags().StringVarP(&opts.Out, "out", "o", "", "write findings.jsonl and run.json to `DIR` (default: the findings to stdout)")
	rm := &cobra.Command{
		Use:   "rm RUN...",
		Short: "Remove local runs: their directories, findings and engine",
		Long: `Remove local runs' directories (by run id, or by path). A running run is never
removed, nor a directory that is not a sortie run directory (one holding files
sortie does not write). Runs on a server are kept by the server.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("name the runs to remove: sortie runs rm RUN...")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRunsRemove(cmd.Context(), g, opts, args)
		},
	}
	rm.Flags().BoolVar(&opts.DryRun, "dry-run", false, "say what would be removed, remove nothing")
	prune := &cobra.Command{
		Use:   "prune --older-than AGE | --state STATE",
		Short: "Remove local runs by age and/or state",
		Long: `Remove the local runs started longer ago than --older-than (30d, 12h, 90m) and/or
in one of the states given with --state (done, partial, failed, cancelled,
interrupted; repeatable). Running runs are never removed; see "runs rm".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRunsPrune(cmd.Context(), g, opts, time.Now())
		},
	}
	prune.Flags().StringVar(&opts.OlderThan, "older-than", "", "remove runs started more than `AGE` ago (30d, 12h, 90m)")
	prune.Flags().StringArrayVar(&opts.States, "state", nil, "remove runs in this `STATE` only (repeatable)")
	prune.Flags().BoolVar(&opts.DryRun, "dry-run", false, "say what would be removed, remove nothing")
	_ = prune.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(pruneStates, cobra.ShellCompDirectiveNoFileComp))
	for _, c := range []*cobra.Command{show, attach, cancel, resume, rep} {
		c.ValidArgsFunction = completeRunIDs(g, 1)
	}
	rm.ValidArgsFunction = completeRunIDs(g, -1)
	cmd.AddCommand(show, attach, cancel, resume, rep, rm, prune)
	return cmd
}

// completeRunIDs offers run ids, newest first, for the first n arguments
// (every argument when n < 0): the local runs', or with --server on the
// command line the server's (asked for at most 2 s).
func completeRunIDs(g *globalOptions, n int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if n >= 0 && len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var ids []string
		offer := func(id, desc string) {
			if strings.HasPrefix(id, toComplete) && !slices.Contains(args, id) {
				ids = append(ids, termsafe.Clean(id)+"\t"+termsafe.Clean(desc))
			}
		}
		if g.engine.remote() && cmd.Name() != "rm" {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			e, err := g.engine.connect(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			defer e.Close()
			runs, _ := e.Runs(ctx)
			slices.SortFunc(runs, func(a, b engine.RunRecord) int { return b.Created.Compare(a.Created) })
			for _, r := range runs {
				offer(r.ID, r.Tool+", "+string(r.State))
			}
			return ids, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
		}
		for _, r := range localRuns() {
			offer(r.meta.ID, r.meta.Tool+", "+localState(r.dir, r.meta))
		}
		return ids, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// localRunInfo is a local run: its directory and its run.json.
type localRunInfo struct {
	dir  *report.Dir
	meta *report.Meta
}

// localRuns returns every local run, newest first: those in the runs
// directory and those written elsewhere with --out (the run index).
// Directories that are gone or hold no readable run.json are skipped.
func localRuns() []localRunInfo {
	dirs, _ := report.RunDirs()
	var runs []localRunInfo
	for _, p := range dirs {
		if m, err := report.ReadMeta(p); err == nil {
			runs = append(runs, localRunInfo{&report.Dir{Path: p}, m})
		}
	}
	slices.SortFunc(runs, func(a, b localRunInfo) int { return b.meta.Started.Compare(a.meta.Started) })
	return runs
}

// indexRunDir records a run directory made outside the runs directory, so
// that "sortie runs" lists it. Failing to is worth a warning, not the run.
func indexRunDir(g *globalOptions, dir *report.Dir) {
	if err := report.AddToIndex(dir.Path); err != nil {
		fmt.Fprintf(g.stderr, "sortie: warning: %s; \"sortie runs\" will not list %s\n", termsafe.Clean(err.Error()), termsafe.Clean(dir.Path))
	}
}

func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s", msg)
		}
		return nil
	}
}

// localRun finds a local run by id (under the data directory) or by path.
func localRun(arg string) (*report.Dir, *report.Meta, error) {
	dir := arg
	if !strings.Contains(arg, string(filepath.Separator)) {
		root, err := report.RunsDir()
		if err != nil {
			return nil, nil, err
		}
		if _, err := os.Stat(filepath.Join(root, arg)); err == nil {
			dir = filepath.Join(root, arg)
		} else if _, err := os.Stat(arg); err != nil {
			// A run written elsewhere with --out, by its id.
			for _, r := range localRuns() {
				if r.meta.ID == arg {
					dir = r.dir.Path
					break
				}
			}
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	m, err := report.ReadMeta(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, usageError{withHint(fmt.Errorf("no local run %s", arg), "\"sortie runs\" lists local runs; pass --server URL for the runs of a server")}
		}
		return nil, nil, err
	}
	d, err := report.Open(abs)
	if err != nil {
		return nil, nil, err
	}
	return d, m, nil
}

// localState is a local run's state as the user should see it: a run whose
// run.json says running but whose process is gone was interrupted.
// A run directory without an engine store belongs to a run on a server (or
// to an import): its state is the server's to tell.
func localState(d *report.Dir, m *report.Meta) string {
	if _, err := os.Stat(d.File("engine")); err != nil {
		return m.State
	}
	if m.State == "running" && engine.StoreOwner(d.File("engine")) == 0 {
		return "interrupted"
	}
	return m.State
}

func runRunsList(ctx context.Context, g *globalOptions) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if g.engine.remote() {
		e, err := g.engine.connect(ctx, g.logger())
		if err != nil {
			return err
		}
		defer e.Close()
		runs, err := e.Runs(ctx)
		if err != nil {
			return err
		}
		if g.JSON {
			return writeJSONLines(jsonOut(g.stdout), runs)
		}
		fmt.Fprintln(tw, "RUN\tSTATE\tTOOL\tTARGETS\tTASKS\tCREATED\tFINISHED")
		sw := termsafe.NewWriter(tw) // what the server says
		for _, r := range runs {
			fmt.Fprintf(sw, "%s\t%s\t%s\t%d\t%d/%d\t%s\t%s\n", r.ID, r.State, r.Tool, r.Targets, len(r.TasksDone), len(r.Tasks),
				r.Created.Local().Format(time.DateTime), timeOrDash(r.Finished))
		}
		return nil
	}
	if _, err := report.RunsDir(); err != nil {
		return err
	}
	rows := localRuns()
	if g.JSON {
		metas := make([]*report.Meta, len(rows))
		for i, r := range rows {
			metas[i] = r.meta
			metas[i].State = localState(r.dir, r.meta)
		}
		return writeJSONLines(jsonOut(g.stdout), metas)
	}
	fmt.Fprintln(tw, "RUN\tSTATE\tTOOL\tTARGETS\tFINDINGS\tSTARTED\tDURATION")
	sw := termsafe.NewWriter(tw) // what run directories say
	for _, r := range rows {
		n := 0
		for t, c := range r.meta.Counts {
			if !t.Execution() {
				n += c
			}
		}
		dur := "-"
		if r.meta.Finished != nil {
			dur = r.meta.Finished.Sub(r.meta.Started).Round(time.Millisecond).String()
		}
		fmt.Fprintf(sw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.meta.ID, localState(r.dir, r.meta), r.meta.Tool, len(r.meta.Targets), n,
			r.meta.Started.Local().Format(time.DateTime), dur)
	}
	return nil
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

// openRunEngine opens the engine that holds run id: the server's, or the
// local run's own embedded one (which must not be in use).
func openRunEngine(ctx context.Context, g *globalOptions, id string) (*engine.Engine, *report.Dir, *report.Meta, error) {
	if g.engine.remote() {
		e, err := g.engine.connect(ctx, g.logger())
		return e, nil, nil, err
	}
	d, m, err := localRun(id)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := os.Stat(d.File("engine")); err != nil {
		return nil, d, m, fmt.Errorf("run %s has no engine store (made by sortie import, or by an older sortie)", m.ID)
	}
	e, err := openLocal(ctx, d)
	return e, d, m, err
}

// runDetail is what "runs show" prints.
type runDetail struct {
	Run         engine.RunRecord     `json:"run"`
	Tasks       []engine.TaskRecord  `json:"tasks"`
	Chunks      []engine.ChunkRecord `json:"chunks"`
	DeadLetters []engine.DeadLetter  `json:"dead_letters"`
	Dir         string               `json:"dir,omitempty"`
}

func runRunsShow(ctx context.Context, g *globalOptions, id string) error {
	if !g.engine.remote() {
		d, m, err := localRun(id)
		if err != nil {
			return err
		}
		if pid := engine.StoreOwner(d.File("engine")); pid != 0 {
			// The run is live in another process, which holds its engine:
			// show what its run directory says.
			if g.JSON {
				return json.NewEncoder(jsonOut(g.stdout)).Encode(m)
			}
			fmt.Fprintf(termsafe.NewWriter(g.stdout), "run %s (%s) is running in process %d; findings so far: %s\n", m.ID, m.Tool, pid, d.File(report.FindingsFile))
			return nil
		}
	}
	e, d, _, err := openRunEngine(ctx, g, id)
	if err != nil {
		return err
	}
	defer e.Close()
	det := runDetail{}
	if det.Run, err = e.Run(ctx, runID(id, d)); err != nil {
		return err
	}
	if det.Tasks, err = e.Tasks(ctx, det.Run.ID); err != nil {
		return err
	}
	if det.Chunks, err = e.Chunks(ctx, det.Run.ID); err != nil {
		return err
	}
	if det.DeadLetters, err = e.DeadLetters(ctx, det.Run.ID); err != nil {
		return err
	}
	if d != nil {
		det.Dir = d.Path
	}
	if g.JSON {
		return json.NewEncoder(jsonOut(g.stdout)).Encode(det)
	}
	printRunDetail(g.stdout, det)
	return nil
}

// runID is the run's id: the argument, or the id in a run directory's
// metadata when the argument was a path.
func runID(arg string, d *report.Dir) string {
	if d != nil {
		if m, err := report.ReadMeta(d.Path); err == nil {
			return m.ID
		}
	}
	return arg
}

// printRunDetail prints what "runs show" shows; all of it, from the
// server or a run directory, is made safe for a terminal.
func printRunDetail(out io.Writer, det runDetail) {
	w := termsafe.NewWriter(out)
	r := det.Run
	fmt.Fprintf(w, "run %s  %s  %s, %d targets\n", r.ID, r.State, r.Tool, r.Targets)
	fmt.Fprintf(w, "created %s  finished %s  origin %s\n", r.Created.Local().Format(time.DateTime), timeOrDash(r.Finished), r.Origin)
	if r.CancelRequested {
		fmt.Fprintln(w, "cancel requested")
	}
	if det.Dir != "" {
		fmt.Fprintf(w, "directory %s\n", det.Dir)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\ntasks:")
	fmt.Fprintln(tw, "  TASK\tTOOL\tPOOL\tSTATE\tCHUNKS\tOUTCOMES\tFINDINGS")
	for _, t := range det.Tasks {
		var outs []string
		for _, s := range []engine.ChunkState{engine.ChunkDone, engine.ChunkPartial, engine.ChunkFailed, engine.ChunkAbandoned, engine.ChunkCancelled} {
			if n := t.States[s]; n > 0 {
				outs = append(outs, fmt.Sprintf("%d %s", n, s))
			}
		}
		chunks := fmt.Sprint(t.Chunks)
		if n := len(t.Continuations); n > 0 {
			chunks += fmt.Sprintf(" +%d continued", n)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\n", t.ID, t.Tool, t.Pool, t.State, chunks, strings.Join(outs, ", "), t.Findings)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nchunks:")
	fmt.Fprintln(tw, "  CHUNK\tSTATE\tREASON\tATTEMPTS\tWORKER\tTARGETS\tFINDINGS\tDURATION")
	for _, c := range det.Chunks {
		dur := "-"
		if c.Started != nil && c.Finished != nil {
			dur = c.Finished.Sub(*c.Started).Round(time.Millisecond).String()
		}
		reason := c.Reason
		if c.Continuation != "" {
			reason += " -> " + c.Continuation
		}
		fmt.Fprintf(tw, "  %s.%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", c.Task, c.ID, c.State, orDash(reason), c.Attempt, orDash(c.Worker), c.Targets, c.Findings, dur)
	}
	tw.Flush()
	if len(det.DeadLetters) > 0 {
		fmt.Fprintln(w, "\ndead letters:")
		for _, d := range det.DeadLetters {
			fmt.Fprintf(w, "  %s.%s  %s  (%s, worker %s)\n", d.Task, d.Chunk, d.Reason, d.Time.Local().Format(time.DateTime), orDash(d.Worker))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runRunsAttach(ctx context.Context, g *globalOptions, opts *runsOptions, id string) error {
	if !g.engine.remote() {
		return attachLocal(ctx, g, id)
	}
	e, err := g.engine.connect(ctx, g.logger())
	if err != nil {
		return err
	}
	defer e.Close()
	run, err := e.Run(ctx, id)
	if err != nil {
		return usageError{err}
	}
	rec, err := attachRecorder(g, opts.Out, run)
	if err != nil {
		return err
	}
	return followRun(ctx, g, e, rec, false)
}

// attachRecorder opens the run directory a remote run is attached to: --out,
// or the run's directory under the data directory, created or reused. A
// directory is reused only when it holds this run; else it must be new or
// empty.
func attachRecorder(g *globalOptions, out string, run engine.RunRecord) (*recorder, error) {
	path := out
	if path == "" {
		root, err := report.RunsDir()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(root, run.ID)
	}
	meta := &report.Meta{ID: run.ID, Kind: run.Kind, Tool: run.Tool, Options: run.Options, State: "running", Started: run.Created, Sortie: version()}
	var dir *report.Dir
	if m, err := report.ReadMeta(path); err == nil {
		if m.ID != run.ID {
			return nil, usageError{withHint(fmt.Errorf("%s already holds run %s", path, m.ID), "choose a new directory with --out DIR")}
		}
		meta = m
		if dir, err = report.Open(path); err != nil {
			return nil, err
		}
	} else if dir, err = report.CreateOut(path); err != nil {
		return nil, outDirError(err)
	} else if out != "" {
		indexRunDir(g, dir)
	}
	return openRecorder(g, dir, func(error) {}, meta)
}

// attachLocal follows a local run that another sortie process is running,
// through its run directory: that process holds the run's engine.
func attachLocal(ctx context.Context, g *globalOptions, id string) error {
	d, m, err := localRun(id)
	if err != nil {
		return err
	}
	pr := newPrinter(g, func(error) {})
	pr.Start("following", m.Tool, m.ID)
	var off int64
	show := func() error {
		f, err := os.Open(d.File(report.FindingsFile))
		if err != nil {
			return nil
		}
		defer f.Close()
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err
		}
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		for {
			i := slices.Index(data, '\n')
			if i < 0 {
				break // a line still being written
			}
			line := data[:i+1]
			data, off = data[i+1:], off+int64(i+1)
			if f, err := finding.Decode(line); err == nil {
				if err := pr.Finding(f, line); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// The other process writes findings.jsonl as it goes; read it until
	// that process lets go of the run's engine (it has finished, or died).
	for {
		if err := show(); err != nil {
			return err
		}
		if engine.StoreOwner(d.File("engine")) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following run %s; it goes on", m.ID)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := show(); err != nil {
		return err
	}
	m, err = report.ReadMeta(d.Path)
	if err != nil {
		return err
	}
	state := localState(d, m)
	if _, err := os.Stat(d.File("engine")); err != nil && state == "running" {
		return withHint(fmt.Errorf("run %s runs on a server", m.ID), "sortie runs attach "+m.ID+" --server URL follows it")
	}
	pr.Summary(summary{State: state, Reason: m.Reason, Counts: m.Counts, Duration: durationOf(m), Dir: d.Path, Garbage: m.Garbage})
	if state == "interrupted" {
		return withHint(fmt.Errorf("run %s was interrupted", m.ID), "sortie runs resume "+m.ID+" continues it")
	}
	return nil
}

func durationOf(m *report.Meta) time.Duration {
	if m.Finished == nil {
		return 0
	}
	return m.Finished.Sub(m.Started)
}

func runRunsCancel(ctx context.Context, g *globalOptions, id string) error {
	if !g.engine.remote() {
		d, m, err := localRun(id)
		if err != nil {
			return err
		}
		if pid := engine.StoreOwner(d.File("engine")); pid > 0 {
			// The run's own process cancels it on SIGINT, as on Ctrl-C.
			if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
				return fmt.Errorf("cancel run %s (process %d): %w", m.ID, pid, err)
			}
			for engine.StoreOwner(d.File("engine")) != 0 {
				select {
				case <-ctx.Done():
					return context.Cause(ctx)
				case <-time.After(50 * time.Millisecond):
				}
			}
			if m, err = report.ReadMeta(d.Path); err == nil {
				fmt.Fprintf(g.stdout, "run %s %s\n", m.ID, m.State)
			}
			return nil
		}
	}
	e, d, _, err := openRunEngine(ctx, g, id)
	if err != nil {
		return err
	}
	defer e.Close()
	id = runID(id, d)
	if d != nil {
		// Nothing else holds this local engine: whatever it says is
		// running died with its process.
		if err := e.ForgetWorkers(ctx); err != nil {
			return err
		}
	}
	run, err := e.CancelRun(ctx, id)
	if err != nil {
		return err
	}
	if !run.State.Terminal() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if run, err = e.WaitRun(wctx, id); err != nil {
			return fmt.Errorf("run %s: cancel requested, but its chunks have not all stopped yet (%v); \"sortie runs show %s\" tells which", id, err, id)
		}
	}
	if d != nil {
		if m, err := report.ReadMeta(d.Path); err == nil {
			m.State = string(run.State)
			_ = d.WriteMeta(m)
		}
	}
	fmt.Fprintf(g.stdout, "run %s %s\n", id, run.State)
	return nil
}

func runRunsResume(ctx context.Context, g *globalOptions, opts *runsOptions, id string) error {
	if g.engine.remote() {
		return usageError{withHint(errors.New("runs on a server do not need resuming: their chunks go on on the workers"), "sortie runs attach RUN follows one")}
	}
	e, d, m, err := openRunEngine(ctx, g, id)
	if err != nil {
		return err
	}
	defer e.Close()
	run, err := e.Run(ctx, m.ID)
	if err != nil {
		return err
	}
	if !run.State.Terminal() {
		// This process holds the store: every worker recorded in it is gone,
		// and messages they held are handed out again now, not after their
		// lease.
		if err := e.ForgetWorkers(ctx); err != nil {
			return err
		}
		tasks, err := e.Tasks(ctx, m.ID)
		if err != nil {
			return err
		}
		for _, t := range tasks {
			if err := e.ResetQueue(ctx, t.Pool); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	m.State = "running"
	rec, err := openRecorder(g, d, cancel, m)
	if err != nil {
		return err
	}
	w, err := localWorker(ctx, g, e, d, opts.Concurrency, 0)
	if err != nil {
		return errors.Join(err, rec.finish("failed", "engine", 0))
	}
	defer stopWorker(ctx, w)
	return followRun(ctx, g, e, rec, true)
}

func runRunsReport(ctx context.Context, g *globalOptions, opts *runsOptions, id string) error {
	e, d, _, err := openRunEngine(ctx, g, id)
	if err != nil {
		return err
	}
	defer e.Close()
	run, err := e.Run(ctx, runID(id, d))
	if err != nil {
		return err
	}
	// Without --out, the findings go to stdout as JSON lines; other formats
	// (--format) would go there too.
	var (
		dir *report.Dir
		fw  *report.FindingsWriter
	)
	if opts.Out == "" {
		fw = report.NewFindingsWriter(jsonOut(g.stdout))
	} else {
		if _, err := report.ReadMeta(opts.Out); err == nil {
			return usageError{withHint(fmt.Errorf("%s already holds a run", opts.Out), "choose a new directory with --out DIR")}
		}
		if dir, err = report.CreateOut(opts.Out); err != nil {
			return outDirError(err)
		}
		if fw, err = report.CreateFindings(dir.File(report.FindingsFile)); err != nil {
			return err
		}
	}
	var bad int
	var werr error
	err = e.ReadFindings(ctx, run.ID, func(b []byte) {
		f, derr := finding.Decode(b)
		if derr != nil {
			bad++
			return
		}
		if _, _, err := fw.WriteLine(f); err != nil && werr == nil {
			werr = err
		}
	})
	if err = errors.Join(err, werr, fw.Close()); err != nil {
		return fmt.Errorf("report run %s: %w", run.ID, err)
	}
	meta := &report.Meta{ID: run.ID, Kind: run.Kind, Tool: run.Tool, Options: run.Options, State: string(run.State),
		Started: run.Created, Finished: run.Finished, Counts: fw.Counts(), Sortie: version()}
	if run.Finished != nil {
		meta.DurationMS = run.Finished.Sub(run.Created).Milliseconds()
	}
	if dir != nil {
		if err := dir.WriteMeta(meta); err != nil {
			return err
		}
		fmt.Fprintf(termsafe.NewWriter(g.stdout), "run %s (%s): %d findings written to %s\n", run.ID, run.State, total(meta.Counts), dir.Path)
	} else if !g.Quiet {
		fmt.Fprintf(termsafe.NewWriter(g.stderr), "sortie: run %s (%s): %d findings\n", run.ID, run.State, total(meta.Counts))
	}
	if bad > 0 {
		return fmt.Errorf("%d findings could not be read", bad)
	}
	return nil
}

func total(c map[finding.Type]int) int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}
