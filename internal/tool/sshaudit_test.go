package tool

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestSSHAuditParse(t *testing.T) {
	t.Parallel()
	// The capture came from "ssh-audit -j -p 2222 127.0.0.1": the port is
	// only in the task's target.
	fs, st := parseFixture(t, "ssh-audit", "ssh-audit.json", "127.0.0.1:2222")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	techs := only[*finding.Technology](fs)
	if len(techs) != 1 {
		t.Fatalf("technologies = %d, want 1", len(techs))
	}
	tc := techs[0]
	fps, _ := tc.ExtraData["host_key_fingerprints"].(map[string]string)
	if tc.Product != "OpenSSH" || tc.Version != "9.2p1" || tc.Match != "127.0.0.1:2222" ||
		!slices.Equal(tc.Categories, []string{"ssh"}) ||
		tc.ExtraData["banner"] != "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10" ||
		fps["ssh-ed25519"] != "SHA256:BBlB1jAOze/oaC4lAJMGM+0bFvFOR+8Wf/bnKdOL+CM" || len(fps) != 2 {
		t.Errorf("technology = %+v", tc)
	}

	// The same ratings ssh-audit 2.5.0 prints in its text output for this
	// server (fail for the NIST curves, warn for the weak MACs), without
	// "unknown algorithm" for the post-2.5 sntrup761x25519-sha512 and
	// kex-strict-s-v00@openssh.com.
	vulns := only[*finding.Vulnerability](fs)
	var got []string
	for _, v := range vulns {
		got = append(got, v.Severity+" "+v.Name+" "+v.ID)
	}
	want := []string{
		"low Weak SSH key exchange algorithm sntrup761x25519-sha512@openssh.com",
		"medium Weak SSH key exchange algorithm ecdh-sha2-nistp256",
		"medium Weak SSH key exchange algorithm ecdh-sha2-nistp384",
		"medium Weak SSH key exchange algorithm ecdh-sha2-nistp521",
		"medium Weak SSH host key algorithm ecdsa-sha2-nistp256",
		"low Weak SSH MAC algorithm umac-64-etm@openssh.com",
		"low Weak SSH MAC algorithm hmac-sha1-etm@openssh.com",
		"low Weak SSH MAC algorithm umac-64@openssh.com",
		"low Weak SSH MAC algorithm umac-128@openssh.com",
		"low Weak SSH MAC algorithm hmac-sha2-256",
		"low Weak SSH MAC algorithm hmac-sha2-512",
		"low Weak SSH MAC algorithm hmac-sha1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("vulnerabilities =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	v := vulns[4]
	if v.MatchedAt != "127.0.0.1:2222" || v.IP != "127.0.0.1" || v.Provider != "ssh-audit" || v.SeverityRank != 3 ||
		v.Description != "fail: using weak elliptic curves | warn: using weak random number generator could reveal the key" ||
		!slices.Equal(v.Tags, []string{"ssh", "key"}) {
		t.Errorf("ecdsa-sha2-nistp256 = %+v", v)
	}
	if len(fs) != len(techs)+len(vulns) || uniqueIDs(fs) != len(fs) {
		t.Errorf("findings = %d (%d unique), want %d", len(fs), uniqueIDs(fs), len(techs)+len(vulns))
	}
}

// Without a port anywhere the audited port is ssh-audit's default, 22.
func TestSSHAuditParseDefaultPort(t *testing.T) {
	t.Parallel()
	fs, _ := parseFixture(t, "ssh-audit", "ssh-audit.json")
	if tc := only[*finding.Technology](fs); len(tc) != 1 || tc[0].Match != "127.0.0.1:22" {
		t.Errorf("technology = %+v", tc)
	}
}

// ssh-audit 3.x adds notes to every algorithm, a cves list and the port in
// target. No 3.x build is installable here, so this document follows the
// shape of its build_struct by hand.
func TestSSHAuditParseNotes(t *testing.T) {
	t.Parallel()
	doc := `{"banner": {"comments": null, "protocol": "2.0", "raw": "SSH-2.0-dropbear_2019.78", "software": "dropbear_2019.78"},
 "compression": ["zlib@openssh.com", "none"],
 "cves": [{"cvssv2": 7.0, "description": "privilege escalation via supplemental groups", "name": "CVE-2021-41617"}],
 "enc": [{"algorithm": "aes128-ctr", "notes": {"info": ["available since OpenSSH 3.7"]}},
         {"algorithm": "3des-ctr", "notes": {"warn": ["using weak cipher"]}}],
 "kex": [{"algorithm": "diffie-hellman-group1-sha1", "notes": {"fail": ["using small 1024-bit modulus"], "warn": ["using weak hashing algorithm"]}}],
 "key": [{"algorithm": "ssh-rsa", "keysize": 2048, "notes": {"fail": ["using broken SHA-1 hash algorithm"]}}],
 "mac": [{"algorithm": "hmac-sha1", "notes": {}}],
 "fingerprints": [], "recommendations": {}, "additional_notes": [""],
 "target": "[2001:db8::5]:2200"}`
	var fs []finding.Finding
	if err := parseSSHAudit(&ParseContext{}, []byte(doc), func(f finding.Finding) { fs = append(fs, f) }); err != nil {
		t.Fatal(err)
	}
	techs := only[*finding.Technology](fs)
	if len(techs) != 1 || techs[0].Product != "dropbear" || techs[0].Version != "2019.78" || techs[0].Match != "[2001:db8::5]:2200" {
		t.Errorf("technology = %+v", techs)
	}
	var got []string
	for _, v := range only[*finding.Vulnerability](fs) {
		v.Normalize()
		got = append(got, v.Severity+" "+v.ID+" "+v.MatchedAt+" "+v.IP)
	}
	// hmac-sha1 is rated by the notes (none), not by the 2.5 table (warn).
	want := []string{
		"medium diffie-hellman-group1-sha1 [2001:db8::5]:2200 2001:db8::5",
		"medium ssh-rsa [2001:db8::5]:2200 2001:db8::5",
		"low 3des-ctr [2001:db8::5]:2200 2001:db8::5",
		"high CVE-2021-41617 [2001:db8::5]:2200 2001:db8::5",
	}
	if !slices.Equal(got, want) {
		t.Errorf("vulnerabilities =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cve := only[*finding.Vulnerability](fs)[3]
	if cve.Name != "CVE-2021-41617" || cve.CVSSScore != 7 || !slices.Equal(cve.CVEs, []string{"CVE-2021-41617"}) ||
		cve.Description != "privilege escalation via supplemental groups" {
		t.Errorf("cve = %+v", cve)
	}
}

func TestSSHAuditParseConnectionError(t *testing.T) {
	t.Parallel()
	var n int
	out := "[exception] cannot connect to 127.0.0.1 port 1: [Errno 111] Connection refused\n"
	if err := parseSSHAudit(&ParseContext{}, []byte(out), func(finding.Finding) { n++ }); err == nil || n != 0 {
		t.Errorf("connection error text: err %v, %d findings", err, n)
	}
}

func TestSSHAuditBuild(t *testing.T) {
	t.Parallel()
	d := sshAuditTool()
	cmd, err := d.Build(Invocation{
		Targets: []string{"127.0.0.1:2222"},
		Options: map[string][]string{"timeout": {"1500ms"}, "ipv4": {"true"}},
		Dir:     t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ssh-audit", "-t", "1.5", "-4", "-j", "-n", "127.0.0.1:2222"}
	if !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv = %q, want %q", cmd.Argv, want)
	}
	if !d.OKExit(2) || !d.OKExit(3) || d.OKExit(1) {
		t.Error("exit codes: 2 and 3 (warnings, failures) are normal, 1 (connection error) is not")
	}
}

func FuzzParseSSHAudit(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "ssh-audit.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`[{"target":"h:22","kex":[{"algorithm":"x","notes":{"fail":["f"]}}],"cves":[{"name":"CVE-1","cvssv2":"9"}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseSSHAudit(&ParseContext{Targets: []string{"127.0.0.1:2222"}}, data, checkFuzzFinding(t))
	})
}

func TestSSHAuditVersion(t *testing.T) {
	t.Parallel()
	checkToolVersion(t, sshAuditTool(), "\x1b[0;36m# ssh-audit v2.5.0, https://github.com/jtesta/ssh-audit\n", "2.5.0")
}
