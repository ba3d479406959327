package cli

import (
	"errors"
	"path/filepath"
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
	// writeErr is the first error writing a finding; later findings are
	// still shown, and the error is returned by finish.
	writeErr error
}

// startRecorder opens the run directory (--out, or a new one) and writes the
// initial metadata. meta's ID, Started, State and Sortie are filled here.
func startRecorder(g *globalOptions, out string, meta *report.Meta) (*recorder, error) {
	dir, err := openRunDir(out)
	if err != nil {
		return nil, withHint(err, "choose another directory with --out DIR")
	}
	fw, err := report.OpenFindings(dir.File(report.FindingsFile))
	if err != nil {
		return nil, err
	}
	meta.ID, meta.State, meta.Started, meta.Sortie = filepath.Base(dir.Path), "running", time.Now().UTC(), version()
	if err := dir.WriteMeta(meta); err != nil {
		fw.Close()
		return nil, err
	}
	r := &recorder{dir: dir, fw: fw, meta: meta, printer: newPrinter(g)}
	r.printer.Start(meta.Tool, meta.ID)
	return r, nil
}

// scope is the scope findings of this run are stamped with.
func (r *recorder) scope() finding.Scope {
	return finding.Scope{Run: r.meta.ID, Source: finding.Source{Tool: r.meta.Tool}}
}

// emit stores a stamped finding and shows it if it is new.
func (r *recorder) emit(f finding.Finding) {
	isNew, err := r.fw.Write(f)
	if err != nil && r.writeErr == nil {
		r.writeErr = err
	}
	if isNew {
		r.printer.Finding(f)
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
