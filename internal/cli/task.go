package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/install"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/target"
	"github.com/sortie-sec/sortie/internal/task"
	"github.com/sortie-sec/sortie/internal/termsafe"
	"github.com/sortie-sec/sortie/internal/tool"
)

// taskOptions are the flags of `sortie x TOOL`.
type taskOptions struct {
	// InputFile holds targets, one per line ("-" for stdin).
	InputFile string
	// Out is the run directory. Defaults to a new directory under
	// $XDG_DATA_HOME/sortie/runs.
	Out string
	// TaskTimeout is the wall-clock limit of the whole task. Defaults to
	// none.
	TaskTimeout time.Duration
	// MemoryLimit is a soft limit on the tool tree's memory ("2GiB").
	// Defaults to none.
	MemoryLimit string
	// StopGrace is how long the tool has after SIGINT, and again after
	// SIGTERM, before it is killed. Defaults to 2s.
	StopGrace time.Duration
	// Values are the tool's option values, by option name.
	Values map[string][]string
	// Detach submits the run to the server and returns at once.
	Detach bool
	// ChunkSize is the number of targets per chunk. Defaults to the tool's
	// chunk size, or all targets in one chunk.
	ChunkSize int
	// Pool routes the run's chunks to the workers of a pool. Defaults to
	// "default".
	Pool string
	// Concurrency is the number of chunks a local run runs at once.
	// Defaults to the number of CPUs.
	Concurrency int
	// RawLimit caps the raw output copy of each attempt of a local run
	// ("100MiB"; "0" keeps none). Defaults to 100MiB.
	RawLimit string
}

func newTaskCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "x TOOL [TARGET...]",
		Aliases: []string{"task"},
		Short:   "Run one tool against targets",
		Long: `Run one tool against targets and normalise its output into findings.

Targets come from the arguments, from a file (-i FILE) or from stdin. Each run
writes a run directory with run.json, findings.jsonl, the exact command and the
raw output. "sortie x TOOL --help" lists the tool's options.`,
		Args: cobra.ArbitraryArgs,
		// Reached only for a name that is not a tool.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("name a tool: sortie x TOOL TARGET... (see \"sortie tools\")")
			}
			_, err := g.registry.Get(args[0])
			return toolError(err)
		},
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
	}
	for _, d := range g.registry.All() {
		cmd.AddCommand(newToolCommand(g, d))
	}
	return cmd
}

// newToolCommand is `sortie x NAME`: the tool's own options become flags.
func newToolCommand(g *globalOptions, d *tool.Definition) *cobra.Command {
	opts := &taskOptions{}
	cmd := &cobra.Command{
		Use:   d.Name + " [TARGET...]",
		Short: d.Description,
		Long:  toolLong(d),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Values = collectOptionFlags(cmd.Flags(), d)
			return runTask(cmd.Context(), g, d, opts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.InputFile, "input", "i", "", "read targets from `FILE`, one per line (- for stdin)")
	f.StringVarP(&opts.Out, "out", "o", "", "write the run directory to `DIR`")
	f.DurationVar(&opts.TaskTimeout, "task-timeout", 0, "stop the tool after this long and keep its findings (e.g. 10m)")
	f.StringVar(&opts.MemoryLimit, "memory-limit", "", "stop the tool when its processes use more memory (e.g. 2GiB)")
	f.DurationVar(&opts.StopGrace, "stop-grace", 2*time.Second, "grace after SIGINT and again after SIGTERM before SIGKILL")
	f.BoolVar(&opts.Detach, "detach", false, "submit the run to --server, print its id and return")
	f.IntVar(&opts.ChunkSize, "chunk-size", 0, "targets per chunk; chunks run in parallel (default: the tool's, or all in one)")
	f.StringVar(&opts.Pool, "pool", "default", "run on the workers of this `POOL`")
	f.IntVar(&opts.Concurrency, "concurrency", 0, "chunks a local run runs at once (default: number of CPUs)")
	f.StringVar(&opts.RawLimit, "raw-limit", "100MiB", "cap the raw output kept in raw/ per attempt (0: keep none)")
	signingKeyFlag(cmd, &g.engine.SigningKey)
	unified, own := pflag.NewFlagSet("unified", pflag.ContinueOnError), pflag.NewFlagSet(d.Name, pflag.ContinueOnError)
	for _, o := range d.OptionSet() {
		fs := own
		if _, ok := tool.UnifiedOption(o.Name); ok {
			fs = unified
		}
		name := flagName(o.Name)
		help := o.Help
		if o.Default != "" {
			help += fmt.Sprintf(" (default %s)", o.Default)
		}
		switch o.Kind {
		case tool.KindBool:
			fs.Bool(name, false, help)
		case tool.KindList:
			fs.StringArray(name, nil, help)
		default:
			fs.Var(&optionValue{kind: o.Kind}, name, help)
		}
		_ = fs.SetAnnotation(name, "sortie-option", []string{o.Name})
	}
	f.AddFlagSet(unified)
	f.AddFlagSet(own)
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		w := c.OutOrStderr()
		fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
		groups := []struct {
			title string
			fs    *pflag.FlagSet
		}{{"Unified options (the same for every tool)", unified}, {d.Name + " options", own}}
		for _, g := range groups {
			if g.fs.HasFlags() {
				fmt.Fprintf(w, "\n%s:\n%s", g.title, g.fs.FlagUsages())
			}
		}
		task := pflag.NewFlagSet("task", pflag.ContinueOnError)
		c.LocalNonPersistentFlags().VisitAll(func(fl *pflag.Flag) {
			if _, isOption := fl.Annotations["sortie-option"]; !isOption {
				task.AddFlag(fl)
			}
		})
		fmt.Fprintf(w, "\nTask flags:\n%s", task.FlagUsages())
		fmt.Fprintf(w, "\nGlobal flags:\n%s", c.InheritedFlags().FlagUsages())
		return nil
	})
	return cmd
}

// optionValue holds a tool option's value as typed; it is validated with the
// option's kind when the command is built, so errors name the option.
type optionValue struct {
	kind tool.Kind
	v    string
}

func (o *optionValue) String() string     { return o.v }
func (o *optionValue) Set(v string) error { o.v = v; return nil }
func (o *optionValue) Type() string       { return string(o.kind) }

func toolLong(d *tool.Definition) string {
	desc := d.Description
	if desc == "" {
		desc = "Custom tool " + d.Name + "."
	}
	inst := "install it yourself (no install recipe)"
	if cmd := install.InstallCommand(d); cmd != "" {
		inst = "install with \"" + cmd + "\""
	}
	return fmt.Sprintf("%s\n\nAccepts targets of type: %s.\nBinary: %s; %s.", desc, d.InputList(), d.Binary, inst)
}

// flagName turns an option name into a flag name: rate_limit -> rate-limit.
func flagName(option string) string { return strings.ReplaceAll(option, "_", "-") }

// collectOptionFlags reads the tool option flags the user set.
func collectOptionFlags(fs *pflag.FlagSet, d *tool.Definition) map[string][]string {
	values := map[string][]string{}
	fs.Visit(func(f *pflag.Flag) {
		names, ok := f.Annotations["sortie-option"]
		if !ok {
			return
		}
		if sa, ok := f.Value.(pflag.SliceValue); ok {
			values[names[0]] = sa.GetSlice()
			return
		}
		values[names[0]] = []string{f.Value.String()}
	})
	return values
}

// runTask is `sortie x`: validate, run the tool, stream and store findings.
func runTask(ctx context.Context, g *globalOptions, d *tool.Definition, opts *taskOptions, args []string) error {
	targets, where, err := collectTargets(g, opts.InputFile, args)
	if err != nil {
		return err
	}
	parsed, err := task.CheckTargets(targets)
	if err != nil {
		var rt *task.RejectedTargetError
		if errors.As(err, &rt) {
			if i := slices.Index(targets, rt.Target); i >= 0 && where(i) != "" {
				err = fmt.Errorf("%s: %w", where(i), err)
			}
		}
		return usageError{withHint(err, "targets are values, never flags; put unusual ones in a file with -i")}
	}
	if !slices.ContainsFunc(parsed, func(t target.Target) bool { return d.Accepts(t.Type) }) {
		return usageError{fmt.Errorf("%s: %w (it accepts %s)", d.Name, task.ErrNoTargets, d.InputList())}
	}
	memLimit, err := parseBytes(opts.MemoryLimit)
	if err != nil {
		return usagef("--memory-limit: %v", err)
	}
	rawLimit, err := parseRawLimit(opts.RawLimit)
	if err != nil {
		return usageError{withHint(fmt.Errorf("--raw-limit: %w", err), "give a size such as 100MiB or 1GiB, or 0 to keep no raw output")}
	}
	if err := d.CheckOptions(opts.Values); err != nil {
		return usageError{err}
	}
	// The tool runs in its task directory: paths the user typed relative to
	// where they are must reach it absolute.
	for i, t := range parsed {
		if t.Type == target.Path {
			targets[i] = absPath(t.Value)
		}
	}
	for name, vs := range opts.Values {
		if o, _ := d.Option(name); o.Path {
			for i, v := range vs {
				vs[i] = absPath(v)
			}
		}
	}
	if opts.Detach && !g.engine.remote() {
		return usageError{withHint(errors.New("--detach needs a server: a local run lives in this process"), "start one with \"sortie server\" and workers with \"sortie worker --server URL\", then pass --server URL")}
	}
	if !engine.ValidName(opts.Pool) {
		return usagef("--pool %q: a pool name is letters, digits, - and _", opts.Pool)
	}
	if opts.ChunkSize < 0 {
		return usagef("--chunk-size %d: must be 0 (the tool's default) or more", opts.ChunkSize)
	}
	version := ""
	if !g.engine.remote() {
		// Local mode runs the tool here: a missing binary is an error now,
		// not a failed chunk later.
		in, err := newInstaller(g)
		if err != nil {
			return err
		}
		bin, err := in.Locate(d)
		if err != nil {
			if cmd := install.InstallCommand(d); cmd != "" {
				return withHint(err, fmt.Sprintf("%s installs %s", cmd, install.RecipeString(d)))
			}
			return err
		}
		version = cachedVersion(ctx, bin, d)
	}
	chunkSize := opts.ChunkSize
	if chunkSize == 0 {
		chunkSize = d.ChunkSize
	}
	plan := engine.TaskPlan{
		ID: "1", Tool: d.Name, Pool: opts.Pool, Targets: targets, Options: opts.Values, ChunkSize: chunkSize,
		Timeout: opts.TaskTimeout, MemoryLimit: memLimit, StopGrace: opts.StopGrace,
	}
	meta := &report.Meta{Kind: "task", Tool: d.Name, Targets: targets, Options: redactOptions(d, opts.Values), ToolVersion: version}
	return startRun(ctx, g, opts.Out, opts.Detach, opts.Concurrency, rawLimit, meta, plan)
}

// collectTargets reads targets from the arguments, a file, or stdin when
// neither is given and stdin is not a terminal. where(i) tells where the
// i-th target came from ("targets.txt line 3"), or "" for an argument.
func collectTargets(g *globalOptions, file string, args []string) (targets []string, where func(int) string, err error) {
	targets = append([]string(nil), args...)
	var lines []int // line numbers of the targets after the arguments
	var r io.Reader
	name := file
	switch {
	case file == "-":
		r, name = g.stdin, "stdin"
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("input file: %w", err)}
		}
		defer f.Close()
		r = f
	case len(args) == 0 && !isTerminal(g.stdin):
		r, name = g.stdin, "stdin"
	}
	where = func(i int) string {
		if i < len(args) || i-len(args) >= len(lines) {
			return ""
		}
		return fmt.Sprintf("%s line %d", termsafe.Clean(name), lines[i-len(args)])
	}
	if r != nil {
		n, lineNo := 0, 0
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lineNo++
			line := sc.Text()
			if lineNo == 1 {
				line = strings.TrimPrefix(line, "\ufeff") // a byte order mark starts the file, not the target
			}
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			targets = append(targets, line)
			lines = append(lines, lineNo)
			n++
		}
		if err := sc.Err(); err != nil {
			return nil, nil, usageError{fmt.Errorf("read targets from %s: %w", name, err)}
		}
		if n == 0 && file != "" {
			return nil, nil, usageError{fmt.Errorf("input file %s has no targets", name)}
		}
	}
	if len(targets) == 0 {
		return nil, nil, usageError{withHint(errors.New("no targets"), "give targets as arguments, with -i FILE, or on stdin")}
	}
	return targets, where, nil
}

// openRunDir creates the directory of run id: --out DIR, or one named after
// the run under the data directory. --out must be a new directory or an
// empty one of the user's: a directory that already holds a run, or other
// files (links planted there among them), is refused.
func openRunDir(out, id string) (*report.Dir, error) {
	if out == "" {
		root, err := report.RunsDir()
		if err != nil {
			return nil, err
		}
		return report.Create(root, id)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	if m, err := report.ReadMeta(abs); err == nil {
		return nil, usageError{withHint(fmt.Errorf("%s already holds run %s (%s)", out, m.ID, m.Tool), "choose a new directory with --out DIR")}
	}
	d, err := report.CreateOut(abs)
	return d, outDirError(err)
}

// outDirError makes a refused --out directory a usage error with a hint.
func outDirError(err error) error {
	if errors.Is(err, report.ErrOutDir) {
		return usageError{withHint(fmt.Errorf("--out: %w", err), "give --out a new directory (sortie creates it) or an empty one you own")}
	}
	return err
}

// absPath makes a path absolute, expanding a leading "~".
func absPath(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// redactOptions hides sensitive option values for run.json.
func redactOptions(d *tool.Definition, values map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range values {
		if d.IsSensitive(k) {
			v = []string{"[REDACTED]"}
		}
		out[k] = v
	}
	return out
}

// parseBytes reads sizes like 512MiB, 2GiB, 1G, 100000.
// parseRawLimit parses --raw-limit into task.Spec.RawLimit: "0" keeps no
// raw copy (-1).
func parseRawLimit(s string) (int64, error) {
	if strings.TrimSpace(s) == "0" {
		return -1, nil
	}
	if s == "" {
		return 0, nil // the default
	}
	return parseBytes(s)
}

func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	// !(n > 0) also refuses NaN; a size past int64 would wrap negative.
	if err != nil || !(n > 0) || n*float64(mult) >= 1<<63 {
		return 0, fmt.Errorf("%q is not a size (try 512MiB or 2GiB)", s)
	}
	return int64(n * float64(mult)), nil
}
