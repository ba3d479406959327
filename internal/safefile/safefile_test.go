package safefile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sortie-sec/sortie/internal/safefile"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLinksAreNeverFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	write(t, victim, "precious")
	link := filepath.Join(dir, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if _, err := safefile.Create(link, 0o600); err == nil {
		t.Error("Create opened a link")
	}
	if _, err := safefile.OpenAppend(link, 0o600); !errors.Is(err, safefile.ErrSymlink) {
		t.Errorf("OpenAppend(link) = %v, want ErrSymlink", err)
	}
	if _, err := safefile.OpenRead(link); !errors.Is(err, safefile.ErrSymlink) {
		t.Errorf("OpenRead(link) = %v, want ErrSymlink", err)
	}
	if err := safefile.WriteAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || !st.Mode().IsRegular() {
		t.Errorf("WriteAtomic did not replace the link with a file: %v %v", st, err)
	}
	if got := read(t, victim); got != "precious" {
		t.Errorf("victim = %q", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("WriteAtomic left files behind: %v", ents)
	}
}

func TestOpenAppend(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "f")
	for range 2 {
		f, err := safefile.OpenAppend(p, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("line\n")
		f.Close()
	}
	if got := read(t, p); got != "line\nline\n" {
		t.Errorf("file = %q: appends must not truncate", got)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	if _, err := safefile.OpenAppend(filepath.Dir(p), 0o600); err == nil {
		t.Error("OpenAppend opened a directory")
	}
}

func TestDirs(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	p := filepath.Join(base, "d")
	if err := safefile.MkdirNew(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := safefile.MkdirNew(p, 0o700); err == nil {
		t.Error("MkdirNew accepted an existing directory")
	}
	if err := safefile.EnsureDir(p, 0o700); err != nil {
		t.Errorf("EnsureDir(existing) = %v", err)
	}
	link := filepath.Join(base, "l")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if err := safefile.EnsureDir(link, 0o700); !errors.Is(err, safefile.ErrSymlink) {
		t.Errorf("EnsureDir(link) = %v, want ErrSymlink", err)
	}
	if created, err := safefile.NewOrEmptyDir(p, 0o700); err != nil || created {
		t.Errorf("NewOrEmptyDir(empty) = %v, %v", created, err)
	}
	if created, err := safefile.NewOrEmptyDir(filepath.Join(base, "x", "y"), 0o700); err != nil || !created {
		t.Errorf("NewOrEmptyDir(new) = %v, %v", created, err)
	}
	write(t, filepath.Join(p, "f"), "")
	if _, err := safefile.NewOrEmptyDir(p, 0o700); !errors.Is(err, safefile.ErrNotEmpty) {
		t.Errorf("NewOrEmptyDir(non-empty) = %v, want ErrNotEmpty", err)
	}
	if _, err := safefile.NewOrEmptyDir(link, 0o700); !errors.Is(err, safefile.ErrSymlink) {
		t.Errorf("NewOrEmptyDir(link) = %v, want ErrSymlink", err)
	}
}
