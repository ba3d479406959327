package tool

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestNaabuParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "naabu", "naabu.jsonl")
	if st.Garbage != 0 || st.Skipped != 0 {
		t.Fatalf("garbage %d, skipped %d (%v)", st.Garbage, st.Skipped, st.FirstError)
	}
	ports := only[*finding.Port](fs)
	// naabu prints every open port twice; both lines give the same id.
	if len(ports) != 4 || uniqueIDs(fs) != 2 {
		t.Fatalf("ports = %d with %d unique ids, want 4 with 2", len(ports), uniqueIDs(fs))
	}
	var got []int
	for _, p := range ports {
		if p.IP != "127.0.0.1" || p.Protocol != "tcp" || p.State != "open" || p.Host != "" || p.TS.Year() != 2026 {
			t.Errorf("port = %+v", p)
		}
		got = append(got, p.Port)
	}
	if !slices.Equal(got, []int{8080, 8443, 8080, 8443}) {
		t.Errorf("ports = %v", got)
	}
}

func TestNaabuParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "naabu", "secator_naabu_output.json")
	ports := only[*finding.Port](fs)
	if len(ports) != 1 || st.Garbage != 0 {
		t.Fatalf("ports = %d, garbage = %d", len(ports), st.Garbage)
	}
	p := ports[0]
	if p.Host != "example.synology.me" || p.IP != "82.61.107.110" || p.Port != 5357 || p.Protocol != "tcp" {
		t.Errorf("port = %+v", p)
	}
}

func TestNaabuParseServiceAndCDN(t *testing.T) {
	t.Parallel()
	fs := feedLines(t, "naabu",
		`{"host":"example.com","ip":"93.184.216.34","port":443,"protocol":"tcp","tls":true,"cdn":true,"cdn-name":"edgecast","name":"https","product":"ECAcc","version":"1.0","cpes":["cpe:/a:x:y"]}`,
		`{"ip":"10.0.0.1","port":53,"protocol":1}`,
		`[INF] not json`,
		`{"ip":"10.0.0.1"}`,
	)
	ports := only[*finding.Port](fs)
	if len(ports) != 2 {
		t.Fatalf("ports = %d, want 2", len(ports))
	}
	p := ports[0]
	if p.Host != "example.com" || !p.TLS || p.ServiceName != "https" || p.Product != "ECAcc" ||
		p.Version != "1.0" || len(p.CPEs) != 1 || p.ExtraData["cdn_name"] != "edgecast" {
		t.Errorf("port = %+v", p)
	}
	if ports[1].Protocol != "udp" {
		t.Errorf("numeric protocol 1 = %q, want udp", ports[1].Protocol)
	}
}

func TestNaabuCommand(t *testing.T) {
	t.Parallel()
	cmd, dir := mustBuildTool(t, "naabu", []string{"127.0.0.1", "10.0.0.0/30"}, map[string][]string{
		"ports": {"80,443"}, "timeout": {"500ms"}, "threads": {"5"}, "rate_limit": {"100"},
		"proxy": {"socks5://user:pw@127.0.0.1:1080"},
	})
	wantArgs(t, cmd.Argv, "-p 80,443", "-timeout 500ms", "-c 5", "-rate 100", "-s c",
		"-proxy 127.0.0.1:1080", "-proxy-auth user:pw", "-json -silent -duc -nc -no-stdin",
		"-l "+filepath.Join(dir, "targets.txt"))
	assertTargetsFile(t, dir, "127.0.0.1\n10.0.0.0/30\n")

	// A proxy without a scheme is passed as it is.
	if got := naabuProxyArgs("127.0.0.1:1080"); !slices.Equal(got, []string{"-proxy", "127.0.0.1:1080"}) {
		t.Errorf("proxy args = %q", got)
	}
}

func TestNaabuVersionRegex(t *testing.T) {
	t.Parallel()
	assertVersionRegex(t, "naabu", "[INF] Current Version: 2.6.1\n", "2.6.1")
}

func FuzzNaabuLine(f *testing.F) {
	fuzzLineParser(f, "naabu", "naabu.jsonl", "secator_naabu_output.json")
}

// ---- helpers shared by the tests of naabu, katana, ffuf, nuclei, dnsx and
// subfinder.

// feedLines runs the named tool's line parser over lines, as the task runner
// does with stdout, and returns the stamped findings.
func feedLines(t *testing.T, tool string, lines ...string) []finding.Finding {
	t.Helper()
	return feedLinesWith(t, tool, nil, lines...)
}

func feedLinesWith(t *testing.T, tool string, targets []string, lines ...string) []finding.Finding {
	t.Helper()
	d, ok := NewRegistry().Lookup(tool)
	if !ok {
		t.Fatalf("no tool %q", tool)
	}
	var out []finding.Finding
	scope := finding.Scope{Run: "test-run", Source: finding.Source{Tool: tool}}
	lp := &LineParser{Def: d, PC: &ParseContext{Targets: targets}, Emit: func(f finding.Finding) {
		finding.Stamp(f, scope, stampTime)
		out = append(out, f)
	}}
	for _, l := range lines {
		lp.Feed([]byte(l))
	}
	return out
}

// stampTime is the time parseFixture stamps findings with.
var stampTime = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

// mustBuildTool builds the named tool's command in a fresh directory.
func mustBuildTool(t *testing.T, tool string, targets []string, opts map[string][]string) (*Command, string) {
	t.Helper()
	d, ok := NewRegistry().Lookup(tool)
	if !ok {
		t.Fatalf("no tool %q", tool)
	}
	dir := t.TempDir()
	cmd, err := d.Build(Invocation{Targets: targets, Options: opts, Dir: dir})
	if err != nil {
		t.Fatalf("build %s: %v", tool, err)
	}
	if cmd.Argv[0] != d.Binary {
		t.Errorf("argv[0] = %q, want %q", cmd.Argv[0], d.Binary)
	}
	return cmd, dir
}

// wantArgs checks that each space-separated sequence appears in argv, in
// that order of elements.
func wantArgs(t *testing.T, argv []string, seqs ...string) {
	t.Helper()
	for _, s := range seqs {
		if !containsSeq(argv, strings.Split(s, " ")) {
			t.Errorf("argv %q lacks %q", argv, s)
		}
	}
}

// wantSeq checks that the elements appear in argv in a row (for values
// with spaces).
func wantSeq(t *testing.T, argv []string, elems ...string) {
	t.Helper()
	if !containsSeq(argv, elems) {
		t.Errorf("argv %q lacks %q", argv, elems)
	}
}

// noArgs checks that none of the given elements appears in argv.
func noArgs(t *testing.T, argv []string, args ...string) {
	t.Helper()
	for _, a := range args {
		if slices.Contains(argv, a) {
			t.Errorf("argv %q has %q", argv, a)
		}
	}
}

func containsSeq(argv, seq []string) bool {
	for i := 0; i+len(seq) <= len(argv); i++ {
		if slices.Equal(argv[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

func assertTargetsFile(t *testing.T, dir, want string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "targets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("targets file = %q, want %q", b, want)
	}
}

func assertVersionRegex(t *testing.T, tool, output, want string) {
	t.Helper()
	d, _ := NewRegistry().Lookup(tool)
	m := regexp.MustCompile(d.Version.Regex).FindStringSubmatch(output)
	if len(m) < 2 || m[1] != want {
		t.Errorf("%s version from %q = %q, want %q", tool, output, m, want)
	}
	if d.Install.Go == nil || d.Install.Go.Module == "" || d.Install.Go.Version == "" {
		t.Errorf("%s has no pinned install recipe", tool)
	}
}

// fuzzLineParser fuzzes a tool's line parser with its fixture lines as seeds:
// no input may panic.
func fuzzLineParser(f *testing.F, tool string, files ...string) {
	for _, file := range files {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			f.Add([]byte(l))
		}
	}
	d, _ := NewRegistry().Lookup(tool)
	f.Fuzz(func(t *testing.T, line []byte) {
		emit := func(fd finding.Finding) {
			finding.Stamp(fd, finding.Scope{Run: "fuzz"}, stampTime)
			_ = fd.Identity()
		}
		_ = d.Parse.Line(&ParseContext{Targets: []string{"test.local"}}, line, emit)
	})
}
