package engine_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

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
