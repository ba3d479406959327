package report

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestIndex(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	base := t.TempDir()
	a, b, gone := filepath.Join(base, "a"), filepath.Join(base, "b\nwith a line feed"), filepath.Join(base, "gone")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{a, b, gone, a} {
		if err := AddToIndex(d); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := IndexedDirs(); err != nil || !slices.Equal(got, []string{a, b, gone}) {
		t.Fatalf("IndexedDirs = %q, %v", got, err)
	}
	p, _ := indexPath()
	if st, err := os.Lstat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("index file: %v, %v; want mode 0600", st.Mode(), err)
	}
	if err := RemoveFromIndex(a); err != nil {
		t.Fatal(err)
	}
	if got, err := IndexedDirs(); err != nil || !slices.Equal(got, []string{b}) {
		t.Fatalf("after removing a (and gone), IndexedDirs = %q, %v", got, err)
	}
	// A link planted where the index goes is not followed.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, p); err != nil {
		t.Fatal(err)
	}
	if err := AddToIndex(a); err == nil {
		t.Error("AddToIndex wrote through a symbolic link")
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep\n" {
		t.Errorf("the link's target was changed: %q", data)
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add(strconv.Quote("/tmp/run") + "\n" + strconv.Quote("/tmp/run") + "\n")
	f.Add("\"/a\\nb\"\nnot quoted\n\"relative\"\n\"/x/../y\"\n")
	f.Add("\"/torn")
	f.Fuzz(func(t *testing.T, data string) {
		dirs, err := parseIndex(strings.NewReader(data))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range dirs {
			if !filepath.IsAbs(d) || filepath.Clean(d) != d || seen[d] {
				t.Fatalf("parseIndex(%q) gave %q", data, d)
			}
			seen[d] = true
		}
	})
}
