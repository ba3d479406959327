package tool

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestGitleaksParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "gitleaks", "gitleaks.json", "/src/leakrepo")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	tags := only[*finding.Tag](fs)
	if len(tags) != 2 {
		t.Fatalf("tags = %d, want 2", len(tags))
	}
	g := tags[0]
	// git mode gives paths relative to the repository: they are put under
	// the scanned path.
	if g.Name != "github-pat" || g.Category != "secret" || g.Match != "/src/leakrepo/config.py:2" ||
		g.Value != "ghp_…" || g.ExtraData["commit"] != "c869945c3b4df4bb01ed014bf8be219c226d6b11" ||
		g.ExtraData["author"] != "t" || g.ExtraData["email"] != "t@example.test" || g.ExtraData["entropy"] != 5.171928 ||
		!strings.HasPrefix(g.ExtraData["description"].(string), "Uncovered a GitHub Personal Access Token") {
		t.Errorf("github-pat = %+v", g)
	}
	if s := tags[1]; s.Name != "slack-webhook-url" || s.Match != "/src/leakrepo/config.py:3" || s.Value != "http…" {
		t.Errorf("slack = %+v", s)
	}
	// No finding carries a secret in clear.
	raw, _ := os.ReadFile(filepath.Join("testdata", "gitleaks.json"))
	for _, f := range fs {
		for _, secret := range []string{"ghp_4sT9wQ2xYbV7kL1mN8pR3dF6hJ0zC5aE2uIo", "abcdefghijklmnopqrstuvwx"} {
			if !strings.Contains(string(raw), secret) {
				t.Fatalf("fixture lost its secret %q", secret)
			}
			if strings.Contains(fmt.Sprintf("%+v", f), secret) {
				t.Errorf("finding %+v holds the secret", f)
			}
		}
	}
}

func TestGitleaksParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "gitleaks", "secator_gitleaks_output.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	tags := only[*finding.Tag](fs)
	if len(tags) != 2 || uniqueIDs(fs) != 2 {
		t.Fatalf("tags = %d (%d ids), want 2", len(tags), uniqueIDs(fs))
	}
	g := tags[1]
	if g.Name != "aws-access-token" || g.Match != "/home/osboxes/Workspace/secator/tests/unit/test_runners.py:216" ||
		g.Value != "AKIA…" || g.ExtraData["commit"] != nil {
		t.Errorf("aws = %+v", g)
	}
}

func TestGitleaksReportErrors(t *testing.T) {
	t.Parallel()
	n := 0
	emit := func(finding.Finding) { n++ }
	if err := parseGitleaksReport(&ParseContext{}, nil, emit); err == nil {
		t.Error("empty report: no error")
	}
	err := parseGitleaksReport(&ParseContext{}, []byte(`[{"RuleID":"x","File":"a","StartLine":1,"Secret":"password123"},{"RuleID":3}]`), emit)
	if err == nil || n != 1 {
		t.Errorf("one bad entry: error %v, %d findings", err, n)
	}
}

func TestMaskSecret(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                     "",
		"AKIA1234567890ABCDEF": "AKIA…",
		"hunter2":              "hu…",
		"ab":                   "…",
		"REDACTED":             "REDACTED",
		"ghp_4sT9wQ2xYbV7...":  "ghp_…",
		"пароль-секрет-длинный": "паро…",
	} {
		if got := maskSecret(in); got != want {
			t.Errorf("maskSecret(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnderRoot(t *testing.T) {
	t.Parallel()
	for _, tc := range [][3]string{
		{"/src/repo", "config.py", "/src/repo/config.py"},
		{"/src/repo", "/src/repo/config.py", "/src/repo/config.py"},
		{"./repo", "repo/a/b.env", "repo/a/b.env"},
		{"./repo/", "a/b.env", "repo/a/b.env"},
		{".", "config.py", "config.py"},
		{"", "config.py", "config.py"},
		{"/src/repo", "/etc/passwd", "/etc/passwd"},
	} {
		if got := underRoot(tc[0], tc[1]); got != tc[2] {
			t.Errorf("underRoot(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestGitleaksBuild(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("gitleaks")
	dir := t.TempDir()
	for _, tc := range []struct {
		opts map[string][]string
		want []string
	}{
		{nil, []string{"gitleaks", "dir"}},
		{map[string][]string{"mode": {"git"}, "enable_rule": {"github-pat", "aws-access-token"}},
			[]string{"gitleaks", "git", "--enable-rule", "github-pat,aws-access-token"}},
	} {
		cmd, err := d.Build(Invocation{Targets: []string{"/src/leakrepo"}, Options: tc.opts, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		want := append(tc.want, "--no-banner", "--no-color", "--exit-code", "0",
			"--report-format", "json", "--report-path", filepath.Join(dir, "output.json"), "/src/leakrepo")
		if !slices.Equal(cmd.Argv, want) {
			t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
		}
	}
	if _, err := d.Build(Invocation{Targets: []string{"/a", "/b"}, Dir: dir}); err == nil {
		t.Error("two targets accepted")
	}
}

func FuzzParseGitleaks(f *testing.F) {
	for _, file := range []string{"gitleaks.json", "secator_gitleaks_output.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[{"RuleID":"r","File":"../x","StartLine":-1,"Secret":"\u00ff\u00fe"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseGitleaksReport(&ParseContext{Targets: []string{"/src/repo"}}, data, func(fd finding.Finding) {
			if tag, ok := fd.(*finding.Tag); ok && tag.Value != "" && tag.Value != "REDACTED" &&
				(!strings.HasSuffix(tag.Value, "…") || utf8.RuneCountInString(tag.Value) > 5) {
				t.Fatalf("secret not masked: %q", tag.Value)
			}
			fuzzEmitWellFormed(t)(fd)
		})
	})
}
