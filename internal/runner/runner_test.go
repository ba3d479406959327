package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

// The test binary doubles as the fake tool: Spec.Args starts with
// fakeToolArg and a mode, and TestMain runs that mode instead of the tests.
// The mode travels in argv rather than in the environment so that tests can
// run the fake tool with the runner's minimal environment.
const fakeToolArg = "sortie-fake-tool"

// testExe is the absolute path of the test binary.
var testExe string

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == fakeToolArg {
		os.Exit(fakeTool(os.Args[2], os.Args[3:]))
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner test:", err)
		os.Exit(2)
	}
	testExe = exe
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkGoroutines fails if goroutines started by this package outlive the
// tests. Goroutines that have signalled their end may still be on their way
// out, hence the short wait.
func checkGoroutines() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		// The first goroutine is the current one (TestMain).
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n")[1:] {
			if strings.Contains(g, "sortie/internal/runner.") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leaked goroutines:\n\n%s", strings.Join(leaked, "\n\n"))
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeTool runs one behaviour of the fake tool and returns its exit code.
func fakeTool(mode string, args []string) int {
	arg := func(i int) int {
		n, err := strconv.Atoi(args[i])
		if err != nil {
			panic(err)
		}
		return n
	}
	switch mode {
	case "lines": // N lines on stdout
		for i := range arg(0) {
			fmt.Printf("line %d\n", i)
		}
	case "both": // N lines on each stream
		for i := range arg(0) {
			fmt.Printf("out %d\n", i)
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
	case "exit": // a message on stderr, then exit code N
		fmt.Fprintln(os.Stderr, "fatal: something broke")
		return arg(0)
	case "obey-int": // print a last line on SIGINT and exit 130
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		fmt.Println("ready")
		<-c
		fmt.Println("bye")
		return 130
	case "ignore-int":
		signal.Ignore(os.Interrupt)
		fmt.Println("ready")
		time.Sleep(time.Hour)
	case "ignore-int-term":
		signal.Ignore(os.Interrupt, syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
	case "sleep":
		time.Sleep(time.Hour)
	case "grow": // 20 MiB more resident memory every 10ms, up to 1 GiB
		var hog [][]byte
		for len(hog) < 50 {
			b := make([]byte, 20<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hog = append(hog, b)
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Hour)
		runtime.KeepAlive(hog)
	case "partial":
		os.Stdout.WriteString("first\nsecond")
	case "huge": // a line of N bytes, then a normal line
		os.Stdout.Write(bytes.Repeat([]byte{'x'}, arg(0)))
		os.Stdout.WriteString("\nafter\n")
	case "garbage":
		os.Stdout.WriteString("ok 1\n" +
			"\x00\x01\x02\x03\n" + // NUL and C0
			"\xff\xfe\xfd\n" + // not UTF-8
			"\x1b[31mred\x1b[0m\n" + // ESC
			"caf\xc3\xa9\tcr\r\n" + // UTF-8, tab, CRLF: valid
			"c1 \xc2\x85\n" + // U+0085 NEL: valid UTF-8, kept
			"{\"title\":\"a\xc2\x9bb\"}\n" + // U+009B CSI in an httpx page title: kept
			"ok 2\n")
	case "spawn", "escape": // [N lines, then] start a sleeping child sharing stdout, print its pid, exit
		if len(args) > 0 {
			for i := range arg(0) {
				fmt.Printf("line %d\n", i)
			}
		}
		cmd := exec.Command(os.Args[0], fakeToolArg, "sleep")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if mode == "escape" {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("child %d\n", cmd.Process.Pid)
	case "double-fork", "double-fork-wait": // a setsid child starts a sleeping grandchild and exits; [wait for a signal]
		cmd := exec.Command(os.Args[0], fakeToolArg, "fork-sleep")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if mode == "double-fork-wait" {
			fmt.Println("ready")
			time.Sleep(time.Hour)
		}
	case "daemon-exits": // a double fork whose daemon exits on its own once its parent has; wait until it is a zombie
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cmd := exec.Command(os.Args[0], fakeToolArg, "fork-wait-eof")
		cmd.Stdout, cmd.Stderr = w, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		w.Close()
		var pid int
		if _, err := fmt.Fscanf(r, "child %d\n", &pid); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("child %d\n", pid)
		// Polling a condition in the fake tool: the daemon must have exited
		// (a zombie re-parented to the runner) before the tool exits.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			var s procScanner
			if p, ok := s.stat(pid); ok && p.zombie {
				return 0
			}
		}
		fmt.Fprintln(os.Stderr, "the daemon did not exit")
		return 1
	case "fork-wait-eof": // start a child in this (new) group that exits at EOF on its stdin, print its pid, exit
		cmd := exec.Command(os.Args[0], fakeToolArg, "cat")
		in, err := cmd.StdinPipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_ = in // closed when this process exits
		fmt.Printf("child %d\n", cmd.Process.Pid)
	case "fork-sleep": // start a sleeping child in a new session, print its pid, exit
		cmd := exec.Command(os.Args[0], fakeToolArg, "sleep")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("child %d\n", cmd.Process.Pid)
	case "cat":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "env": // the working directory and the sorted environment
		wd, err := os.Getwd()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("cwd=" + wd)
		env := os.Environ()
		slices.Sort(env)
		for _, e := range env {
			fmt.Println("env=" + e)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown fake tool mode %q\n", mode)
		return 2
	}
	return 0
}

// fakeSpec returns a Spec running the fake tool in mode. Its Timeout is a
// safety net so that a broken runner fails a test instead of hanging it.
func fakeSpec(t testing.TB, mode string, args ...string) Spec {
	return Spec{
		Path:    testExe,
		Args:    append([]string{fakeToolArg, mode}, args...),
		Dir:     t.TempDir(),
		Timeout: time.Minute,
	}
}

// output records the delivered lines and can react to one of them.
type output struct {
	mu             sync.Mutex
	stdout, stderr []string
}

// attach records the lines of spec and calls on (if not nil) for every
// stdout line, from the callback.
func (o *output) attach(spec *Spec, on func(line string)) {
	spec.OnStdout = func(b []byte) {
		o.mu.Lock()
		o.stdout = append(o.stdout, string(b))
		o.mu.Unlock()
		if on != nil {
			on(string(b))
		}
	}
	spec.OnStderr = func(b []byte) {
		o.mu.Lock()
		o.stderr = append(o.stderr, string(b))
		o.mu.Unlock()
	}
}

func mustRun(t *testing.T, ctx context.Context, spec Spec) Result {
	t.Helper()
	res, err := Run(ctx, spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// cancelOnReady returns a context that is cancelled with cause when the
// fake tool prints "ready", and attaches o to spec to watch for it.
func cancelOnReady(t *testing.T, spec *Spec, o *output, cause error) context.Context {
	ctx, cancel := context.WithCancelCause(t.Context())
	t.Cleanup(func() { cancel(nil) })
	o.attach(spec, func(line string) {
		if line == "ready" {
			cancel(cause)
		}
	})
	return ctx
}

func TestLines(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "lines", "100")
	var o output
	o.attach(&spec, nil)
	res := mustRun(t, t.Context(), spec)

	var want []string
	for i := range 100 {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	if res.Reason != ReasonCompleted || res.ExitCode != 0 || res.Signal != "" || !res.Started {
		t.Errorf("Reason %q, ExitCode %d, Signal %q, Started %v; want completed, 0, none, true",
			res.Reason, res.ExitCode, res.Signal, res.Started)
	}
	if !slices.Equal(o.stdout, want) {
		t.Errorf("stdout = %q, want %q", o.stdout, want)
	}
	if res.StdoutLines != 100 || res.StderrLines != 0 {
		t.Errorf("StdoutLines, StderrLines = %d, %d; want 100, 0", res.StdoutLines, res.StderrLines)
	}
	if !slices.Equal(res.StdoutTail, want[100-defaultTailLines:]) {
		t.Errorf("StdoutTail = %q, want the last %d lines", res.StdoutTail, defaultTailLines)
	}
	if res.Escalation != nil || res.InvalidLines != 0 || res.LongLines != 0 || res.PartialLine {
		t.Errorf("unexpected result %+v", res)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "exit", "3")
	spec.TailLines = 3
	res := mustRun(t, t.Context(), spec)
	if res.Reason != ReasonCompleted || res.ExitCode != 3 || res.Signal != "" {
		t.Errorf("Reason %q, ExitCode %d, Signal %q; want completed, 3, none", res.Reason, res.ExitCode, res.Signal)
	}
	if want := []string{"fatal: something broke"}; !slices.Equal(res.StderrTail, want) {
		t.Errorf("StderrTail = %q, want %q", res.StderrTail, want)
	}
}

func TestCallbacksSerialised(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "both", "500")
	n := 0 // not synchronised: the race detector checks the callbacks never overlap
	spec.OnStdout = func([]byte) { n++ }
	spec.OnStderr = func([]byte) { n++ }
	res := mustRun(t, t.Context(), spec)
	if n != 1000 || res.StdoutLines != 500 || res.StderrLines != 500 {
		t.Errorf("calls %d, StdoutLines %d, StderrLines %d; want 1000, 500, 500", n, res.StdoutLines, res.StderrLines)
	}
}

func TestStopEscalation(t *testing.T) {
	t.Parallel()
	// A grace period is short only where the tool ignores the signal, so the
	// outcome does not depend on how fast the tool exits.
	const short, long = 20 * time.Millisecond, time.Minute
	for _, tc := range []struct {
		mode                 string
		interrupt, terminate time.Duration
		escalation           []string
		exitCode             int
		signal               string
		stdout               []string
	}{
		{"obey-int", long, long, []string{"SIGINT"}, 130, "", []string{"ready", "bye"}},
		{"ignore-int", short, long, []string{"SIGINT", "SIGTERM"}, -1, "SIGTERM", []string{"ready"}},
		{"ignore-int-term", short, short, []string{"SIGINT", "SIGTERM", "SIGKILL"}, -1, "SIGKILL", []string{"ready"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			spec := fakeSpec(t, tc.mode)
			spec.InterruptGrace = tc.interrupt
			spec.TerminateGrace = tc.terminate
			var o output
			errShutdown := errors.New("worker shutting down")
			ctx := cancelOnReady(t, &spec, &o, errShutdown)
			res := mustRun(t, ctx, spec)

			if res.Reason != ReasonCancelled || !errors.Is(res.Cause, errShutdown) {
				t.Errorf("Reason %q, Cause %v; want cancelled, %v", res.Reason, res.Cause, errShutdown)
			}
			if !slices.Equal(res.Escalation, tc.escalation) {
				t.Errorf("Escalation = %q, want %q", res.Escalation, tc.escalation)
			}
			if res.ExitCode != tc.exitCode || res.Signal != tc.signal {
				t.Errorf("ExitCode %d, Signal %q; want %d, %q", res.ExitCode, res.Signal, tc.exitCode, tc.signal)
			}
			if !slices.Equal(o.stdout, tc.stdout) {
				t.Errorf("stdout = %q, want %q", o.stdout, tc.stdout)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "sleep")
	spec.Timeout = 50 * time.Millisecond
	spec.InterruptGrace = time.Minute // the tool dies of SIGINT
	res := mustRun(t, t.Context(), spec)
	if res.Reason != ReasonTimeout || res.Cause != nil {
		t.Errorf("Reason %q, Cause %v; want timeout, nil", res.Reason, res.Cause)
	}
	// Go exits on SIGINT by re-raising it.
	if want := []string{"SIGINT"}; !slices.Equal(res.Escalation, want) || res.Signal != "SIGINT" {
		t.Errorf("Escalation %q, Signal %q; want %q, SIGINT", res.Escalation, res.Signal, want)
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "grow")
	spec.MemoryLimit = 100 << 20
	spec.MemorySampleInterval = 20 * time.Millisecond
	res := mustRun(t, t.Context(), spec)
	if res.Reason != ReasonMemory {
		t.Errorf("Reason = %q, want memory", res.Reason)
	}
	if res.PeakRSS <= spec.MemoryLimit {
		t.Errorf("PeakRSS = %d, want more than the limit %d", res.PeakRSS, spec.MemoryLimit)
	}
	if len(res.Escalation) == 0 || res.Escalation[0] != "SIGINT" {
		t.Errorf("Escalation = %q, want SIGINT first", res.Escalation)
	}
}

func TestPartialLine(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "partial")
	var o output
	o.attach(&spec, nil)
	res := mustRun(t, t.Context(), spec)
	if want := []string{"first"}; !slices.Equal(o.stdout, want) {
		t.Errorf("stdout = %q, want %q", o.stdout, want)
	}
	if !res.PartialLine || res.StdoutLines != 1 {
		t.Errorf("PartialLine %v, StdoutLines %d; want true, 1", res.PartialLine, res.StdoutLines)
	}
}

func TestLongLine(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "huge", "300000") // several pipe reads
	spec.MaxLineBytes = 1024
	var o output
	o.attach(&spec, nil)
	res := mustRun(t, t.Context(), spec)
	if want := []string{"after"}; !slices.Equal(o.stdout, want) {
		t.Errorf("stdout = %q, want %q", o.stdout, want)
	}
	if res.LongLines != 1 || res.StdoutLines != 1 || res.PartialLine {
		t.Errorf("LongLines %d, StdoutLines %d, PartialLine %v; want 1, 1, false", res.LongLines, res.StdoutLines, res.PartialLine)
	}
}

func TestInvalidLines(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "garbage")
	var o output
	o.attach(&spec, nil)
	res := mustRun(t, t.Context(), spec)
	if want := []string{"ok 1", "café\tcr", "c1 \u0085", "{\"title\":\"a\u009bb\"}", "ok 2"}; !slices.Equal(o.stdout, want) {
		t.Errorf("stdout = %q, want %q", o.stdout, want)
	}
	if res.InvalidLines != 3 || res.StdoutSkipped != 3 || res.StdoutLines != 5 {
		t.Errorf("InvalidLines %d, StdoutLines %d; want 3, 5", res.InvalidLines, res.StdoutLines)
	}
}

// childPid returns the pid printed by the "spawn" and "escape" modes.
func childPid(t *testing.T, lines []string) int {
	t.Helper()
	for _, l := range lines {
		if s, ok := strings.CutPrefix(l, "child "); ok {
			pid, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no child pid in %q", lines)
	return 0
}

// exited reports whether pid is gone or a zombie. The orphan is reparented
// to init, which may be slow to reap it or (in a container) never do it.
func exited(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

func TestGrandchildKilled(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "spawn")
	var o output
	o.attach(&spec, nil)
	res := mustRun(t, t.Context(), spec)
	if res.Reason != ReasonCompleted || res.ExitCode != 0 || res.Escalation != nil {
		t.Errorf("Reason %q, ExitCode %d, Escalation %q; want completed, 0, none", res.Reason, res.ExitCode, res.Escalation)
	}
	pid := childPid(t, o.stdout)
	// Run returned after the grandchild closed the pipe, which happens in
	// the kernel's exit path just before it becomes a zombie.
	deadline := time.Now().Add(10 * time.Second)
	for !exited(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d still running after Run returned", pid)
		}
		time.Sleep(time.Millisecond) // polling a condition, not synchronising
	}
}

func TestEscapedGrandchildDoesNotHang(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "escape")
	spec.WaitDelay = 50 * time.Millisecond
	var o output
	o.attach(&spec, nil)
	res := mustRun(t, t.Context(), spec)
	pid := childPid(t, o.stdout)
	syscall.Kill(pid, syscall.SIGKILL)
	if res.Reason != ReasonCompleted || res.ExitCode != 0 {
		t.Errorf("Reason %q, ExitCode %d; want completed, 0", res.Reason, res.ExitCode)
	}
}

func TestEscapedGrandchildSlowCallback(t *testing.T) {
	t.Parallel()
	spec := fakeSpec(t, "escape", "200")
	spec.WaitDelay = 10 * time.Millisecond
	var o output
	o.attach(&spec, nil)
	record := spec.OnStdout
	spec.OnStdout = func(b []byte) {
		// Slower than WaitDelay in total, so the reader is usually cut while
		// output is still buffered in the pipe. Every interleaving must
		// deliver all of it.
		time.Sleep(time.Millisecond)
		record(b)
	}
	res := mustRun(t, t.Context(), spec)
	pid := childPid(t, o.stdout)
	syscall.Kill(pid, syscall.SIGKILL)
	if res.StdoutLines != 201 || len(o.stdout) != 201 || o.stdout[199] != "line 199" {
		t.Errorf("StdoutLines %d, %d lines delivered; want 201, the last being the child pid", res.StdoutLines, len(o.stdout))
	}
}

func TestPipeReaderStopWaiting(t *testing.T) {
	t.Parallel()
	pipe := func(t *testing.T) (*pipeReader, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		return &pipeReader{f: r}, w
	}
	t.Run("buffered data is delivered", func(t *testing.T) {
		t.Parallel()
		pr, w := pipe(t)
		w.WriteString("a\nb\n")
		pr.stopWaiting()
		got, err := io.ReadAll(pr)
		if string(got) != "a\nb\n" || err != nil {
			t.Errorf("ReadAll = %q, %v; want the buffered data, nil", got, err)
		}
	})
	t.Run("blocked read returns", func(t *testing.T) {
		t.Parallel()
		pr, _ := pipe(t)
		done := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(pr)
			done <- err
		}()
		pr.stopWaiting()
		if err := <-done; err != nil {
			t.Errorf("ReadAll: %v", err)
		}
	})
	t.Run("endless writer is bounded", func(t *testing.T) {
		t.Parallel()
		pr, w := pipe(t)
		chunk := make([]byte, 4096)
		w.Write(chunk)
		writer := make(chan struct{})
		go func() {
			defer close(writer)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}()
		pr.stopWaiting()
		n, err := io.Copy(io.Discard, pr)
		if err != nil || n == 0 || n > drainLimit {
			t.Errorf("Copy = %d, %v; want 0 < n <= %d, nil", n, err, drainLimit)
		}
		pr.f.Close() // the writer gets EPIPE
		<-writer
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"sortie-no-such-tool", "/nonexistent/sortie-no-such-tool"} {
		res, err := Run(t.Context(), Spec{Path: path, Dir: t.TempDir()})
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, exec.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound matching exec.ErrNotFound", path, err)
		}
		if res.Reason != ReasonFailed || res.Started || res.ExitCode != -1 {
			t.Errorf("%s: Reason %q, Started %v, ExitCode %d; want failed, false, -1", path, res.Reason, res.Started, res.ExitCode)
		}
	}
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "tool")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(t.Context(), Spec{Path: notExec, Dir: dir})
	if err == nil || errors.Is(err, ErrNotFound) || res.Reason != ReasonFailed {
		t.Errorf("err %v, Reason %q; want a start error other than ErrNotFound, failed", err, res.Reason)
	}
}

func TestInvalidSpec(t *testing.T) {
	t.Parallel()
	res, err := Run(t.Context(), Spec{Dir: filepath.Join(t.TempDir(), "missing"), Timeout: -1, TailLines: -1})
	if err == nil || res.Reason != ReasonFailed {
		t.Fatalf("err %v, Reason %q; want an error, failed", err, res.Reason)
	}
	for _, want := range []string{"Path", "Dir", "Timeout", "TailLines"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestStdin(t *testing.T) {
	t.Parallel()
	const input = "hello\nworld\n"
	file := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(file, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		stdin func(t *testing.T) io.Reader
		want  []string
	}{
		{"nil", func(*testing.T) io.Reader { return nil }, nil},
		{"reader", func(*testing.T) io.Reader { return strings.NewReader(input) }, []string{"hello", "world"}},
		{"file", func(t *testing.T) io.Reader {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}, []string{"hello", "world"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := fakeSpec(t, "cat")
			spec.Stdin = tc.stdin(t)
			var o output
			o.attach(&spec, nil)
			res := mustRun(t, t.Context(), spec)
			if res.ExitCode != 0 || !slices.Equal(o.stdout, tc.want) {
				t.Errorf("ExitCode %d, stdout %q; want 0, %q", res.ExitCode, o.stdout, tc.want)
			}
		})
	}
}

func TestDirAndEnv(t *testing.T) {
	t.Parallel()
	t.Run("explicit", func(t *testing.T) {
		t.Parallel()
		spec := fakeSpec(t, "env")
		spec.Env = []string{"HOME=" + spec.Dir, "SORTIE_TEST=1"}
		var o output
		o.attach(&spec, nil)
		mustRun(t, t.Context(), spec)
		want := []string{"cwd=" + spec.Dir, "env=HOME=" + spec.Dir, "env=SORTIE_TEST=1"}
		if got := withoutMarker(t, o.stdout); !slices.Equal(got, want) {
			t.Errorf("stdout = %q, want %q", o.stdout, want)
		}
	})
	t.Run("minimal", func(t *testing.T) {
		t.Parallel()
		spec := fakeSpec(t, "env")
		var o output
		o.attach(&spec, nil)
		mustRun(t, t.Context(), spec)
		o.stdout = withoutMarker(t, o.stdout)
		if len(o.stdout) != 4 || o.stdout[0] != "cwd="+spec.Dir || o.stdout[1] != "env=HOME="+spec.Dir ||
			o.stdout[2] != "env=LANG=C" || !strings.HasPrefix(o.stdout[3], "env=PATH=") {
			t.Errorf("stdout = %q, want cwd, HOME, LANG and PATH", o.stdout)
		}
	})
}

// withoutMarker returns the lines of the "env" mode without the Run's
// marker variable, which must be there once.
func withoutMarker(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "env="+markerName+"=") {
			n++
			continue
		}
		out = append(out, l)
	}
	if n != 1 {
		t.Errorf("%d %s variables in %q, want 1", n, markerName, lines)
	}
	return out
}

func TestCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	spec := fakeSpec(t, "lines", "1")
	spec.OnStdout = func([]byte) { t.Error("the tool ran") }
	res, err := Run(ctx, spec)
	if err != nil || res.Reason != ReasonCancelled || res.Started || !errors.Is(res.Cause, context.Canceled) {
		t.Errorf("err %v, Reason %q, Started %v, Cause %v; want nil, cancelled, false, context.Canceled",
			err, res.Reason, res.Started, res.Cause)
	}
}

func TestLineStream(t *testing.T) {
	t.Parallel()
	const maxLine = 8
	for _, tc := range []struct {
		name          string
		in            string
		want          []string
		long, invalid int
		partial       bool
	}{
		{"empty", "", nil, 0, 0, false},
		{"empty lines", "\n\r\n", []string{"", ""}, 0, 0, false},
		{"crlf", "a\r\nb\n", []string{"a", "b"}, 0, 0, false},
		{"only last cr stripped", "a\r\r\n", nil, 0, 1, false},
		{"exactly max", "12345678\n", []string{"12345678"}, 0, 0, false},
		{"exactly max with cr", "12345678\r\n", []string{"12345678"}, 0, 0, false},
		{"max plus one", "123456789\nok\n", []string{"ok"}, 1, 0, false},
		{"max plus cr and more", "12345678\rx\nok\n", []string{"ok"}, 1, 0, false},
		{"very long", strings.Repeat("x", 100) + "\nok\n", []string{"ok"}, 1, 0, false},
		{"long at end", strings.Repeat("x", 100), nil, 1, 0, true},
		{"partial", "a\nb", []string{"a"}, 0, 0, true},
		{"invalid utf8", "\xc3\n", nil, 0, 1, false},
		{"multibyte", "é€\n", []string{"é€"}, 0, 0, false},
	} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			var got []string
			var mu sync.Mutex
			s := newLineStream(maxLine, 2, func(b []byte) { got = append(got, string(b)) }, &mu)
			s.run(r)
			if !slices.Equal(got, tc.want) || s.long != tc.long || s.invalid != tc.invalid || s.partial != tc.partial {
				t.Errorf("%s (one byte reads %v): lines %q, long %d, invalid %d, partial %v; want %q, %d, %d, %v",
					tc.name, oneByte, got, s.long, s.invalid, s.partial, tc.want, tc.long, tc.invalid, tc.partial)
			}
		}
	}
}

func TestTailCut(t *testing.T) {
	t.Parallel()
	tl := tail{n: 2}
	long := strings.Repeat("x", maxTailLineBytes-1) + "é" // é straddles the cut
	for _, l := range []string{"a", "b", long} {
		tl.add([]byte(l))
	}
	got := tl.strings()
	if len(got) != 2 || got[0] != "b" || got[1] != long[:maxTailLineBytes-1] {
		t.Errorf("tail = %.20q..., want b and the long line cut before é", got)
	}
}

func TestValidLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":              true,
		"plain text":    true,
		"tab\tok":       true,
		"日本語":           true,
		"nul\x00":       false,
		"bell\a":        false,
		"esc\x1b[0m":    false,
		"del\x7f":       false,
		"c1\u0085":      true, // valid UTF-8; printers escape it
		"csi\u009b":     true,
		"bad\xff":       false,
		"trunc\xe6\x97": false,
	} {
		if got := validLine([]byte(in)); got != want {
			t.Errorf("validLine(%q) = %v, want %v", in, got, want)
		}
	}
}

// BenchmarkStopLatency measures the time from cancelling the context to Run
// returning, for a tool that exits on SIGINT.
func BenchmarkStopLatency(b *testing.B) {
	dir := b.TempDir()
	for range b.N {
		b.StopTimer()
		ctx, cancel := context.WithCancel(b.Context())
		ready := make(chan struct{})
		spec := Spec{
			Path: testExe,
			Args: []string{fakeToolArg, "obey-int"},
			Dir:  dir,
			OnStdout: func(line []byte) {
				if string(line) == "ready" {
					close(ready)
				}
			},
		}
		done := make(chan Result, 1)
		go func() {
			res, err := Run(ctx, spec)
			if err != nil {
				b.Error(err)
			}
			done <- res
		}()
		select {
		case <-ready:
		case res := <-done:
			b.Fatalf("tool ended before it was ready: %+v", res)
		}
		b.StartTimer()
		cancel()
		res := <-done
		b.StopTimer()
		if res.Reason != ReasonCancelled || res.ExitCode != 130 {
			b.Fatalf("Reason %q, ExitCode %d; want cancelled, 130", res.Reason, res.ExitCode)
		}
	}
}
