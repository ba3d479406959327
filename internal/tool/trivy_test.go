package tool

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestTrivyParseSecrets(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "trivy", "trivy-secret.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	tags := only[*finding.Tag](fs)
	if len(tags) != 2 || len(fs) != 2 {
		t.Fatalf("findings = %d, tags = %d, want 2", len(fs), len(tags))
	}
	g := tags[0]
	if g.Name != "github-pat" || g.Category != "secret" || g.Match != "/src/leakrepo/config.py:2" || g.Value != "" ||
		g.ExtraData["severity"] != "critical" || g.ExtraData["title"] != "GitHub Personal Access Token" ||
		g.ExtraData["provider"] != "GitHub" ||
		g.ExtraData["line"] != `GITHUB_TOKEN = "****************************************"` {
		t.Errorf("github-pat = %+v", g)
	}
	// gitleaks reports the same secret at the same place.
	leaks, _ := parseFixture(t, "gitleaks", "gitleaks.json", "/src/leakrepo")
	if l := only[*finding.Tag](leaks)[0]; l.Match != g.Match {
		t.Errorf("gitleaks matches %q, trivy %q", l.Match, g.Match)
	}
}

func TestTrivyParseConfig(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "trivy", "trivy-config.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	vulns := only[*finding.Vulnerability](fs)
	if len(vulns) != 4 || uniqueIDs(fs) != 4 {
		t.Fatalf("vulnerabilities = %d (%d ids), want 4", len(vulns), uniqueIDs(fs))
	}
	v := vulns[1]
	if v.Name != "Image user should not be 'root'" || v.ID != "DS-0002" || v.Provider != "trivy" ||
		v.MatchedAt != "/opt/iac/Dockerfile:2" || v.Severity != "high" || v.SeverityRank != 4 ||
		!strings.HasPrefix(v.Description, "Running containers with 'root' user") ||
		!slices.Equal(v.References, []string{"https://docs.docker.com/develop/develop-images/dockerfile_best-practices/",
			"https://avd.aquasec.com/misconfig/ds-0002"}) ||
		!slices.Equal(v.Tags, []string{"misconfiguration", "dockerfile"}) ||
		v.ExtraData["message"] != "Last USER command in Dockerfile should not be 'root'" ||
		v.ExtraData["resolution"] != "Add 'USER <non root user name>' line to the Dockerfile" {
		t.Errorf("DS-0002 = %+v", v)
	}
	// A check without a cause line matches the file.
	if v := vulns[3]; v.ID != "DS-0026" || v.MatchedAt != "/opt/iac/Dockerfile" || v.Severity != "low" {
		t.Errorf("DS-0026 = %+v", v)
	}
}

func TestTrivyParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "trivy", "secator_trivy_output.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	vulns := only[*finding.Vulnerability](fs)
	if len(vulns) != 3 || uniqueIDs(fs) != 3 {
		t.Fatalf("vulnerabilities = %d (%d ids), want 3", len(vulns), uniqueIDs(fs))
	}
	v := vulns[0]
	if v.Name != "CVE-2024-8775" || v.ID != "CVE-2024-8775" || v.Provider != "ghsa" ||
		v.MatchedAt != "https://github.com/blacklanternsecurity/bbot/poetry.lock:ansible-core@2.15.13" ||
		v.Severity != "high" || v.CVSSScore != 5.5 || v.CVSSVector != "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N" ||
		!slices.Equal(v.CVEs, []string{"CVE-2024-8775"}) || !slices.Equal(v.CWEs, []string{"CWE-532"}) ||
		len(v.References) != 13 || v.ExtraData["fixed_version"] != "2.17.6, 2.16.13" ||
		v.ExtraData["installed_version"] != "2.15.13" || v.ExtraData["package"] != "ansible-core" {
		t.Errorf("CVE-2024-8775 = %+v", v)
	}
}

func TestTrivyLocation(t *testing.T) {
	t.Parallel()
	for _, tc := range [][4]string{
		{"/src/repo", "repository", "config.py", "/src/repo/config.py"},
		{".", "filesystem", "config.py", "config.py"},
		{"app.py", "filesystem", "app.py", "app.py"},
		{"https://github.com/o/r/", "repository", "go.sum", "https://github.com/o/r/go.sum"},
		{"alpine:3.19", "container_image", "alpine:3.19 (alpine 3.19.1)", "alpine:3.19 (alpine 3.19.1)"},
	} {
		if got := trivyLocation(tc[0], tc[1], tc[2]); got != tc[3] {
			t.Errorf("trivyLocation(%q, %q, %q) = %q, want %q", tc[0], tc[1], tc[2], got, tc[3])
		}
	}
}

func TestTrivyBuild(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("trivy")
	dir := t.TempDir()
	out := filepath.Join(dir, "output.json")
	tail := []string{"--skip-check-update", "--skip-version-check", "--disable-telemetry", "-f", "json", "-o", out, "/src/repo"}
	for _, tc := range []struct {
		opts map[string][]string
		want []string
	}{
		{nil, []string{"trivy", "fs", "--skip-db-update", "--skip-java-db-update", "--offline-scan", "--scanners", "secret,misconfig"}},
		{map[string][]string{"scanners": {"secret"}, "severity": {"HIGH", "CRITICAL"}},
			[]string{"trivy", "fs", "--skip-db-update", "--skip-java-db-update", "--offline-scan", "--scanners", "secret",
				"--severity", "HIGH,CRITICAL"}},
	} {
		cmd, err := d.Build(Invocation{Targets: []string{"/src/repo"}, Options: tc.opts, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if want := append(tc.want, tail...); !slices.Equal(cmd.Argv, want) {
			t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
		}
	}
}

func FuzzParseTrivy(f *testing.F) {
	for _, file := range []string{"trivy-secret.json", "trivy-config.json", "secator_trivy_output.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseTrivyReport(&ParseContext{}, data, fuzzEmitWellFormed(t))
	})
}
