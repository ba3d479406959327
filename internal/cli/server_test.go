package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/worker"
)

// With the roles of --auth-dir, the CLI submits, follows and reports a run
// with the submitter key while a worker runs it with the worker key.
func TestRolesRemoteRun(t *testing.T) {
	t.Parallel()
	auth, err := engine.LoadAuthDir(filepath.Join(t.TempDir(), "auth"))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncLog
	srv, err := engine.StartServer(engine.ServerConfig{Listen: "127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t)), Data: t.TempDir(), Auth: auth,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	op, err := srv.Connect(context.Background(), 1) // what runServer does at start
	if err != nil {
		t.Fatal(err)
	}
	op.Close()
	we, err := engine.Open(context.Background(), engine.Config{Server: srv.ClientURL(), NKeySeedFile: auth.SeedFile(engine.RoleWorker)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { we.Close() })
	enginetest.StartWorker(t, we, worker.Config{ID: "w1", Concurrency: 2})

	tools := enginetest.ToolsDir(t)
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		args = append(args, "--server", srv.ClientURL(), "--nkey", auth.SeedFile(engine.RoleSubmitter), "--tools-dir", tools)
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := run("x", "faketool", "--signing-key", enginetest.KeyFile(t), "a.test", "b.test", "--chunk-size", "1", "--lines", "2", "--out", filepath.Join(t.TempDir(), "r"), "-q", "--json")
	if code != 0 {
		t.Fatalf("x with the submitter key: exit %d\n%s", code, errs)
	}
	if n := strings.Count(out, `"_type":"url"`); n != 4 {
		t.Errorf("%d url findings, want 4:\n%s", n, out)
	}
	if _, errs, code := run("workers"); code != 0 {
		t.Errorf("workers with the submitter key: exit %d\n%s", code, errs)
	}
	if l := logs.String(); strings.Contains(l, "Violation") {
		t.Errorf("the run was denied something:\n%s", l)
	}
}

// syncLog is a log buffer written by the server's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawConnect speaks the NATS protocol without credentials and returns
// the server's answer to CONNECT and PING.
func rawConnect(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

// A loopback "sortie server" started without authentication requires the
// user's local token: a raw client without it is refused, and the CLI of
// the same user, given only --server, gets in.
func TestLoopbackServerRequiresTheLocalToken(t *testing.T) {
	t.Parallel()
	addr := "127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t))
	url := "nats://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- Main(ctx, []string{"server", "--listen", addr, "--data", t.TempDir(), "--config", emptyConfig(t)}, strings.NewReader(""), &out, &errb)
	}()
	exited := false
	defer func() {
		cancel()
		if !exited {
			<-done
		}
	}()
	enginetest.WaitFor(t, "the server accepting the local token", 60*time.Second, func(ctx context.Context) (bool, error) {
		select {
		case code := <-done:
			exited = true
			t.Fatalf("server exited %d: %s", code, errb.String())
		default:
		}
		e, err := engine.Open(ctx, engine.Config{Server: url})
		if err != nil {
			return false, err
		}
		e.Close()
		return true, nil
	})
	if got := rawConnect(t, addr); !strings.Contains(got, "Authorization Violation") {
		t.Errorf("a client without the token got %q, want an authorization violation", got)
	}
	fi, err := os.Lstat(engine.LocalTokenFile())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Errorf("token file mode %v, want a regular file 0600", fi.Mode())
	}
	var wout, werr bytes.Buffer
	if code := Main(context.Background(), []string{"workers", "--server", url, "--config", emptyConfig(t)}, strings.NewReader(""), &wout, &werr); code != 0 {
		t.Errorf("sortie workers --server %s: exit %d: %s", url, code, werr.String())
	}
}
