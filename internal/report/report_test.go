package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
)

func stamped(f finding.Finding) finding.Finding {
	finding.Stamp(f, finding.Scope{Run: "r1", Source: finding.Source{Tool: "t"}}, time.Now())
	return f
}

func TestFindingsWriterDedupesAcrossReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FindingsFile)
	fw, err := OpenFindings(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []finding.Finding{
		&finding.URL{URL: "http://a/"}, &finding.URL{URL: "http://A/"}, &finding.Port{IP: "10.0.0.1", Port: 22},
	} {
		if _, err := fw.Write(stamped(f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash can leave a torn last line; it is ignored on reopen.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"_type":"url","_id":"abc`)
	f.Close()

	fw, err = OpenFindings(path)
	if err != nil {
		t.Fatal(err)
	}
	if c := fw.Counts(); c[finding.TypeURL] != 1 || c[finding.TypePort] != 1 {
		t.Errorf("counts after reopen = %v, want 1 url, 1 port", c)
	}
	isNew, err := fw.Write(stamped(&finding.Port{IP: "10.0.0.1", Port: 22}))
	if err != nil || isNew {
		t.Errorf("rewrite of a stored finding: new=%v err=%v", isNew, err)
	}
	isNew, _ = fw.Write(stamped(&finding.Port{IP: "10.0.0.1", Port: 23}))
	if !isNew {
		t.Error("a new finding was not written")
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), `"_type":"port"`); n != 2 {
		t.Errorf("ports in file = %d, want 2:\n%s", n, data)
	}
}

func TestFindingsWriterRejectsUnstamped(t *testing.T) {
	t.Parallel()
	fw := NewFindingsWriter(&strings.Builder{})
	if _, err := fw.Write(&finding.URL{URL: "http://a/"}); err == nil {
		t.Error("a finding without an id was written")
	}
}

func TestRunDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	id := NewRunID(time.Date(2026, 11, 28, 16, 32, 0, 0, time.UTC))
	if !strings.HasPrefix(id, "20261128-163200-") || len(id) != len("20261128-163200-")+6 {
		t.Errorf("run id = %q", id)
	}
	d, err := Create(root, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{RawDir, WorkDir} {
		st, err := os.Stat(d.File(sub))
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, mode %v; want 0700", sub, err, st.Mode().Perm())
		}
	}
	m := &Meta{ID: id, Tool: "httpx", State: "done", Counts: map[finding.Type]int{finding.TypeURL: 3}}
	if err := d.WriteMeta(m); err != nil {
		t.Fatal(err)
	}
	back, err := ReadMeta(d.Path)
	if err != nil || back.ID != id || back.Counts[finding.TypeURL] != 3 || back.Schema != finding.SchemaVersion {
		t.Errorf("ReadMeta = %+v, %v", back, err)
	}
	if os.Geteuid() != 0 { // root can write anywhere
		ro := filepath.Join(root, "ro")
		os.Mkdir(ro, 0o500)
		if _, err := Create(ro, "x"); err == nil {
			t.Error("created a run directory in a read-only directory")
		}
	}
}

func TestIDSet(t *testing.T) {
	t.Parallel()
	var s idSet
	ref := map[uint64]bool{}
	x := uint64(88172645463325252)
	for i := range 200000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		k := x % 150000 // many repeats
		if i%1000 == 0 {
			k = 0
		}
		if got, want := s.add(k), !ref[k]; got != want {
			t.Fatalf("add(%d) = %v, want %v", k, got, want)
		}
		ref[k] = true
	}
	for k := range ref {
		if !s.has(k) {
			t.Fatalf("lost %d", k)
		}
	}
	if s.has(150001) {
		t.Error("has a key never added")
	}
}

func TestFindingsWriterFlushesWhenQuiet(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FindingsFile)
	fw, err := OpenFindings(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	// Two findings in quick succession: the second lands in the buffer and
	// must reach the file although nothing else is written after it.
	fw.Write(stamped(&finding.URL{URL: "http://a/1"}))
	fw.Write(stamped(&finding.URL{URL: "http://a/2"}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Count(string(data), "\n") == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("buffered finding never flushed: %q", data)
		}
		time.Sleep(10 * time.Millisecond) // polling a file: no event to wait on
	}
}

func TestOpenFindingsDropsTornLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FindingsFile)
	whole := `{"_type":"url","_id":"0123456789abcdef0123456789abcdef","url":"http://a/"}` + "\n"
	if err := os.WriteFile(path, []byte(whole+`{"_type":"url","_id":"fedc`), 0o644); err != nil {
		t.Fatal(err)
	}
	fw, err := OpenFindings(path)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(stamped(&finding.URL{URL: "http://b/"}))
	fw.Close()
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 || lines[0]+"\n" != whole || !strings.Contains(lines[1], `"url":"http://b/"`) {
		t.Errorf("file after reopen:\n%s", data)
	}
}
