package runner

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startTime returns the start time of pid from /proc; it is called from
// the output callbacks, so it reports a failure with Errorf.
func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	var s procScanner
	p, ok := s.stat(pid)
	if !ok {
		t.Errorf("process %d is not running", pid)
	}
	return p.start
}

// gone reports whether the process pid that started at start has exited
// and been reaped: a zombie is not gone.
func gone(pid int, start uint64) bool {
	var s procScanner
	p, ok := s.stat(pid)
	return !ok || p.start != start
}

// waitGone waits, up to a deadline, for the process to be gone (see gone);
// it kills the process and fails the test if it is still there.
func waitGone(t *testing.T, pid int, start uint64, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid, start) {
		if time.Now().After(deadline) {
			var s procScanner
			p, _ := s.stat(pid)
			if !p.zombie {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("%s %d still there after Run returned (zombie %v)", what, pid, p.zombie)
		}
		time.Sleep(time.Millisecond) // polling a condition, not synchronising
	}
}

func TestEscapedChildKilled(t *testing.T) {
	t.Parallel()
	// spawn: the child stays in the group; the group kill ends it, and as
	// an orphan of this process its zombie must be reaped.
	// daemon-exits: the daemon of a double fork exits by itself as an
	// orphan before any scan sees it; it must be reaped all the same.
	for _, mode := range []string{"spawn", "escape", "double-fork", "daemon-exits"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			spec := fakeSpec(t, mode)
			var o output
			var start uint64
			var pid int
			o.attach(&spec, func(line string) {
				if pid == 0 {
					if _, ok := cutChild(line); ok {
						pid, _ = cutChild(line)
						start = startTime(t, pid)
					}
				}
			})
			res := mustRun(t, t.Context(), spec)
			if res.Reason != ReasonCompleted || res.ExitCode != 0 {
				t.Errorf("Reason %q, ExitCode %d; want completed, 0", res.Reason, res.ExitCode)
			}
			if pid == 0 {
				t.Fatalf("no child pid in %q", o.stdout)
			}
			waitGone(t, pid, start, "escaped process")
		})
	}
}

// cutChild parses the "child PID" line of the fake tool.
func cutChild(line string) (int, bool) {
	const prefix = "child "
	if len(line) <= len(prefix) || line[:len(prefix)] != prefix {
		return 0, false
	}
	pid, err := strconv.Atoi(line[len(prefix):])
	return pid, err == nil
}

// TestConcurrentRunsKillOnlyTheirOwn stops one of two runs whose tools
// both left an orphan behind: only the stopped run's orphan is killed.
func TestConcurrentRunsKillOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	type running struct {
		cancel context.CancelFunc
		pid    int
		start  uint64
		done   chan Result
	}
	launch := func() *running {
		r := &running{done: make(chan Result, 1)}
		ctx, cancel := context.WithCancel(t.Context())
		r.cancel = cancel
		t.Cleanup(cancel)
		ready := make(chan struct{})
		spec := fakeSpec(t, "double-fork-wait")
		spec.OnStdout = func(b []byte) {
			if pid, ok := cutChild(string(b)); ok {
				r.pid, r.start = pid, startTime(t, pid)
			}
			if string(b) == "ready" {
				close(ready)
			}
		}
		go func() {
			res, err := Run(ctx, spec)
			if err != nil {
				t.Error(err)
			}
			r.done <- res
		}()
		select {
		case <-ready:
		case res := <-r.done:
			t.Fatalf("tool ended before it was ready: %+v", res)
		}
		return r
	}
	a, b := launch(), launch()
	a.cancel()
	if res := <-a.done; res.Reason != ReasonCancelled {
		t.Errorf("first run: Reason %q, want cancelled", res.Reason)
	}
	waitGone(t, a.pid, a.start, "the stopped run's orphan")
	if gone(b.pid, b.start) {
		t.Errorf("the other run's orphan %d was killed", b.pid)
	}
	var s procScanner
	if p, ok := s.stat(b.pid); !ok || p.zombie {
		t.Errorf("the other run's orphan %d is not running", b.pid)
	}
	b.cancel()
	<-b.done
	waitGone(t, b.pid, b.start, "the second run's orphan")
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	line := []byte("42 (a) (b c) S 7 42 42 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10 18446744073709551615\n")
	p, ok := parseStat(line)
	if !ok || p.ppid != 7 || p.pgrp != 42 || p.start != 123456 || p.zombie {
		t.Errorf("parseStat = %+v, %v", p, ok)
	}
	if _, ok := parseStat([]byte("42 (a) Z 1")); ok {
		t.Error("a short line parsed")
	}
	self, ok := parseStat(mustRead(t, "/proc/self/stat"))
	if !ok || self.ppid != os.Getppid() {
		t.Errorf("own stat = %+v, %v", self, ok)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkStart measures a whole Run of /bin/true: the runner's cost per
// tool start, the tree scan and kill at the end included.
func BenchmarkStart(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		res, err := Run(b.Context(), Spec{Path: "/bin/true", Dir: dir})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("Run: %+v, %v", res, err)
		}
	}
}

// BenchmarkTreeScan measures one scan of /proc for a Run's tree, the part
// of killTree that every Run pays; its cost grows with the number of
// processes on the machine.
func BenchmarkTreeScan(b *testing.B) {
	var s procScanner
	t := tree{pgid: os.Getpid(), marker: []byte(newMarker())}
	for b.Loop() {
		s.scan(t, nil)
	}
	b.ReportMetric(float64(len(s.procs)), "procs")
}

// FuzzParseStat checks that the fields after the command name are found
// whatever the name holds (spaces, parentheses), and that nothing panics.
func FuzzParseStat(f *testing.F) {
	f.Add("sortie", 1, 2, uint64(3))
	f.Add("a) (b", 7, 42, uint64(123456))
	f.Add(") S 1 2 3", 0, 0, uint64(0))
	f.Add("", -1, 1<<30, uint64(1)<<63)
	f.Fuzz(func(t *testing.T, comm string, ppid, pgrp int, start uint64) {
		line := fmt.Sprintf("42 (%s) S %d %d 42 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 1 0 %d 1000 10\n", comm, ppid, pgrp, start)
		p, ok := parseStat([]byte(line))
		if !ok || p.ppid != ppid || p.pgrp != pgrp || p.start != start || p.zombie {
			t.Errorf("parseStat(%q) = %+v, %v", line, p, ok)
		}
		parseStat([]byte(comm)) // must not panic
	})
}
