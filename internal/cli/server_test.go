package cli

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

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
