package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/safefile"
	"github.com/sortie-sec/sortie/internal/termsafe"
)

// pruneStates are the states "runs prune --state" takes.
var pruneStates = []string{"done", "partial", "failed", "cancelled", "interrupted"}

// runFiles are the names sortie writes in a run directory; "runs rm" and
// "runs prune" remove only directories that hold nothing else (and
// temporary files, whose names start with ".").
var runFiles = []string{report.MetaFile, report.FindingsFile, report.CommandFile, report.RawDir, report.WorkDir, "engine"}

// errServerRunsKept is the answer to rm and prune with --server: the engine
// keeps a server's runs, and a client does not delete them.
var errServerRunsKept = usageError{withHint(errors.New("runs on a server are kept by the server: rm and prune remove local runs only"),
	"drop --server to remove local runs (and local copies of server runs made by runs attach)")}

// removable says why the local run in d cannot be removed, or nil.
func removable(d *report.Dir, m *report.Meta) error {
	if err := safefile.CheckDir(d.Path); err != nil {
		return err
	}
	if pid := engine.StoreOwner(d.File("engine")); pid != 0 {
		return withHint(fmt.Errorf("run %s is running (process %d)", m.ID, pid), "sortie runs cancel "+m.ID+" stops it")
	}
	if localState(d, m) == "running" {
		return fmt.Errorf("run %s is running (its run.json says so)", m.ID)
	}
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return err
	}
	var other []string
	for _, e := range entries {
		if !slices.Contains(runFiles, e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			other = append(other, e.Name())
		}
	}
	if len(other) > 0 {
		return withHint(fmt.Errorf("%s holds files sortie does not write: %s", d.Path, strings.Join(other, ", ")),
			"move them out, or remove the directory yourself")
	}
	return nil
}

// removeRun removes the run directory d (checked with removable) and its
// entry in the run index.
func removeRun(d *report.Dir) error {
	if err := os.RemoveAll(d.Path); err != nil {
		return fmt.Errorf("remove %s: %w", d.Path, err)
	}
	return report.RemoveFromIndex(d.Path)
}

func runRunsRemove(_ context.Context, g *globalOptions, opts *runsOptions, args []string) error {
	if g.engine.remote() {
		return errServerRunsKept
	}
	var errs []error
	for _, arg := range args {
		d, m, err := localRun(arg)
		if err == nil {
			err = removable(d, m)
		}
		if err == nil && !opts.DryRun {
			err = removeRun(d)
		}
		if err != nil {
			if len(args) == 1 {
				return err
			}
			errs = append(errs, err)
			continue
		}
		verb := "removed"
		if opts.DryRun {
			verb = "would remove"
		}
		fmt.Fprintf(termsafe.NewWriter(g.stdout), "%s %s  %s\n", verb, m.ID, d.Path)
	}
	if len(errs) > 0 {
		// Usage only when every problem is a run that is not there.
		for _, err := range errs {
			var ue usageError
			if !errors.As(err, &ue) {
				return fmt.Errorf("%d of %d runs not removed:\n%w", len(errs), len(args), errors.Join(errs...))
			}
		}
		return usageError{fmt.Errorf("%d of %d runs not removed:\n%w", len(errs), len(args), errors.Join(errs...))}
	}
	return nil
}

// parseAge reads an age for --older-than: a Go duration (12h, 90m) or a
// number of days (30d).
func parseAge(s string) (time.Duration, error) {
	var (
		d   time.Duration
		err error
	)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		d = time.Duration(days) * 24 * time.Hour
		if days > 36500 { // a hundred years; more would overflow a Duration
			err = errors.New("too long")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, usageError{withHint(fmt.Errorf("--older-than %q: not an age", s), "give days (30d) or a duration (12h, 90m)")}
	}
	return d, nil
}

func runRunsPrune(_ context.Context, g *globalOptions, opts *runsOptions, now time.Time) error {
	if g.engine.remote() {
		return errServerRunsKept
	}
	if opts.OlderThan == "" && len(opts.States) == 0 {
		return usageError{withHint(errors.New("prune needs --older-than AGE and/or --state STATE"), "sortie runs prune --older-than 30d --dry-run shows what would go")}
	}
	var age time.Duration
	if opts.OlderThan != "" {
		var err error
		if age, err = parseAge(opts.OlderThan); err != nil {
			return err
		}
	}
	for _, s := range opts.States {
		if !slices.Contains(pruneStates, s) {
			return usagef("--state %q: want one of %s (running runs are never pruned)", s, strings.Join(pruneStates, ", "))
		}
	}
	out := termsafe.NewWriter(g.stdout)
	n, kept := 0, 0
	for _, r := range localRuns() {
		state := localState(r.dir, r.meta)
		if state == "running" ||
			age > 0 && !r.meta.Started.Before(now.Add(-age)) ||
			len(opts.States) > 0 && !slices.Contains(opts.States, state) {
			continue
		}
		err := removable(r.dir, r.meta)
		if err == nil && !opts.DryRun {
			err = removeRun(r.dir)
		}
		if err != nil {
			kept++
			fmt.Fprintf(g.stderr, "sortie: warning: %s not removed: %s\n", termsafe.Clean(r.meta.ID), termsafe.Clean(err.Error()))
			continue
		}
		n++
		verb := "removed"
		if opts.DryRun {
			verb = "would remove"
		}
		fmt.Fprintf(out, "%s %s  %s  %s  %s\n", verb, r.meta.ID, state, r.meta.Started.Local().Format(time.DateTime), r.dir.Path)
	}
	if !opts.DryRun {
		// Drop the index entries of directories removed by hand.
		if err := report.RemoveFromIndex(); err != nil {
			return err
		}
	}
	if kept > 0 {
		return fmt.Errorf("%d runs matched but were not removed (see the warnings); %d removed", kept, n)
	}
	if n == 0 {
		fmt.Fprintln(g.stderr, "sortie: no run to prune")
	}
	return nil
}
