package task

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/tool"
)

const docLine = "domain-name: 127.0.0.1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

// fakeBoundsTool runs the fake tool modes of the bounds tests; it reports
// false for a mode it does not know.
func fakeBoundsTool(mode string) bool {
	switch mode {
	case "doc": // 300 MB as one document on stdout, in short lines
		w := bufio.NewWriterSize(os.Stdout, 64<<10)
		line := []byte(docLine + "\n")
		for n := 0; n < 300_000_000; n += len(line) {
			if _, err := w.Write(line); err != nil {
				os.Exit(1)
			}
		}
		w.Flush()
	case "report": // a 3 MiB report file
		for _, a := range os.Args {
			if path, ok := strings.CutPrefix(a, "-report="); ok {
				line := docLine + "\n"
				data := strings.Repeat(line, 3<<20/len(line)+1)[:3<<20]
				if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
					os.Exit(1)
				}
			}
		}
	case "rss-probe": // task.Run of "doc" under a 100 MiB limit, then print the peak RSS
		runRSSProbe()
	default:
		return false
	}
	return true
}

// docDef is whois's definition running the fake tool in mode, with a
// document parser that records the size of what it was given.
func docDef(t testing.TB, mode string, got *atomic.Int64) *tool.Definition {
	t.Helper()
	d, ok := tool.NewRegistry().Lookup("whois")
	if !ok {
		t.Fatal("no whois definition")
	}
	c := *d
	c.Binary = os.Args[0]
	c.Fixed = []string{"-fake=" + mode}
	c.Parse.Document = func(_ *tool.ParseContext, data []byte, emit finding.Emit) error {
		got.Store(int64(len(data)))
		if len(data) > 0 && (data[len(data)-1] != '\n' || !bytes.HasPrefix(data, []byte(docLine+"\n"))) {
			return fmt.Errorf("document is not cut at a line end")
		}
		return nil
	}
	return &c
}

func warnings(c *collector) string {
	var ws []string
	for _, w := range c.of(finding.TypeWarning) {
		ws = append(ws, w.(*finding.Warning).Message)
	}
	return strings.Join(ws, "\n")
}

func TestRunDocumentOnStdoutBounded(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	c := &collector{}
	s := spec(t, docDef(t, "doc", &got), c, "localhost")
	s.MemoryLimit = 100 << 20
	s.RawLimit = -1
	res, err := Run(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Load(); n <= 0 || n > 100<<20 {
		t.Errorf("the parser got %d bytes, want some and at most the 100 MiB limit", n)
	}
	if res.State != StatePartial || res.Reason != "output-limit" {
		t.Errorf("state %s (%s), want partial (output-limit)", res.State, res.Reason)
	}
	w := warnings(c)
	if want := fmt.Sprintf("whois output exceeded the memory limit of %d bytes: it was cut at %d bytes and the tool was stopped", 100<<20, got.Load()); !strings.Contains(w, want) {
		t.Errorf("warnings %q, want %q", w, want)
	}
	if strings.Contains(w, "could not be read") {
		t.Errorf("the cut document did not parse: %q", w)
	}
}

func TestRunReportFileBounded(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	c := &collector{}
	d := docDef(t, "report", &got)
	d.Output.File = []string{"-report={file}"}
	s := spec(t, d, c, "localhost")
	s.OutputLimit = 1 << 20
	res, err := Run(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Load(); n != 1<<20 {
		t.Errorf("the parser got %d bytes, want the 1 MiB limit", n)
	}
	if res.State != StateDone {
		t.Errorf("state %s (%s), want done", res.State, res.Reason)
	}
	if want := fmt.Sprintf("whois output exceeded the output limit of %d bytes: it was cut at %d bytes of %d;", 1<<20, 1<<20, 3<<20); !strings.Contains(warnings(c), want) {
		t.Errorf("warnings %q, want %q", warnings(c), want)
	}
}

func TestRunRawLimit(t *testing.T) {
	t.Parallel()
	targets := []string{"http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b"}
	for _, tc := range []struct {
		limit    int64
		wantSize int64 // of stdout.txt; -1: no file
		wantWarn bool
	}{
		{limit: 0, wantSize: 3*int64(len(httpxLine(targets[0]))+1) + int64(len("this is not json\n"))},
		{limit: int64(len(httpxLine(targets[0])) + 1), wantSize: int64(len(httpxLine(targets[0])) + 1), wantWarn: true},
		{limit: -1, wantSize: -1},
	} {
		t.Run(strconv.FormatInt(tc.limit, 10), func(t *testing.T) {
			t.Parallel()
			c := &collector{}
			s := spec(t, fakeDef(t, "lines"), c, targets...)
			s.RawLimit = tc.limit
			if _, err := Run(t.Context(), s); err != nil {
				t.Fatal(err)
			}
			if n := len(c.of(finding.TypeURL)); n != 3 {
				t.Errorf("%d urls, want 3: the findings come from the whole output", n)
			}
			size := int64(-1)
			if fi, err := os.Stat(filepath.Join(s.RawDir, "stdout.txt")); err == nil {
				size = fi.Size()
			}
			if size != tc.wantSize {
				t.Errorf("stdout.txt has %d bytes, want %d", size, tc.wantSize)
			}
			warned := strings.Contains(warnings(c), "the raw output copy was cut at")
			if warned != tc.wantWarn {
				t.Errorf("warned %v, want %v: %q", warned, tc.wantWarn, warnings(c))
			}
		})
	}
}

func TestDocBuffer(t *testing.T) {
	t.Parallel()
	d := &docBuffer{limit: 10}
	for _, l := range []string{"abc", "defg"} {
		if !d.add([]byte(l)) {
			t.Fatalf("add(%q) refused under the limit", l)
		}
	}
	if d.add([]byte("h")) || !d.cut || string(d.buf) != "abc\ndefg\n" || cap(d.buf) > 10 {
		t.Errorf("after the limit: cut %v, buf %q (cap %d)", d.cut, d.buf, cap(d.buf))
	}
	if d.add(nil) {
		t.Error("add after a cut accepted a line")
	}
	d.release()

	// Over 64 KiB the buffer is a mapping, filled in place.
	m := &docBuffer{limit: 1 << 20}
	line := bytes.Repeat([]byte{'x'}, 1023)
	for m.add(line) {
	}
	if !m.mapped || len(m.buf) != 1<<20 || !bytes.Equal(m.buf[:1024], append(line, '\n')) {
		t.Errorf("mapped %v, %d bytes", m.mapped, len(m.buf))
	}
	m.release()
}

// TestRunDocumentRSS runs a task over a 300 MB document under a 100 MiB
// memory limit in a fresh process and reads its peak resident memory: the
// document buffer must stay within the limit (before the bound, the whole
// document was held, more than 300 MB).
func TestRunDocumentRSS(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("moves 100 MB through a pipe")
	}
	cmd := exec.Command(os.Args[0], "-fake=rss-probe")
	cmd.Env = append(os.Environ(), "GOGC=50")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	var hwm, parsed int64
	if _, err := fmt.Sscanf(string(out), "hwm=%d parsed=%d", &hwm, &parsed); err != nil {
		t.Fatalf("probe output %q: %v", out, err)
	}
	t.Logf("peak RSS %d MiB, parsed %d MiB", hwm>>20, parsed>>20)
	if parsed <= 0 || parsed > 100<<20 {
		t.Errorf("parsed %d bytes, want at most 100 MiB", parsed)
	}
	if hwm > maxProbeRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB (a 100 MiB document, the Go runtime and the test binary)", hwm>>20, maxProbeRSS>>20)
	}
}

// runRSSProbe is the fake tool mode behind TestRunDocumentRSS.
func runRSSProbe() {
	var got atomic.Int64
	d, _ := tool.NewRegistry().Lookup("whois")
	c := *d
	c.Binary = os.Args[0]
	c.Fixed = []string{"-fake=doc"}
	c.Parse.Document = func(_ *tool.ParseContext, data []byte, _ finding.Emit) error {
		got.Store(int64(len(data)))
		return nil
	}
	dir, err := os.MkdirTemp("", "rss-probe")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	_, err = Run(context.Background(), Spec{
		Tool: &c, Binary: c.Binary, Targets: []string{"localhost"}, Dir: dir,
		MemoryLimit: 100 << 20, Emit: func(finding.Finding) {},
	})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	status, _ := os.ReadFile("/proc/self/status")
	var hwm int64
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			hwm = kb << 10
		}
	}
	fmt.Printf("hwm=%d parsed=%d\n", hwm, got.Load())
}

// FuzzDocBuffer checks that a document never exceeds its limit and is the
// lines it accepted, in order, each followed by a newline.
func FuzzDocBuffer(f *testing.F) {
	f.Add([]byte("line one\nline two\n\nlast"), uint16(12))
	f.Add([]byte(docLine+"\n"+docLine), uint16(200))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		d := &docBuffer{limit: int64(limit)}
		defer d.release()
		var want []byte
		for _, l := range bytes.Split(data, []byte{'\n'}) {
			if d.add(l) {
				want = append(append(want, l...), '\n')
			}
		}
		if int64(len(d.buf)) > d.limit || !bytes.Equal(d.buf, want) {
			t.Errorf("limit %d: buf %q, want %q", limit, d.buf, want)
		}
	})
}

// TestRunNoRawDirNoWarning: without a raw directory (a server's workers)
// there is no copy to cut, so no warning whatever the output's size.
func TestRunNoRawDirNoWarning(t *testing.T) {
	t.Parallel()
	c := &collector{}
	s := spec(t, fakeDef(t, "lines"), c, "http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b")
	s.RawDir, s.RawLimit = "", 10
	if _, err := Run(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if w := warnings(c); strings.Contains(w, "raw output copy") {
		t.Errorf("warnings %q", w)
	}
}
