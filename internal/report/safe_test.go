package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/safefile"
)

// plant makes dir hold links named after the run's files, pointing at files
// outside it with known content; check reports any outside file changed.
func plant(t *testing.T, dir string, names ...string) (check func()) {
	t.Helper()
	outside := t.TempDir()
	want := map[string]string{}
	for _, n := range names {
		victim := filepath.Join(outside, n+".victim")
		want[victim] = "precious " + n + "\n"
		if err := os.WriteFile(victim, []byte(want[victim]), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		t.Helper()
		for victim, content := range want {
			got, err := os.ReadFile(victim)
			if err != nil || string(got) != content {
				t.Errorf("%s was written through a planted link: %q (%v), want %q", filepath.Base(victim), got, err, content)
			}
		}
	}
}

// TestCreateOutRefusesPlantedLinks: an --out directory holding links
// named run.json.tmp, run.json, findings.jsonl and command.txt is refused,
// and the files they point to keep their content. Issue 7.
func TestCreateOutRefusesPlantedLinks(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	check := plant(t, out, MetaFile+".tmp", MetaFile, FindingsFile, CommandFile)
	d, err := CreateOut(out)
	if err == nil {
		// The old code accepted it: show what writing the run does.
		_ = d.WriteMeta(&Meta{ID: "x"})
		if fw, err := OpenFindings(d.File(FindingsFile)); err == nil {
			_, _ = fw.Write(stamped(&finding.URL{URL: "http://127.0.0.1/"}))
			_ = fw.Close()
		}
		_ = d.AppendLine(CommandFile, "evil")
		t.Error("CreateOut accepted a directory holding planted links")
	} else if !errors.Is(err, ErrOutDir) || !errors.Is(err, safefile.ErrNotEmpty) {
		t.Errorf("CreateOut error = %v, want ErrOutDir and ErrNotEmpty", err)
	}
	check()
}

func TestCreateOut(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	// New (with missing parents) and existing empty directories are fine.
	for _, p := range []string{filepath.Join(base, "a", "b", "new"), mkdir(t, filepath.Join(base, "empty"))} {
		d, err := CreateOut(p)
		if err != nil {
			t.Fatalf("CreateOut(%s) = %v", p, err)
		}
		for _, sub := range []string{RawDir, WorkDir} {
			if st, err := os.Lstat(d.File(sub)); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
				t.Errorf("%s: %v %v", sub, st, err)
			}
		}
	}
	// A link to an empty directory, a file, a non-empty directory: refused.
	target := mkdir(t, filepath.Join(base, "target"))
	link := filepath.Join(base, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	full := mkdir(t, filepath.Join(base, "full"))
	if err := os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]error{link: safefile.ErrSymlink, file: safefile.ErrNotDir, full: safefile.ErrNotEmpty} {
		if _, err := CreateOut(p); !errors.Is(err, ErrOutDir) || !errors.Is(err, want) {
			t.Errorf("CreateOut(%s) = %v, want %v", filepath.Base(p), err, want)
		}
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("CreateOut wrote through the link: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(full, "notes.txt")); string(b) != "mine" {
		t.Errorf("notes.txt = %q", b)
	}
}

func mkdir(t *testing.T, p string) string {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunFilesNeverFollowLinks: links planted in a run directory after it
// was made (a race with CreateOut, or a shared parent) are never written
// through: run.json is replaced, findings.jsonl and command.txt refused.
func TestRunFilesNeverFollowLinks(t *testing.T) {
	t.Parallel()
	d, err := Create(t.TempDir(), "run")
	if err != nil {
		t.Fatal(err)
	}
	check := plant(t, d.Path, MetaFile+".tmp", MetaFile, FindingsFile, CommandFile)
	if err := d.WriteMeta(&Meta{ID: "run"}); err != nil {
		t.Fatalf("WriteMeta: %v", err)
	}
	if st, err := os.Lstat(d.File(MetaFile)); err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Errorf("run.json after WriteMeta: %v %v, want a regular 0600 file replacing the link", st, err)
	}
	if _, err := ReadMeta(d.Path); err != nil {
		t.Errorf("ReadMeta: %v", err)
	}
	if fw, err := OpenFindings(d.File(FindingsFile)); err == nil {
		_, _ = fw.Write(stamped(&finding.URL{URL: "http://127.0.0.1/"}))
		_ = fw.Close()
		t.Error("OpenFindings opened a link")
	} else if !errors.Is(err, safefile.ErrSymlink) {
		t.Errorf("OpenFindings error = %v, want ErrSymlink", err)
	}
	if _, err := CreateFindings(d.File(FindingsFile)); err == nil {
		t.Error("CreateFindings opened a link")
	}
	if err := d.AppendLine(CommandFile, "evil"); err == nil {
		t.Error("AppendLine wrote through a link")
	}
	check()
}

// TestOpenFindingsRefusesHardLink: a findings file with a second name (a
// hard link to a file elsewhere) is not the run's own: refused.
func TestOpenFindingsRefusesHardLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("half a li"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FindingsFile)
	if err := os.Link(victim, path); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFindings(path); !errors.Is(err, safefile.ErrNotRegular) {
		t.Errorf("OpenFindings(hard link) = %v, want ErrNotRegular", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "half a li" {
		t.Errorf("victim = %q: truncated", b)
	}
}

func TestCreateNeedsNewRunDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if _, err := Create(root, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, "r"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second Create = %v, want an error: the run directory exists", err)
	}
}
