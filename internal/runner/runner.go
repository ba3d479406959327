// Package runner supervises one tool subprocess: it starts the process from
// an argv (never through a shell) in its own process group, streams its
// stdout and stderr line by line to callbacks, enforces a wall-clock timeout
// and a soft memory limit on the whole process tree, and stops the tree with
// an escalation (SIGINT, then SIGTERM, then SIGKILL) when the context is
// cancelled or a limit is exceeded.
//
// The package knows nothing about tools or findings and never assumes a
// terminal: everything it learns about the run is in [Result], and the
// output only ever reaches the caller through [Spec.OnStdout] and
// [Spec.OnStderr]. Any number of [Run] calls may proceed concurrently. Its
// one process-wide effect: the first Run makes the process a child
// subreaper (see below).
//
// # Process tree
//
// The tool is the leader of a new process group and every stop signal goes
// to the whole group. Once the tool process itself has exited, the whole
// tree of the Run is killed with SIGKILL before the tool is reaped, so a
// finished Run leaves no process behind: the group, every descendant found
// through parent ids (one that called setsid or setpgid included), and the
// orphans of the tree. For those, the process is a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER): a descendant whose parent exits (a double
// fork) is re-parented to it rather than to init, and carries the Run's
// marker, an environment variable (SORTIE_RUNNER_TREE) with a value unique
// to the Run, so that concurrent Runs each kill only their own. Killed
// orphans, and those of the tree that had already exited (zombies of the
// group, or processes the memory sampler saw), are reaped by pid (waitid on
// that pid, never a wildcard, so an exec.Cmd's status is never taken); pids
// are checked against their start time and signalled through a pidfd, so a
// reused pid is never killed.
//
// Limits: a process that clears its environment (or changes user) and
// whose parent exits escapes; if it still holds the output pipes, Run stops
// waiting for them after [Spec.WaitDelay] (output already in the pipes is
// still delivered). An orphan that made itself a group leader (setsid,
// setpgid) and exited on its own before any scan saw it cannot be told from
// a child this process started, so it stays a zombie until this process
// exits; other exited orphans are reaped (see procScanner.strays).
//
// The package is Linux only: it reads /proc to measure memory and find
// the tree.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Spec describes one execution of a tool. The zero value is not usable:
// Path and Dir are required.
type Spec struct {
	// Path is the executable. A name without a slash is looked up in the
	// runner's own $PATH (not in Env). Required.
	Path string

	// Args are the arguments after argv[0]. They are passed as they are; no
	// shell ever interprets them.
	Args []string

	// Dir is the working directory of the tool. Tools write resume and state
	// files there. Required; it must be an existing directory.
	Dir string

	// Env is the environment of the tool, to which the runner adds only its
	// marker variable (SORTIE_RUNNER_TREE, see the package comment); the
	// runner's own environment is not inherited. Defaults to a minimal
	// environment: PATH (the runner's), HOME=Dir and LANG=C.
	Env []string

	// Stdin is the tool's standard input. An *os.File is passed to the tool
	// directly; any other reader is copied through a pipe, and Run stops
	// waiting for that copy WaitDelay after the tool has exited. Defaults to
	// /dev/null.
	Stdin io.Reader

	// Timeout is the wall-clock limit, counted from the start of the
	// process. When it expires the process group is stopped and the result
	// has ReasonTimeout. Defaults to 0, no limit.
	Timeout time.Duration

	// MemoryLimit is a soft limit in bytes on the summed resident set size
	// of the process tree (the process group and every descendant found
	// through parent ids), sampled every MemorySampleInterval. When a sample
	// exceeds it the process group is stopped and the result has
	// ReasonMemory. Shared pages are counted once per process, so the sum
	// overestimates. Defaults to 0, no limit.
	MemoryLimit int64

	// MemorySampleInterval is the period of the /proc scan that measures
	// the tree's memory (for MemoryLimit and Result.PeakRSS); the first
	// scan comes one period after the start. Defaults to 200ms.
	MemorySampleInterval time.Duration

	// InterruptGrace is how long the process group has to exit after SIGINT
	// before it gets SIGTERM. Defaults to 2s.
	InterruptGrace time.Duration

	// TerminateGrace is how long the process group has to exit after
	// SIGTERM before it gets SIGKILL. Defaults to 3s.
	TerminateGrace time.Duration

	// WaitDelay bounds how long Run waits, after the tool has exited and
	// its group has been killed, for the output pipes to reach end of file
	// (and for a Stdin copy to finish). A process that escaped the group can
	// hold them open; after WaitDelay Run still delivers what is buffered in
	// the pipes, but stops reading as soon as they are empty. Defaults to 2s.
	WaitDelay time.Duration

	// MaxLineBytes is the longest line delivered, in bytes, not counting the
	// newline and an optional carriage return before it. A longer line is
	// counted in Result.LongLines and discarded without being buffered, so
	// memory stays bounded. Defaults to 4 MiB.
	MaxLineBytes int

	// TailLines is how many of the last delivered lines of each stream are
	// kept in Result.StdoutTail and Result.StderrTail for error reports.
	// Lines in a tail are cut to 4 KiB. Defaults to 20.
	TailLines int

	// OnStdout is called for every complete line of standard output that
	// is valid UTF-8 without control characters other than tab, without the
	// newline and a carriage return before it. The slice is only valid
	// during the call. Callbacks are never called concurrently with each
	// other, and never after Run has returned. Defaults to nil: lines are
	// only counted.
	OnStdout func(line []byte)

	// OnStderr is OnStdout for standard error. Defaults to nil.
	OnStderr func(line []byte)
}

const (
	defaultMemorySampleInterval = 200 * time.Millisecond
	defaultInterruptGrace       = 2 * time.Second
	defaultTerminateGrace       = 3 * time.Second
	defaultWaitDelay            = 2 * time.Second
	defaultMaxLineBytes         = 4 << 20
	defaultTailLines            = 20
	defaultPath                 = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

func (s Spec) withDefaults() Spec {
	if s.MemorySampleInterval == 0 {
		s.MemorySampleInterval = defaultMemorySampleInterval
	}
	if s.InterruptGrace == 0 {
		s.InterruptGrace = defaultInterruptGrace
	}
	if s.TerminateGrace == 0 {
		s.TerminateGrace = defaultTerminateGrace
	}
	if s.WaitDelay == 0 {
		s.WaitDelay = defaultWaitDelay
	}
	if s.MaxLineBytes == 0 {
		s.MaxLineBytes = defaultMaxLineBytes
	}
	if s.TailLines == 0 {
		s.TailLines = defaultTailLines
	}
	return s
}

// validate reports every problem of s at once.
func (s Spec) validate() error {
	var errs []error
	if s.Path == "" {
		errs = append(errs, errors.New("spec.Path is empty"))
	}
	if s.Dir == "" {
		errs = append(errs, errors.New("spec.Dir is empty"))
	} else if fi, err := os.Stat(s.Dir); err != nil {
		errs = append(errs, fmt.Errorf("spec.Dir: %w", err))
	} else if !fi.IsDir() {
		errs = append(errs, fmt.Errorf("spec.Dir %s is not a directory", s.Dir))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"Timeout", s.Timeout},
		{"MemorySampleInterval", s.MemorySampleInterval},
		{"InterruptGrace", s.InterruptGrace},
		{"TerminateGrace", s.TerminateGrace},
		{"WaitDelay", s.WaitDelay},
	} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("spec.%s is negative (%v)", d.name, d.d))
		}
	}
	if s.MemoryLimit < 0 {
		errs = append(errs, fmt.Errorf("spec.MemoryLimit is negative (%d)", s.MemoryLimit))
	}
	if s.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("spec.MaxLineBytes is negative (%d)", s.MaxLineBytes))
	}
	if s.TailLines < 0 {
		errs = append(errs, fmt.Errorf("spec.TailLines is negative (%d)", s.TailLines))
	}
	if len(errs) > 0 {
		return fmt.Errorf("runner: invalid spec: %w", errors.Join(errs...))
	}
	return nil
}

// env returns the environment of the tool.
func (s Spec) env() []string {
	if s.Env != nil {
		return s.Env
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	home := s.Dir
	if abs, err := filepath.Abs(home); err == nil {
		home = abs
	}
	return []string{"PATH=" + path, "HOME=" + home, "LANG=C"}
}

// Reason tells why the tool process ended.
type Reason string

const (
	// ReasonCompleted: the tool exited by itself, with any exit code.
	ReasonCompleted Reason = "completed"
	// ReasonTimeout: the tool was stopped because Spec.Timeout expired.
	ReasonTimeout Reason = "timeout"
	// ReasonMemory: the tool was stopped because the tree exceeded
	// Spec.MemoryLimit.
	ReasonMemory Reason = "memory"
	// ReasonCancelled: the tool was stopped, or never started, because the
	// context was done.
	ReasonCancelled Reason = "cancelled"
	// ReasonFailed: the tool could not be started; Run returns an error.
	ReasonFailed Reason = "failed"
)

// Result describes a finished run. Line counters add up both streams unless
// their name says otherwise.
type Result struct {
	// Reason tells why the tool ended. A stop requested while the tool was
	// already exiting by itself still counts as a stop.
	Reason Reason
	// Cause is context.Cause of the context for ReasonCancelled, nil
	// otherwise.
	Cause error
	// ExitCode is the tool's exit status, or -1 if it was killed by a signal
	// or never started.
	ExitCode int
	// Signal is the name of the signal that killed the tool ("SIGKILL"), or
	// empty.
	Signal string
	// Started reports whether the process was started.
	Started bool
	// Duration runs from the start of the process until the tool process
	// exited.
	Duration time.Duration
	// PeakRSS is the largest sampled resident set size of the process tree,
	// in bytes. Processes shorter than MemorySampleInterval may be missed.
	PeakRSS int64

	// StdoutLines and StderrLines count the lines delivered to the
	// callbacks (whether or not a callback was set).
	StdoutLines, StderrLines int
	// InvalidLines counts complete lines skipped because they were not
	// valid UTF-8 or contained C0 control characters other than tab, or DEL.
	InvalidLines int
	// LongLines counts lines skipped because they exceeded MaxLineBytes.
	LongLines int
	// StdoutSkipped is the part of InvalidLines and LongLines that came
	// from standard output, the stream callers usually parse.
	StdoutSkipped int
	// PartialLine reports that a stream ended with bytes after its last
	// newline. Such a line is never delivered.
	PartialLine bool
	// StdoutTail and StderrTail hold the last TailLines delivered lines of
	// each stream, oldest first.
	StdoutTail, StderrTail []string

	// Escalation lists the signals sent to the process group, in order,
	// e.g. ["SIGINT", "SIGTERM"]. The SIGKILL that reaps leftovers after the
	// tool exited is not listed.
	Escalation []string
}

// ErrNotFound reports that the tool binary does not exist, so that callers
// can print how to install it. errors.Is also matches it with
// exec.ErrNotFound.
var ErrNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string        { return "executable not found" }
func (notFoundError) Is(target error) bool { return target == exec.ErrNotFound }

// startError wraps an error from exec; a missing binary (not in $PATH, or
// ENOENT from execve) becomes ErrNotFound.
func startError(path string, err error) error {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("runner: start %s: %w (%w)", path, ErrNotFound, err)
	}
	return fmt.Errorf("runner: start %s: %w", path, err)
}

// Run starts the tool described by spec and supervises it until it has
// exited and its output has been delivered.
//
// The returned error is non-nil only when the tool could not be run at all
// (invalid spec, missing binary, start failure); the Result then has
// ReasonFailed, and errors.Is(err, ErrNotFound) tells a missing binary. A
// tool that exits non-zero is not an error: Result.ExitCode says how it
// exited and the caller decides.
//
// When ctx is done, Timeout expires or MemoryLimit is exceeded, Run sends
// SIGINT to the process group, then SIGTERM after InterruptGrace, then
// SIGKILL after TerminateGrace, stopping as soon as the tool exits. A ctx
// that is already done when Run is called starts nothing.
func Run(ctx context.Context, spec Spec) (Result, error) {
	spec = spec.withDefaults()
	res := Result{ExitCode: -1}
	if err := spec.validate(); err != nil {
		res.Reason = ReasonFailed
		return res, err
	}
	if ctx.Err() != nil {
		res.Reason = ReasonCancelled
		res.Cause = context.Cause(ctx)
		return res, nil
	}

	p, err := start(spec)
	if err != nil {
		res.Reason = ReasonFailed
		return res, err
	}
	res.Started = true
	p.supervise(ctx, &res)
	p.finish(&res)
	return res, nil
}

// process is one started tool and the goroutines that serve it.
type process struct {
	spec  Spec
	cmd   *exec.Cmd
	pgid  int
	tree  tree // the processes of this Run, escaped ones included
	start time.Time

	outR, errR  *pipeReader   // read ends of the output pipes
	out, errOut *lineStream   // line splitters of stdout and stderr
	readers     chan struct{} // closed when both splitters have returned

	stdinW    *os.File      // write end of the stdin pipe, nil if none
	stdinDone chan struct{} // closed when the stdin copy has returned

	exited chan struct{} // closed when the tool process has exited (not reaped)

	stopSampler chan struct{} // closed to stop the memory sampler
	overLimit   chan struct{} // closed by the sampler when MemoryLimit is exceeded
	sampled     chan sample   // receives the peak RSS and the processes seen when the sampler returns
}

// start creates the pipes and starts the process. On error nothing is left
// open or running.
func start(spec Spec) (p *process, err error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	if cmd.Err != nil {
		return nil, startError(spec.Path, cmd.Err)
	}
	cmd.Dir = spec.Dir
	// The marker lets Run tell its own escaped processes from another
	// Run's among the orphans re-parented to this process. Without a
	// subreaper (prctl refused) orphans go to init: a process that left the
	// group and whose parent exited is then out of reach.
	_ = becomeSubreaper()
	marker := newMarker()
	cmd.Env = append(spec.env(), marker)
	// Pdeathsig: if sortie itself is SIGKILLed (an OOM kill, a worker's
	// eviction past its grace), the tool must not run on unsupervised.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	// Everything opened here is closed on error; the child's ends are
	// closed in the parent as soon as the child has them.
	var parentEnds, childEnds []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
		if err != nil {
			for _, f := range parentEnds {
				f.Close()
			}
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("runner: pipe: %w", err)
		}
		return r, w, nil
	}

	p = &process{spec: spec, cmd: cmd, readers: make(chan struct{}), exited: make(chan struct{})}
	outR, outW, err := pipe()
	if err != nil {
		return nil, err
	}
	parentEnds, childEnds = append(parentEnds, outR), append(childEnds, outW)
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	parentEnds, childEnds = append(parentEnds, errR), append(childEnds, errW)
	p.outR, p.errR = &pipeReader{f: outR}, &pipeReader{f: errR}
	cmd.Stdout, cmd.Stderr = outW, errW // *os.File: passed as is, no copying goroutine

	switch in := spec.Stdin.(type) {
	case nil:
		// exec opens /dev/null.
	case *os.File:
		cmd.Stdin = in
	default:
		inR, inW, err := pipe()
		if err != nil {
			return nil, err
		}
		parentEnds, childEnds = append(parentEnds, inW), append(childEnds, inR)
		cmd.Stdin = inR
		p.stdinW = inW
	}

	// The death signal follows the thread that forked, not the process:
	// keep this goroutine on its thread so the thread outlives the start.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, startError(spec.Path, err)
	}
	p.start = time.Now()
	p.pgid = cmd.Process.Pid
	p.tree = tree{pgid: p.pgid, marker: []byte(marker)}

	var mu sync.Mutex // serialises the callbacks
	p.out = newLineStream(spec.MaxLineBytes, spec.TailLines, spec.OnStdout, &mu)
	p.errOut = newLineStream(spec.MaxLineBytes, spec.TailLines, spec.OnStderr, &mu)
	var wg sync.WaitGroup
	wg.Go(func() { p.out.run(p.outR) })
	wg.Go(func() { p.errOut.run(p.errR) })
	go func() {
		wg.Wait()
		close(p.readers)
	}()

	if p.stdinW != nil {
		p.stdinDone = make(chan struct{})
		go func() {
			defer close(p.stdinDone)
			// The error is ignored: EPIPE just means the tool stopped
			// reading, and a closed pipe means the tool has exited.
			_, _ = io.Copy(p.stdinW, spec.Stdin)
			p.stdinW.Close()
		}()
	}

	go func() {
		// On error (which should not happen) the tool is treated as exited:
		// finish kills the group and reaps it.
		_ = waitExited(p.pgid)
		close(p.exited)
	}()

	p.stopSampler = make(chan struct{})
	p.overLimit = make(chan struct{})
	p.sampled = make(chan sample, 1)
	go func() {
		p.sampled <- sampleMemory(p.tree, spec.MemorySampleInterval, spec.MemoryLimit, p.stopSampler, p.overLimit)
	}()
	return p, nil
}

// supervise waits for the tool to exit, running the stop escalation if ctx is
// done, the timeout expires or the memory limit is exceeded first.
func (p *process) supervise(ctx context.Context, res *Result) {
	var timeout <-chan time.Time
	if p.spec.Timeout > 0 {
		t := time.NewTimer(p.spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	done, overLimit := ctx.Done(), (<-chan struct{})(p.overLimit)

	var grace *time.Timer
	var graceC <-chan time.Time
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	signal := func(sig syscall.Signal) {
		// The tool has not been reaped yet, so pgid still names its group.
		// ESRCH cannot happen while the leader is a zombie; other errors
		// leave nothing to do but go on escalating.
		_ = syscall.Kill(-p.pgid, sig)
		res.Escalation = append(res.Escalation, signalName(sig))
	}
	stop := func(reason Reason) {
		res.Reason = reason
		done, timeout, overLimit = nil, nil, nil
		signal(syscall.SIGINT)
		grace = time.NewTimer(p.spec.InterruptGrace)
		graceC = grace.C
	}

	for {
		select {
		case <-p.exited:
			return
		case <-done:
			res.Cause = context.Cause(ctx)
			stop(ReasonCancelled)
		case <-timeout:
			stop(ReasonTimeout)
		case <-overLimit:
			stop(ReasonMemory)
		case <-graceC:
			if len(res.Escalation) == 1 {
				signal(syscall.SIGTERM)
				grace.Reset(p.spec.TerminateGrace)
			} else {
				signal(syscall.SIGKILL)
				graceC = nil
			}
		}
	}
}

// finish runs after the tool process has exited: it kills what is left of
// the group, reaps the tool and collects the output.
func (p *process) finish(res *Result) {
	res.Duration = time.Since(p.start)
	if res.Reason == "" {
		res.Reason = ReasonCompleted
	}

	// Shutdown order:
	//  1. Stop the memory sampler: the processes it saw are part of the
	//     tree even if they have exited since (a zombie's environment
	//     cannot be read).
	//  2. SIGKILL the group while the tool is an unreaped zombie, so the
	//     pgid cannot have been reused by an unrelated group; then SIGKILL
	//     every other process of the tree (see killTree): descendants that
	//     left the group (setsid) and orphans re-parented to this process
	//     that carry the Run's marker (a double fork).
	//  3. Reap the tool; then reap the killed processes that are now this
	//     process's children, each by its pid, so no zombie is left and no
	//     other exec.Cmd's status is taken. Those not dead after WaitDelay
	//     are left to a goroutine that keeps trying for a minute.
	//  4. Close our stdin end, then wait for the pipes to reach EOF (the
	//     killed grandchildren close them) for at most WaitDelay; after that
	//     the readers drain what is buffered and stop, so an escaped process
	//     cannot hang us.
	//  5. Wait for the splitters, so no callback runs after Run returns,
	//     then close the read ends.
	close(p.stopSampler)
	sampled := <-p.sampled
	res.PeakRSS = sampled.peak

	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	var scan procScanner
	victims := killTree(&scan, p.tree, sampled.seen)
	_ = p.cmd.Wait() // the status is in ProcessState; *ExitError adds nothing
	if rest := reapKilled(victims, time.Now().Add(p.spec.WaitDelay)); len(rest) > 0 {
		// Killed but slow to die: reaped in the background, for a while.
		go reapKilled(rest, time.Now().Add(time.Minute))
	}
	if ps := p.cmd.ProcessState; ps != nil {
		res.ExitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = signalName(ws.Signal())
		}
	}

	if p.stdinW != nil {
		p.stdinW.Close() // unblocks a copy blocked writing to the pipe
	}
	delay := time.NewTimer(p.spec.WaitDelay)
	defer delay.Stop()
	expired := false
	select {
	case <-p.readers:
	case <-delay.C:
		expired = true
		p.outR.stopWaiting()
		p.errR.stopWaiting()
	}
	<-p.readers
	p.outR.f.Close()
	p.errR.f.Close()
	if p.stdinDone != nil && !expired {
		// The copy returns at once unless it is blocked reading from
		// Spec.Stdin, which only the caller can unblock.
		select {
		case <-p.stdinDone:
		case <-delay.C:
		}
	}

	res.StdoutLines, res.StderrLines = p.out.lines, p.errOut.lines
	res.InvalidLines = p.out.invalid + p.errOut.invalid
	res.LongLines = p.out.long + p.errOut.long
	res.StdoutSkipped = p.out.invalid + p.out.long
	res.PartialLine = p.out.partial || p.errOut.partial
	res.StdoutTail, res.StderrTail = p.out.tail.strings(), p.errOut.tail.strings()
}
