package tool

import (
	"slices"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestNucleiParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "nuclei", "nuclei.jsonl")
	if st.Garbage != 0 || st.Skipped != 0 {
		t.Fatalf("garbage %d, skipped %d (%v)", st.Garbage, st.Skipped, st.FirstError)
	}
	vulns := only[*finding.Vulnerability](fs)
	if len(vulns) != 6 || uniqueIDs(fs) != 6 {
		t.Fatalf("vulnerabilities = %d with %d unique ids, want 6", len(vulns), uniqueIDs(fs))
	}
	var git *finding.Vulnerability
	for _, v := range vulns {
		if v.ID == "local-git-config" && v.MatchedAt == "https://127.0.0.1:8443/.git/config" {
			git = v
		}
	}
	if git == nil {
		t.Fatal("local-git-config on :8443 not found")
	}
	if git.Name != "Exposed .git/config (local test)" || git.Severity != "medium" || git.SeverityRank != 3 ||
		git.IP != "127.0.0.1" || git.Provider != "nuclei" || !slices.Equal(git.CWEs, []string{"CWE-200"}) ||
		len(git.CVEs) != 0 || !slices.Equal(git.References, []string{"https://example.test/git-exposure"}) ||
		!slices.Equal(git.Extracted, []string{"https://example.test/repo.git"}) ||
		!slices.Equal(git.Tags, []string{"exposure", "git", "local"}) || git.TS.Year() != 2026 {
		t.Errorf("git-config = %+v", git)
	}
	if git.ExtraData["extractor_name"] != "remote" || git.ExtraData["template_path"] != "templates/git-config-exposure.yaml" ||
		git.ExtraData["curl_command"] == nil {
		t.Errorf("git-config extra = %v", git.ExtraData)
	}
	for _, v := range vulns {
		if v.ID == "secator-test-marker" && (v.Severity != "info" || v.Description == "") {
			t.Errorf("marker = %+v", v)
		}
	}
}

func TestNucleiParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "nuclei", "secator_nuclei_output.json")
	vulns := only[*finding.Vulnerability](fs)
	if len(vulns) != 1 || st.Garbage != 0 {
		t.Fatalf("vulnerabilities = %d, garbage = %d", len(vulns), st.Garbage)
	}
	v := vulns[0]
	if v.ID != "http-missing-security-headers" || v.Name != "HTTP Missing Security Headers (access-control-expose-headers)" ||
		v.MatchedAt != "https://example.synology.me" || v.Severity != "info" || len(v.References) != 0 ||
		v.ExtraData["matcher_name"] != "access-control-expose-headers" || len(v.ExtraData["authors"].([]string)) != 7 {
		t.Errorf("vulnerability = %+v", v)
	}
}

func TestNucleiParseMatchersAndClassification(t *testing.T) {
	t.Parallel()
	const head = `{"template-id":"http-missing-security-headers","info":{"name":"HTTP Missing Security Headers","severity":"info","tags":"misconfig,headers"},"type":"http","host":"127.0.0.1","matched-at":"http://127.0.0.1:8080",`
	fs := feedLines(t, "nuclei",
		head+`"matcher-name":"x-frame-options","matcher-status":true}`,
		head+`"matcher-name":"content-security-policy","matcher-status":true}`,
		head+`"matcher-name":"strict-transport-security","matcher-status":false}`,
		`{"template-id":"CVE-2021-41773","info":{"name":"Apache 2.4.49 - Path Traversal","severity":"critical","reference":"https://a.example, https://b.example","classification":{"cve-id":"cve-2021-41773","cwe-id":["cwe-22"],"cvss-metrics":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","cvss-score":"9.8","epss-score":0.97,"epss-percentile":0.999,"cpe":"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*"}},"type":"http","matched-at":"http://127.0.0.1:8080/cgi-bin/.%2e/.%2e/etc/passwd","ip":"127.0.0.1","timestamp":"2026-11-28T14:56:55Z"}`,
		`{"duration":"0:00:05","errors":"0","hosts":"1","matched":"0"}`,
	)
	vulns := only[*finding.Vulnerability](fs)
	// Two matchers of one template are two findings; a failed match (-ms)
	// and a stats line are none.
	if len(vulns) != 3 || uniqueIDs(fs) != 3 {
		t.Fatalf("vulnerabilities = %d with %d ids, want 3", len(vulns), uniqueIDs(fs))
	}
	if vulns[0].ID != "http-missing-security-headers" || vulns[0].Name != "HTTP Missing Security Headers (x-frame-options)" ||
		!slices.Equal(vulns[0].Tags, []string{"misconfig", "headers"}) {
		t.Errorf("matcher finding = %+v", vulns[0])
	}
	c := vulns[2]
	if c.Severity != "critical" || c.CVSSScore != 9.8 || c.EPSSScore != 0.97 || !slices.Equal(c.CVEs, []string{"CVE-2021-41773"}) ||
		!slices.Equal(c.CWEs, []string{"CWE-22"}) || len(c.References) != 2 || c.CVSSVector == "" ||
		c.ExtraData["cpe"] == nil || c.ExtraData["epss_percentile"] != 0.999 {
		t.Errorf("cve finding = %+v", c)
	}
}

func TestNucleiCommand(t *testing.T) {
	t.Parallel()
	cmd, _ := mustBuildTool(t, "nuclei", []string{"http://127.0.0.1:8080", "127.0.0.1:22"}, map[string][]string{
		"templates": {"/t/a.yaml", "/t/dir"}, "tags": {"cve", "exposure"}, "severity": {"high,critical"},
		"rate_limit": {"50"}, "timeout": {"5s"}, "header": {"Authorization: Bearer x"},
	})
	wantArgs(t, cmd.Argv, "-t /t/a.yaml -t /t/dir", "-tags cve,exposure", "-s high,critical", "-rl 50",
		"-timeout 5", "-ni", "-jsonl -silent -duc -nc -or -ot -no-stdin", "-l")
	wantSeq(t, cmd.Argv, "-H", "Authorization: Bearer x")

	cmd, _ = mustBuildTool(t, "nuclei", []string{"example.com"}, map[string][]string{"no_interactsh": {"false"}})
	noArgs(t, cmd.Argv, "-ni")
}

func TestNucleiVersionRegex(t *testing.T) {
	t.Parallel()
	assertVersionRegex(t, "nuclei", "[INF] Nuclei Engine Version: v3.10.0\n", "3.10.0")
}

func FuzzNucleiLine(f *testing.F) {
	fuzzLineParser(f, "nuclei", "nuclei.jsonl")
}
