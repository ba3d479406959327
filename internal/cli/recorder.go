package cli

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
)

// recorder is what `sortie x` and `sortie import` share: a run directory,
// its findings file and metadata, and the printer showing new findings.
type recorder struct {
	dir     *report.Dir
	fw      *report.FindingsWriter
	meta    *report.Meta
	printer printer
	// writeErr is the first error writing a finding, outErr the first
	// error showing one (a closed pipe): either stops the task, since its
	// findings can no longer be kept or seen.
	writeErr error
	stop     context.CancelCauseFunc

	mu     sync.Mutex // guards outErr: a timed flush of stdout can set it
	outErr error
}

// outputFailed records that stdout is gone and stops the run.
func (r *recorder) outputFailed(err error) {
	r.mu.Lock()
	first := r.outErr == nil
	if first {
		r.outErr = err
	}
	r.mu.Unlock()
	if first {
		r.stop(err)
	}
}

// outputErr is the error that closed stdout, if any.
func (r *recorder) outputErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outErr
}

// startRecorder opens the run directory (--out, or a new one) and writes the
// initial metadata. meta's ID, Started, State and Sortie are filled here.
// stop is called when findings can no longer be stored or shown.
func startRecorder(g *globalOptions, out string, stop context.CancelCauseFunc, meta *report.Meta) (*recorder, error) {
	id := meta.ID
	if id == "" {
		id = report.NewRunID(time.Now())
	}
	dir, err := openRunDir(out, id)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, withHint(err, "choose another directory with --out DIR")
	}
	if out != "" {
		indexRunDir(g, dir)
	}
	meta.ID, meta.State, meta.Started, meta.Sortie = id, "running", time.Now().UTC(), version()
	fw, err := report.CreateFindings(dir.File(report.FindingsFile))
	if err != nil {
		return nil, err
	}
	return newRecorder(g, dir, fw, stop, meta)
}

// openRecorder records into an existing run directory: findings already in
// its findings.jsonl are kept and not shown again (runs resume, attach).
func openRecorder(g *globalOptions, dir *report.Dir, stop context.CancelCauseFunc, meta *report.Meta) (*recorder, error) {
	fw, err := report.OpenFindings(dir.File(report.FindingsFile))
	if err != nil {
		return nil, err
	}
	return newRecorder(g, dir, fw, stop, meta)
}

// newRecorder writes the run's metadata and starts its printer.
func newRecorder(g *globalOptions, dir *report.Dir, fw *report.FindingsWriter, stop context.CancelCauseFunc, meta *report.Meta) (*recorder, error) {
	if err := dir.WriteMeta(meta); err != nil {
		fw.Close()
		return nil, err
	}
	r := &recorder{dir: dir, fw: fw, meta: meta, stop: stop}
	r.printer = newPrinter(g, r.outputFailed)
	verb := "running"
	if meta.Kind == "import" {
		verb = "importing"
	}
	r.printer.Start(verb, meta.Tool, meta.ID)
	return r, nil
}

// scope is the scope findings of this run are stamped with (sortie import).
func (r *recorder) scope() finding.Scope {
	// One task per run for now: its id is derived from the run's.
	return finding.Scope{Run: r.meta.ID, Task: r.meta.ID + "/1", Source: finding.Source{Tool: r.meta.Tool}}
}

// emit stores a stamped finding and shows it if it is new.
func (r *recorder) emit(f finding.Finding) {
	line, isNew, err := r.fw.WriteLine(f)
	if err != nil && r.writeErr == nil {
		r.writeErr = err
		r.stop(err)
	}
	if isNew && r.outputErr() == nil {
		if err := r.printer.Finding(f, line); err != nil {
			r.outputFailed(err)
		}
	}
}

// finish closes the findings file, writes the final metadata (state, reason,
// counts, duration) and prints the summary.
func (r *recorder) finish(state, reason string, garbage int) error {
	closeErr := r.fw.Close()
	now := time.Now().UTC()
	m := r.meta
	m.State, m.Reason, m.Finished = state, reason, &now
	m.DurationMS = now.Sub(m.Started).Milliseconds()
	m.Counts, m.Garbage = r.fw.Counts(), garbage
	metaErr := r.dir.WriteMeta(m)
	r.printer.Summary(summary{State: state, Reason: reason, Counts: m.Counts,
		Duration: now.Sub(m.Started), Dir: r.dir.Path, Garbage: garbage})
	return errors.Join(r.writeErr, closeErr, metaErr)
}
