package tool

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestSubfinderParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "subfinder", "subfinder.jsonl")
	if st.Garbage != 0 || st.Skipped != 0 {
		t.Fatalf("garbage %d, skipped %d (%v)", st.Garbage, st.Skipped, st.FirstError)
	}
	subs := only[*finding.Subdomain](fs)
	if len(subs) != 5 || uniqueIDs(fs) != 5 {
		t.Fatalf("subdomains = %d, want 5", len(subs))
	}
	for _, s := range subs {
		if s.Domain != "test.local" || len(s.Sources) != 1 || s.Verified {
			t.Errorf("subdomain = %+v", s)
		}
	}
	if s := subs[0]; s.Host != "api.test.local" || s.Sources[0] != "crtsh" {
		t.Errorf("first = %+v", s)
	}
	if s := subs[1]; s.Host != "dev.test.local" || s.ExtraData["wildcard_certificate"] != true {
		t.Errorf("wildcard = %+v", s)
	}
}

func TestSubfinderParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, _ := parseFixture(t, "subfinder", "secator_subfinder_output.json")
	subs := only[*finding.Subdomain](fs)
	if len(subs) != 1 || subs[0].Host != "git.example.synology.me" || subs[0].Domain != "example.synology.me" ||
		!slices.Equal(subs[0].Sources, []string{"alienvault", "crtsh"}) {
		t.Fatalf("subdomains = %+v", subs)
	}
}

func TestSubfinderParseActive(t *testing.T) {
	t.Parallel()
	fs := feedLines(t, "subfinder",
		`{"host":"www.test.local","ip":"127.0.0.1","input":"test.local","source":"crtsh"}`,
		`[INF] Found 1 subdomains for test.local in 2 seconds`,
		`{"input":"test.local"}`,
	)
	subs, ips := only[*finding.Subdomain](fs), only[*finding.IP](fs)
	if len(subs) != 1 || !subs[0].Verified || len(ips) != 1 || ips[0].IP != "127.0.0.1" || ips[0].Host != "www.test.local" {
		t.Errorf("subdomains %+v, ips %+v", subs, ips)
	}
}

func TestSubfinderCommand(t *testing.T) {
	t.Parallel()
	cmd, dir := mustBuildTool(t, "subfinder", []string{"test.local", "example.com"}, map[string][]string{
		"sources": {"crtsh", "hackertarget"}, "active": {"true"}, "max_time": {"90s"}, "timeout": {"5s"},
		"proxy": {"http://127.0.0.1:8899"},
	})
	wantArgs(t, cmd.Argv, "-s crtsh,hackertarget", "-nW -oI", "-max-time 2", "-timeout 5",
		"-proxy http://127.0.0.1:8899", "-json -silent -duc -nc -cs", "-dL "+filepath.Join(dir, "targets.txt"))
	assertTargetsFile(t, dir, "test.local\nexample.com\n")

	cmd, _ = mustBuildTool(t, "subfinder", []string{"test.local"}, map[string][]string{"active": {"false"}, "max_time": {"10s"}})
	noArgs(t, cmd.Argv, "-nW", "-oI")
	wantArgs(t, cmd.Argv, "-max-time 1")
}

func TestSubfinderVersionRegex(t *testing.T) {
	t.Parallel()
	assertVersionRegex(t, "subfinder", "[INF] Current Version: v2.11.0\n", "2.11.0")
}

func FuzzSubfinderLine(f *testing.F) {
	fuzzLineParser(f, "subfinder", "subfinder.jsonl")
}
