package tool

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestTestsslParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "testssl", "testssl.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	certs := only[*finding.Certificate](fs)
	if len(certs) != 1 {
		t.Fatalf("certificates = %d, want 1", len(certs))
	}
	c := certs[0]
	notBefore := time.Date(2026, 11, 28, 13, 51, 0, 0, time.UTC)
	notAfter := time.Date(2027, 11, 28, 14, 51, 0, 0, time.UTC)
	if c.Host != "127.0.0.1" || c.IP != "127.0.0.1" || c.Port != 8443 ||
		c.FingerprintSHA256 != "0bd2b60e81e7def208f84b248a7d0ad841f72008bbea68ee0734c4f81d644cca" ||
		c.SerialNumber != "01" || c.SubjectCN != "localhost" ||
		!slices.Equal(c.SubjectAN, []string{"localhost", "127.0.0.1"}) ||
		c.IssuerCN != "localhost" || c.Issuer != "localhost (Secator Test)" ||
		c.NotBefore == nil || !c.NotBefore.Equal(notBefore) || c.NotAfter == nil || !c.NotAfter.Equal(notAfter) ||
		!c.SelfSigned || c.Trusted || c.KeySize != 256 || c.SignatureAlgorithm != "ECDSA with SHA256" ||
		c.TLSVersion != "TLS1.3" || c.Cipher != "TLS_AES_128_GCM_SHA256" ||
		c.ExtraData["fingerprint_sha1"] != "77C4EB3A5CD06D58C0005F43B66114CFFB392B62" {
		t.Errorf("certificate = %+v", c)
	}

	vulns := only[*finding.Vulnerability](fs)
	var ids []string
	for _, v := range vulns {
		ids = append(ids, v.ID)
	}
	wantIDs := []string{"TLS_session_ticket", "cert_serialNumberLen", "cert_chain_of_trust", "cert_revocation",
		"DNS_CAArecord", "HSTS", "security_headers"}
	if !slices.Equal(ids, wantIDs) {
		t.Fatalf("vulnerability ids = %v, want %v", ids, wantIDs)
	}
	v := vulns[2]
	if v.Name != "cert_chain_of_trust" || v.MatchedAt != "127.0.0.1:8443" || v.IP != "127.0.0.1" ||
		v.Severity != "critical" || v.SeverityRank != 5 || v.Provider != "testssl" ||
		v.Description != "failed (self signed)." || len(v.CVEs) != 0 {
		t.Errorf("cert_chain_of_trust = %+v", v)
	}
	if n := len(fs) - len(certs) - len(vulns); n != 0 {
		t.Errorf("%d unexpected findings", n)
	}
	if uniqueIDs(fs) != len(fs) {
		t.Errorf("duplicate ids among %d findings", len(fs))
	}
}

func TestTestsslParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "testssl", "secator_testssl_output.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	certs := only[*finding.Certificate](fs)
	if len(certs) != 2 {
		t.Fatalf("certificates = %d, want 2 (<hostCert#1>, <hostCert#2>)", len(certs))
	}
	rsa, ec := certs[0], certs[1]
	if rsa.Host != "example.com" || rsa.IP != "192.168.1.1" || rsa.Port != 443 ||
		rsa.FingerprintSHA256 != "a776c2b67c5f49acc8f5d79106cf86fe6c61ab417dce38a2e549241e3959ed58" ||
		rsa.SerialNumber != "f6cc89f97bcf49ff10e192b2565a0c43" || rsa.SubjectCN != "*.example.com" ||
		rsa.KeySize != 2048 || rsa.SignatureAlgorithm != "SHA256 with RSA" || !rsa.Trusted || rsa.SelfSigned ||
		rsa.IssuerCN != "WR2" || rsa.Issuer != "WR2 (Google Trust Services from US)" ||
		rsa.NotAfter == nil || !rsa.NotAfter.Equal(time.Date(2025, 6, 12, 11, 18, 0, 0, time.UTC)) || !rsa.Expired {
		t.Errorf("first certificate = %+v", rsa)
	}
	if ec.FingerprintSHA256 != "6b51569bab13478f4e3d10a2ebbc61e127fca1e2c33ca07c363d93b36d113ee8" || ec.KeySize != 256 ||
		len(ec.SubjectAN) == 0 || ec.SubjectAN[0] != "*.example.com" {
		t.Errorf("second certificate = %+v", ec)
	}

	vulns := only[*finding.Vulnerability](fs)
	var sweet *finding.Vulnerability
	for _, v := range vulns {
		if v.ID == "SWEET32" {
			sweet = v
		}
		if v.SeverityRank < 2 {
			t.Errorf("vulnerability below LOW: %+v", v)
		}
	}
	if sweet == nil {
		t.Fatalf("SWEET32 not among %d vulnerabilities", len(vulns))
	}
	if sweet.Name != "SWEET32" || sweet.MatchedAt != "example.com:443" || sweet.IP != "192.168.1.1" ||
		sweet.Severity != "low" || !slices.Equal(sweet.CVEs, []string{"CVE-2016-2183", "CVE-2016-6329"}) ||
		!slices.Equal(sweet.CWEs, []string{"CWE-327"}) || sweet.Description != "uses 64 bit block ciphers" {
		t.Errorf("SWEET32 = %+v", sweet)
	}
	// Per-certificate checks of two certificates stay two findings.
	var expiry int
	for _, v := range vulns {
		if v.Name == "cert_expirationStatus <hostCert#1>" || v.Name == "cert_expirationStatus <hostCert#2>" {
			expiry++
		}
	}
	if expiry != 2 {
		t.Errorf("cert_expirationStatus findings = %d, want 2", expiry)
	}
	if uniqueIDs(fs) != len(fs) {
		t.Errorf("duplicate ids among %d findings", len(fs))
	}
}

// A report cut short still yields the entries before the cut, and an error.
func TestTestsslParseTruncated(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "testssl.json"))
	if err != nil {
		t.Fatal(err)
	}
	cut := data[:len(data)*2/3]
	var fs []finding.Finding
	err = parseTestssl(&ParseContext{}, cut, func(f finding.Finding) { fs = append(fs, f) })
	if err == nil {
		t.Fatal("no error for a truncated report")
	}
	if len(only[*finding.Vulnerability](fs)) == 0 || len(only[*finding.Certificate](fs)) != 1 {
		t.Errorf("truncated report gave %d findings, want the early vulnerabilities and the certificate", len(fs))
	}
	if err := parseTestssl(&ParseContext{}, []byte("Fatal error: can't connect"), func(finding.Finding) {}); err == nil {
		t.Error("no error for text output")
	}
}

// Checks testssl could not run are warnings, not vulnerabilities; a scan
// stopped by SIGTERM ends with a "Scan interrupted" scanTime entry.
func TestTestsslParseWarnings(t *testing.T) {
	t.Parallel()
	data := `[
  {"id": "HTTP_status_code", "ip": "localhost/::1", "port": "8443", "severity": "WARN", "finding": "HTTP header request failed"},
  {"id": "BREACH", "ip": "localhost/::1", "port": "8443", "severity": "MEDIUM", "cve": "CVE-2013-3587", "cwe": "CWE-310", "finding": "potentially NOT ok, uses gzip HTTP compression", "hint": "only supplied '/' tested"},
  {"id": "scanTime", "ip": "localhost/::1", "port": "8443", "severity": "WARN", "finding": "Scan interrupted"}
]`
	var fs []finding.Finding
	if err := parseTestssl(&ParseContext{}, []byte(data), func(f finding.Finding) { fs = append(fs, f) }); err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 {
		t.Fatalf("findings = %d, want 3", len(fs))
	}
	if w, ok := fs[2].(*finding.Warning); !ok || w.Message != "testssl scanTime on localhost:8443: Scan interrupted" {
		t.Errorf("last finding = %#v", fs[2])
	}
	v, ok := fs[1].(*finding.Vulnerability)
	if !ok || v.MatchedAt != "localhost:8443" || v.IP != "::1" || v.Severity != "medium" ||
		v.ExtraData["hint"] != "only supplied '/' tested" || !slices.Equal(v.CVEs, []string{"CVE-2013-3587"}) {
		t.Errorf("BREACH = %#v", fs[1])
	}
}

func TestTestsslBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, err := testsslTool().Build(Invocation{
		Targets: []string{"127.0.0.1:8443"},
		Options: map[string][]string{"timeout": {"10s"}, "ip": {"one"}, "protocols": {"true"}, "proxy": {"http://127.0.0.1:3128"}},
		Dir:     dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"testssl", "--connect-timeout", "10", "--proxy", "127.0.0.1:3128", "--ip", "one", "--protocols",
		"--quiet", "--color", "0", "--warnings", "off", "--openssl-timeout", "5",
		"--jsonfile", filepath.Join(dir, "output.json"), "127.0.0.1:8443"}
	if !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
	}
	if _, err := testsslTool().Build(Invocation{Targets: []string{"a.test", "b.test"}, Dir: dir}); err == nil {
		t.Error("two targets accepted by a single-target tool")
	}
}

func FuzzParseTestssl(f *testing.F) {
	for _, name := range []string{"testssl.json", "secator_testssl_output.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[{"id":"cert_notAfter <hostCert#","ip":"/","port":"x","severity":"HIGH"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseTestssl(&ParseContext{}, data, checkFuzzFinding(t))
	})
}

// checkFuzzFinding returns an emit that fails the test for a finding that
// does not normalise into an identity of its type's declared length.
func checkFuzzFinding(t *testing.T) finding.Emit {
	return func(f finding.Finding) {
		t.Helper()
		f.Normalize()
		want, ok := finding.IdentityFields[f.Kind()]
		if !ok {
			t.Fatalf("finding of unknown type %q", f.Kind())
		}
		if got := f.Identity(); len(got) != len(want) {
			t.Fatalf("%s identity %q, want %d fields", f.Kind(), got, len(want))
		}
	}
}

// checkToolVersion asserts that d's version regex reads want from output,
// a real answer of the installed tool to d.Version.Args.
func checkToolVersion(t *testing.T, d *Definition, output, want string) {
	t.Helper()
	m := regexp.MustCompile(d.Version.Regex).FindStringSubmatch(output)
	if m == nil || m[1] != want {
		t.Errorf("%s version from %q = %v, want %s", d.Name, output, m, want)
	}
}

func TestTestsslVersion(t *testing.T) {
	t.Parallel()
	out := "\x1b[1m\n###########################################################\n" +
		"    testssl       3.0.8 from \x1b[m\x1b[1mhttps://testssl.sh/\x1b[m\n"
	checkToolVersion(t, testsslTool(), out, "3.0.8")
}
