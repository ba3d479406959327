package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a sortie process started by a test: a server or a worker that
// receives real signals.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error
}

// syncBuffer is the process's combined output; Wait functions block on it.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	cond *sync.Cond
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	b.cond.Broadcast()
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Env is the environment of a sortie process: its own HOME and XDG
// directories, and the fake tool on PATH.
func Env(t testing.TB) []string {
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"TMPDIR=" + home,
		"PATH=" + BuildDir(t) + ":" + os.Getenv("PATH"),
	}
	return env
}

// Start runs the sortie binary with args. The process is killed, if still
// running, when the test ends; its output is logged if the test failed.
func Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(Sortie(t), args...)
	cmd.Env = Env(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proc{Name: name, Cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	p.log.cond = sync.NewCond(&p.log.mu)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		p.log.cond.Broadcast()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", name, p.log.String())
		}
	})
	return p
}

// Signal sends sig to the process (not its tools: those get what the
// process decides).
func (p *Proc) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s to %s: %v", sig, p.Name, err)
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its error.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %s", p.Name, timeout)
		return nil
	}
}

// Output is everything the process printed so far.
func (p *Proc) Output() string { return p.log.String() }

// WaitOutput waits until the process has printed s, and fails the test if
// it exits or the timeout passes first.
func (p *Proc) WaitOutput(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { p.log.cond.Broadcast() })
	defer timer.Stop()
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	for !strings.Contains(p.log.buf.String(), s) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %q:\n%s", p.Name, s, p.log.buf.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %s:\n%s", p.Name, s, timeout, p.log.buf.String())
		}
		p.log.cond.Wait()
	}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Server starts "sortie server" on a free loopback port with its store in
// dir (a new directory when ""), and returns it with its URL once it
// accepts clients.
func Server(t testing.TB, dir string, extra ...string) (*Proc, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	port := FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"server", "--listen", addr, "--data", dir, "--log-level", "warn"}, extra...)
	p := Start(t, "server "+addr, args...)
	p.WaitOutput(t, "sortie server listening", 60*time.Second)
	return p, "nats://" + addr
}

// Worker starts "sortie worker" against url with the fake tool in its
// registry, trusting Key, logging JSON; extra flags follow (--lease 3s, ...).
func Worker(t testing.TB, name, url string, extra ...string) *Proc {
	t.Helper()
	args := append([]string{"worker", "--server", url, "--tools-dir", ToolsDir(t), "--id", name, "--log-format", "json", "--trust", TrustFile(t)}, extra...)
	p := Start(t, name, args...)
	p.WaitOutput(t, `"msg":"worker started"`, 60*time.Second)
	return p
}

// WaitFor polls cond until it holds; it is for state that lives in another
// process (records in the engine), where no channel can say it changed.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %s (last error: %v)", what, timeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Describe is a compact description of a process for messages.
func (p *Proc) Describe() string { return fmt.Sprintf("%s (pid %d)", p.Name, p.Cmd.Process.Pid) }
