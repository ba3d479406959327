// Package task runs one tool over a list of targets: it validates and filters
// the targets, builds the tool's command, supervises it through the runner,
// parses its output into stamped findings as they arrive, and decides the
// task's final state. The CLI calls it for `sortie x`; a worker will call it
// for one chunk of a distributed task.
package task

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/redact"
	"github.com/sortie-sec/sortie/internal/runner"
	"github.com/sortie-sec/sortie/internal/safefile"
	"github.com/sortie-sec/sortie/internal/target"
	"github.com/sortie-sec/sortie/internal/tool"
)

// State is a task's final state.
type State string

const (
	StateDone      State = "done"
	StatePartial   State = "partial"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Spec describes one task.
type Spec struct {
	Tool *tool.Definition
	// Binary is the resolved path of the tool's executable.
	Binary string
	// Targets as given by the user; they are validated and filtered here.
	Targets []string
	// Options by name, as strings; validated against the tool's options.
	Options map[string][]string
	// Dir is the task's working directory, also the tool's HOME (tools
	// write resume files there). It must exist.
	Dir string
	// RawDir, when set, receives the raw output: stdout.txt, stderr.txt and
	// the tool's output file.
	RawDir string
	Scope  finding.Scope
	// Timeout is the task's wall-clock limit. Defaults to none.
	Timeout time.Duration
	// MemoryLimit is a soft limit on the tool tree's RSS, in bytes. It
	// also bounds OutputLimit. Defaults to none.
	MemoryLimit int64
	// OutputLimit bounds, in bytes, a whole document sortie holds in memory
	// to parse it: the stdout of a tool that prints one document (the tool
	// is stopped when it is reached) and a report file read after the tool
	// exits. What fits is parsed, and a warning says where it was cut. The
	// smaller of OutputLimit and MemoryLimit applies. Line-based output
	// streams and is not concerned. Defaults to 256 MiB.
	OutputLimit int64
	// RawLimit caps the bytes written to RawDir by the task, all files
	// together; the copy is cut (with a warning) but the findings are
	// parsed from the whole output. A negative value keeps no raw copy.
	// Defaults to 100 MiB.
	RawLimit int64
	// InterruptGrace and TerminateGrace are the stop graces (see runner).
	InterruptGrace, TerminateGrace time.Duration
	// Emit receives every finding, stamped, as soon as it is parsed, with
	// the values of sensitive options masked in every field. It is never
	// called concurrently.
	Emit finding.Emit
	// OnCommand is told each command before it starts, redacted.
	OnCommand func(display string)
}

// Result is the outcome of a task.
type Result struct {
	State State
	// Reason is why the tool stopped: completed, timeout, memory, cancelled,
	// failed (see runner.Reason), or "no-targets".
	Reason   string
	ExitCode int
	Commands []string
	// Skipped are the targets the tool does not accept.
	Skipped  []string
	Parse    tool.ParseStats
	Duration time.Duration
}

// ErrNoTargets means every target was skipped.
var ErrNoTargets = errors.New("no target of a type the tool accepts")

// RejectedTargetError reports a target that can never be run (it looks like a
// flag, holds control characters, ...).
type RejectedTargetError struct {
	Target string
	Err    error
}

func (e *RejectedTargetError) Error() string { return e.Err.Error() }
func (e *RejectedTargetError) Unwrap() error { return e.Err }

// CheckTargets parses every target and reports the first that must be
// rejected. Callers use it to refuse bad input before anything runs.
func CheckTargets(raw []string) ([]target.Target, error) {
	out := make([]target.Target, 0, len(raw))
	for _, r := range raw {
		t, err := target.Parse(r)
		if err != nil {
			return nil, &RejectedTargetError{Target: r, Err: err}
		}
		out = append(out, t)
	}
	return out, nil
}

// Run runs the task to its end. The error is non-nil only when the task could
// not run at all (rejected targets, bad options, missing binary, no usable
// target); findings explaining it are emitted too.
func Run(ctx context.Context, spec Spec) (Result, error) {
	start := time.Now()
	if spec.RawLimit < 0 {
		spec.RawDir = ""
	}
	r := &run{spec: spec, res: Result{State: StateDone}, raw: newRawBudget(spec.RawDir, spec.RawLimit)}
	if spec.Tool != nil {
		r.red = spec.Tool.Secrets(spec.Options)
	}
	err := r.do(ctx)
	// The tool's own files (history, config, resume files under its
	// HOME) must not keep the secrets it was given.
	if serr := scrubDir(spec.Dir, r.red); serr != nil {
		r.emit(&finding.Warning{Message: "the task directory may keep secrets: " + serr.Error()})
	}
	r.res.Duration = time.Since(start)
	return r.res, redactError(err, r.red)
}

type run struct {
	spec Spec
	res  Result
	raw  *rawBudget // the raw copy's cap, over all the tool's runs
	// red masks the values of sensitive options, and what each command
	// rendered from them, in everything the task emits or writes.
	red *redact.Redactor
}

func (r *run) emit(f finding.Finding) {
	// Masked before Stamp: the id is computed from what is kept.
	f = redactFinding(f, r.red)
	finding.Stamp(f, r.spec.Scope, time.Now())
	r.spec.Emit(f)
}

func (r *run) do(ctx context.Context) error {
	d := r.spec.Tool
	targets, err := CheckTargets(r.spec.Targets)
	if err != nil {
		r.res.State, r.res.Reason = StateFailed, "rejected-target"
		return err
	}
	var accepted []string
	seen := map[string]bool{}
	for _, t := range targets {
		if !d.Accepts(t.Type) {
			r.res.Skipped = append(r.res.Skipped, t.Raw)
			r.emit(&finding.Warning{Message: fmt.Sprintf("target %q (%s) skipped: %s accepts %s",
				t.Raw, t.Type, d.Name, d.InputList())})
			continue
		}
		if seen[t.Value] {
			continue
		}
		seen[t.Value] = true
		accepted = append(accepted, t.Value)
		r.emit(&finding.Target{Name: t.Value, TargetType: string(t.Type)})
	}
	if len(accepted) == 0 {
		r.res.State, r.res.Reason = StateFailed, "no-targets"
		return fmt.Errorf("%s: %w (it accepts %s)", d.Name, ErrNoTargets, d.InputList())
	}
	batches := [][]string{accepted}
	if d.SingleTarget {
		batches = batches[:0]
		for _, t := range accepted {
			batches = append(batches, []string{t})
		}
	}
	deadline := time.Time{}
	if r.spec.Timeout > 0 {
		deadline = time.Now().Add(r.spec.Timeout)
	}
	for i, b := range batches {
		if ctx.Err() != nil {
			r.res.State, r.res.Reason = StateCancelled, string(runner.ReasonCancelled)
			break
		}
		dir := r.spec.Dir
		if len(batches) > 1 {
			dir = filepath.Join(r.spec.Dir, fmt.Sprintf("%03d", i+1))
			if err := safefile.EnsureDir(dir, 0o700); err != nil { // in the task's own directory, never a link
				return err
			}
		}
		timeout := time.Duration(0)
		if !deadline.IsZero() {
			timeout = time.Until(deadline)
			if timeout <= 0 {
				r.stopped(runner.ReasonTimeout)
				break
			}
		}
		batch := 0
		if len(batches) > 1 {
			batch = i + 1
		}
		if err := r.invoke(ctx, b, dir, timeout, batch); err != nil {
			return err
		}
		if r.res.State == StateCancelled || r.res.State == StatePartial {
			break
		}
	}
	if msg := r.res.Parse.Summary(d.Name); msg != "" {
		r.emit(&finding.Warning{Message: msg})
	}
	if msg := r.raw.warning(r.spec.RawLimit); msg != "" {
		r.emit(&finding.Warning{Message: msg})
	}
	return nil
}

// invoke runs the tool once over targets.
// batch numbers the runs of a single-target tool from 1; it is 0 when the
// tool runs once over all targets.
func (r *run) invoke(ctx context.Context, targets []string, dir string, timeout time.Duration, batch int) error {
	d := r.spec.Tool
	cmd, err := d.Build(tool.Invocation{Targets: targets, Options: r.spec.Options, Dir: dir})
	if err != nil {
		r.res.State, r.res.Reason = StateFailed, "bad-options"
		return err
	}
	r.red = redact.Merge(r.red, cmd.Redactor())
	r.res.Commands = append(r.res.Commands, cmd.Display)
	if r.spec.OnCommand != nil {
		r.spec.OnCommand(cmd.Display)
	}
	if cmd.OutputFile != "" {
		// A retry in the same directory must not read the previous attempt's
		// report, and some tools (testssl) refuse to overwrite one.
		if err := os.Remove(cmd.OutputFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove old output: %w", err)
		}
	}
	pc := &tool.ParseContext{Targets: targets}
	stdout, stderr, closeRaw, err := r.rawFiles()
	if err != nil {
		return err
	}
	defer closeRaw()
	stdout, stderr = r.raw.lines(stdout), r.raw.lines(stderr)
	// A document on stdout is held in memory up to the output limit; past
	// it the tool is stopped through this context.
	doc := &docBuffer{limit: r.spec.outputLimit()}
	defer doc.release()
	ctx, stopTool := context.WithCancelCause(ctx)
	defer stopTool(nil)

	lp := &tool.LineParser{Def: d, PC: pc, Emit: r.emit}
	streamLines := d.Parse.Line != nil && cmd.OutputFile == ""
	spec := runner.Spec{
		Path: r.spec.Binary, Args: cmd.Argv[1:], Dir: dir,
		Env:     toolEnv(dir, len(d.Install.Apt) > 0),
		Timeout: timeout, MemoryLimit: r.spec.MemoryLimit,
		InterruptGrace: r.spec.InterruptGrace, TerminateGrace: r.spec.TerminateGrace,
		OnStdout: func(line []byte) {
			stdout.Write(r.red.Bytes(line))
			stdout.Write([]byte{'\n'})
			switch {
			case streamLines:
				lp.Feed(line)
			case cmd.OutputFile == "" && d.Parse.Document != nil:
				if !doc.add(line) {
					stopTool(errOutputLimit)
				}
			}
		},
		OnStderr: func(line []byte) {
			stderr.Write(r.red.Bytes(line))
			stderr.Write([]byte{'\n'})
		},
	}
	if cmd.Stdin != nil {
		spec.Stdin = bytes.NewReader(cmd.Stdin)
	}
	rr, err := runner.Run(ctx, spec)
	if err != nil {
		r.res.State, r.res.Reason = StateFailed, string(runner.ReasonFailed)
		return fmt.Errorf("run %s: %w", d.Name, err)
	}
	// The first failing run of a single-target tool decides the exit code
	// reported for the task.
	if r.res.State != StateFailed {
		r.res.ExitCode = rr.ExitCode
	}
	r.addStats(lp.Stats)
	if streamLines || cmd.OutputFile == "" {
		// Only lines of a stream sortie parses count as unreadable output:
		// a coloured banner on stderr is not a parse failure.
		r.addStats(tool.ParseStats{Lines: rr.StdoutSkipped, Garbage: rr.StdoutSkipped})
	}

	// Output written to a file or printed as one document is parsed once the
	// tool has exited, whatever stopped it: a stopped tool's partial output
	// is kept.
	switch {
	case cmd.OutputFile != "":
		r.parseOutputFile(pc, cmd.OutputFile, batch)
	case len(doc.buf) > 0 || doc.cut:
		st, err := tool.ParseDocument(d, pc, doc.buf, r.emit)
		r.addDocument(st, err)
	}
	if doc.cut {
		r.outputCut(int64(len(doc.buf)), -1, true)
	}

	if doc.cut && rr.Reason == runner.ReasonCancelled && errors.Is(rr.Cause, errOutputLimit) {
		// Stopped by us, not cancelled: partial, said by outputCut.
		if r.res.State != StateFailed {
			r.res.State = StatePartial
		}
		r.res.Reason = "output-limit"
		return nil
	}
	switch rr.Reason {
	case runner.ReasonTimeout, runner.ReasonMemory:
		r.stopped(rr.Reason)
	case runner.ReasonCancelled:
		r.emit(&finding.Warning{Message: fmt.Sprintf("%s was stopped (cancelled); the findings so far are kept", d.Name)})
		r.res.State, r.res.Reason = StateCancelled, string(rr.Reason)
	default:
		if r.res.State == StateFailed {
			break // an earlier target's failure stays the task's outcome
		}
		r.res.Reason = string(rr.Reason)
		if !d.OKExit(rr.ExitCode) {
			r.res.State, r.res.Reason = StateFailed, "exit-code"
			tail := rr.StderrTail
			if len(tail) == 0 {
				tail = rr.StdoutTail
			}
			// Tools echo their arguments in error messages: emit masks
			// secrets in every field, the tail included.
			msg := fmt.Sprintf("%s exited with code %d", d.Name, rr.ExitCode)
			if rr.Signal != "" {
				msg = fmt.Sprintf("%s was killed by %s", d.Name, rr.Signal)
			}
			r.emit(&finding.Error{Message: msg, ExitCode: rr.ExitCode, OutputTail: tail})
		}
	}
	return nil
}

// stopped records a limit that stopped the tool: a warning, and the task is
// partial (what was parsed is kept).
func (r *run) stopped(reason runner.Reason) {
	what := "its time limit " + r.spec.Timeout.String()
	if reason == runner.ReasonMemory {
		what = fmt.Sprintf("its memory limit of %d MiB", r.spec.MemoryLimit>>20)
	}
	r.emit(&finding.Warning{Message: fmt.Sprintf("%s was stopped after reaching %s; the findings so far are kept", r.spec.Tool.Name, what)})
	if r.res.State != StateFailed {
		r.res.State = StatePartial
	}
	r.res.Reason = string(reason)
}

func (r *run) parseOutputFile(pc *tool.ParseContext, path string, batch int) {
	d := r.spec.Tool
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return // the tool wrote nothing (no result, or stopped before it could)
	}
	if err != nil {
		r.emit(&finding.Error{Message: fmt.Sprintf("read %s output: %v", d.Name, err)})
		return
	}
	defer f.Close()
	if d.Parse.Line == nil {
		// A whole document is read into memory: bounded.
		data, size, err := readDocument(f, r.spec.outputLimit())
		if err != nil {
			r.emit(&finding.Error{Message: fmt.Sprintf("read %s output: %v", d.Name, err)})
			return
		}
		st, err := tool.ParseDocument(d, pc, data, r.emit)
		r.addDocument(st, err)
		if size >= 0 {
			r.outputCut(int64(len(data)), size, false)
		}
	} else {
		st, _ := tool.ParseOutput(d, pc, f, r.emit) // streams line by line
		r.addStats(st)
	}
	if r.spec.RawDir != "" {
		name := filepath.Base(path)
		if batch > 0 { // one report per target: keep them all
			name = fmt.Sprintf("%03d-%s", batch, name)
		}
		r.raw.copyFile(path, filepath.Join(r.spec.RawDir, name), r.red)
	}
}

// addDocument records the parse of a whole report. A report that cannot be
// read to its end (a tool stopped mid-write) is one warning, not a count of
// unreadable lines.
func (r *run) addDocument(st tool.ParseStats, err error) {
	r.res.Parse.Findings += st.Findings
	if err != nil {
		r.emit(&finding.Warning{Message: fmt.Sprintf("%s report could not be read to the end (%v); the %d findings before that point are kept",
			r.spec.Tool.Name, err, st.Findings)})
	}
}

func (r *run) addStats(st tool.ParseStats) {
	p := &r.res.Parse
	p.Lines += st.Lines
	p.Findings += st.Findings
	p.Skipped += st.Skipped
	p.Garbage += st.Garbage
	if p.FirstError == nil {
		p.FirstError = st.FirstError
	}
}

// rawFiles opens the raw output files, or discards when there is no RawDir.
func (r *run) rawFiles() (stdout, stderr io.Writer, closeAll func(), err error) {
	if r.spec.RawDir == "" {
		return io.Discard, io.Discard, func() {}, nil
	}
	open := func(name string) (*os.File, error) {
		return safefile.OpenAppend(filepath.Join(r.spec.RawDir, name), 0o600) // never through a link
	}
	so, err := open("stdout.txt")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("raw output: %w", err)
	}
	se, err := open("stderr.txt")
	if err != nil {
		so.Close()
		return nil, nil, nil, fmt.Errorf("raw output: %w", err)
	}
	return so, se, func() { so.Close(); se.Close() }, nil
}

// toolEnv is the tool's environment: the user's PATH, HOME and XDG
// directories inside the task directory (resume and config files stay with
// the task), no colour. Debian-packaged tools get the system directories
// first in PATH: their wrapper scripts run "python3" and must get the
// system interpreter with its packages, not a pyenv or virtualenv shim.
func toolEnv(dir string, system bool) []string {
	path := os.Getenv("PATH")
	if system {
		path = "/usr/sbin:/usr/bin:/sbin:/bin:" + path
	}
	env := []string{
		"PATH=" + path,
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, ".cache"),
		"TMPDIR=" + dir,
		"LANG=C.UTF-8",
		"NO_COLOR=1",
		"TERM=dumb",
	}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
