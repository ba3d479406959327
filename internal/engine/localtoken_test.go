package engine_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sortie-sec/sortie/internal/engine"
)

// The local server token is made once, 0600, in a 0700 directory, and
// read back; a symlink, a file or directory others may read, are refused.
func TestLocalToken(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sortie-1")
	path := filepath.Join(dir, "server.token")
	if _, err := engine.LocalTokenAt(path, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no token yet: %v, want fs.ErrNotExist", err)
	}
	tok, err := engine.LocalTokenAt(path, true)
	if err != nil || len(tok) != 64 {
		t.Fatalf("token %q, %v", tok, err)
	}
	again, err := engine.LocalTokenAt(path, true)
	if err != nil || again != tok {
		t.Fatalf("second start made %q (%v), want the same token", again, err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		if fi, err := os.Lstat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}

	// A token file others may read is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.LocalTokenAt(path, false); err == nil {
		t.Error("read a token others may read")
	}
	// A symlink in place of the token is neither followed nor replaced.
	other := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(other, []byte("attacker-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, path); err != nil {
		t.Fatal(err)
	}
	for _, create := range []bool{false, true} {
		if tok, err := engine.LocalTokenAt(path, create); err == nil {
			t.Errorf("create=%v: followed a symlink to %q", create, tok)
		}
	}
	// A directory others may enter is refused.
	open := filepath.Join(t.TempDir(), "sortie-2")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.LocalTokenAt(filepath.Join(open, "server.token"), true); err == nil {
		t.Error("made a token in a directory others may enter")
	}
}

// A client with no credentials offers the local token only to a server that
// asks for authentication: a stock server on loopback with a no_auth_user
// refuses any client that sends a token, and must keep working when the
// user also ran a "sortie server" once (the token file exists).
func TestLocalTokenNotSentToNoAuthUser(t *testing.T) {
	t.Parallel()
	if _, err := engine.LocalToken(true); err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true, JetStream: true, StoreDir: t.TempDir(),
		Users:      []*server.User{{Username: "anon", Password: "anon-password-123"}},
		NoAuthUser: "anon",
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := engine.Open(ctx, engine.Config{Server: srv.ClientURL()})
	if err != nil {
		t.Fatalf("connect to a no_auth_user server with the local token present: %v", err)
	}
	e.Close()
}
