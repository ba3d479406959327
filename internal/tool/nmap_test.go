package tool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestNmapParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "nmap", "nmap.xml")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	ports := only[*finding.Port](fs)
	// Port 22 is closed: it stays in the report, it is not a finding.
	if len(ports) != 2 || ports[0].Port != 8080 || ports[1].Port != 8443 {
		t.Fatalf("ports = %+v, want 8080 and 8443", ports)
	}
	p := ports[1]
	if p.IP != "127.0.0.1" || p.Host != "localhost" || p.Protocol != "tcp" || p.State != "open" ||
		p.ServiceName != "http" || p.Product != "nginx" || p.Version != "1.18.0" || !p.TLS ||
		p.Confidence != "high" || !slices.Equal(p.CPEs, []string{"cpe:/a:igor_sysoev:nginx:1.18.0"}) {
		t.Errorf("port 8443 = %+v", p)
	}
	techs := only[*finding.Technology](fs)
	if len(techs) != 2 || techs[0].Product != "nginx" || techs[0].Version != "1.18.0" ||
		techs[0].Match != "127.0.0.1:8080" || techs[0].CPE != "cpe:/a:igor_sysoev:nginx:1.18.0" {
		t.Errorf("technologies = %+v", techs)
	}
	ips := only[*finding.IP](fs)
	if len(ips) != 1 || ips[0].IP != "127.0.0.1" || ips[0].Host != "localhost" || !ips[0].Alive {
		t.Errorf("ips = %+v", ips)
	}
}

func TestNmapParseScripts(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "nmap", "nmap-scripts.xml")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	ports := only[*finding.Port](fs)
	if len(ports) != 2 {
		t.Fatalf("ports = %d, want 2", len(ports))
	}
	scripts, _ := ports[0].ExtraData["scripts"].(map[string]string)
	if scripts["http-title"] != "Secator Test Target" || scripts["http-server-header"] != "nginx/1.18.0" {
		t.Errorf("8080 scripts = %v", ports[0].ExtraData)
	}
	certs := only[*finding.Certificate](fs)
	if len(certs) != 1 {
		t.Fatalf("certificates = %d, want 1", len(certs))
	}
	c := certs[0]
	if c.Host != "127.0.0.1" || c.IP != "127.0.0.1" || c.Port != 8443 || c.SubjectCN != "localhost" ||
		c.IssuerCN != "localhost" || c.Issuer != "commonName=localhost/organizationName=Secator Test" ||
		!slices.Equal(c.SubjectAN, []string{"localhost", "127.0.0.1"}) || !c.SelfSigned ||
		c.KeySize != 256 || c.SignatureAlgorithm != "ecdsa-with-SHA256" || c.SerialNumber != "1" ||
		c.FingerprintSHA256 != "c57ce313daabb5b47188be72a77ccffc2d5dcc2ed1be3ae819b03e5cdcd195f8" {
		t.Errorf("certificate = %+v", c)
	}
	if c.NotBefore == nil || c.NotBefore.Format("2006-01-02T15:04:05") != "2026-11-28T13:45:12" ||
		c.NotAfter == nil || c.NotAfter.Format("2006-01-02T15:04:05") != "2027-11-28T14:45:12" {
		t.Errorf("validity = %v .. %v", c.NotBefore, c.NotAfter)
	}
}

func TestNmapParseVulnScripts(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "nmap", "nmap-vulns.xml")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	ports := only[*finding.Port](fs)
	if len(ports) != 2 || ports[0].Port != 80 || ports[1].Port != 445 {
		t.Fatalf("ports = %+v, want 80 and 445 (443 is filtered)", ports)
	}
	if p := ports[0]; p.Host != "vuln.test" || p.IP != "10.0.0.5" || p.ExtraData["extrainfo"] != "(Unix)" ||
		p.ExtraData["scripts"] != nil {
		t.Errorf("port 80 = %+v", p)
	}
	if ports[1].Confidence != "low" {
		t.Errorf("port 445 confidence = %q, want low (service name from the port table)", ports[1].Confidence)
	}
	vulns := only[*finding.Vulnerability](fs)
	if len(vulns) != 2 {
		t.Fatalf("vulnerabilities = %+v, want 2 (NOT VULNERABLE is dropped)", vulns)
	}
	v := vulns[0]
	if v.Name != "CVE-2021-42013" || v.ID != "CVE-2021-42013" || v.Provider != "vulners.com" ||
		v.MatchedAt != "vuln.test:80" || v.CVSSScore != 9.8 || v.Severity != "critical" ||
		!slices.Equal(v.CVEs, []string{"CVE-2021-42013"}) ||
		!slices.Equal(v.References, []string{"https://vulners.com/cve/CVE-2021-42013"}) {
		t.Errorf("vulners vulnerability = %+v", v)
	}
	v = vulns[1]
	if v.Name != "Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)" ||
		v.ID != "CVE-2017-0143" || v.MatchedAt != "vuln.test" || v.Confidence != "high" ||
		v.Description != "A critical remote code execution vulnerability exists in Microsoft SMBv1 servers (ms17-010)." ||
		len(v.References) != 2 || !slices.Equal(v.Tags, []string{"smb-vuln-ms17-010"}) {
		t.Errorf("smb-vuln-ms17-010 vulnerability = %+v", v)
	}
	exploits := only[*finding.Exploit](fs)
	if len(exploits) != 1 || exploits[0].ID != "EDB-ID:50383" || exploits[0].MatchedAt != "vuln.test:80" ||
		exploits[0].Reference != "https://vulners.com/exploitdb/EDB-ID:50383" {
		t.Errorf("exploits = %+v", exploits)
	}
	// The down host gives nothing; the up one an alive IP.
	if ips := only[*finding.IP](fs); len(ips) != 1 || ips[0].IP != "10.0.0.5" || ips[0].Host != "vuln.test" {
		t.Errorf("ips = %+v", ips)
	}
}

func TestNmapParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "nmap", "secator_nmap_output.xml")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	ports := only[*finding.Port](fs)
	if len(ports) != 7 {
		t.Fatalf("ports = %d, want 7", len(ports))
	}
	p := ports[0]
	if p.IP != "81.64.151.104" || p.Host != "example.synology.me" || p.Port != 53 ||
		p.Product != "dnsmasq" || p.Version != "2.85" || p.ExtraData["scripts"] != nil {
		t.Errorf("port 53 = %+v", p)
	}
	var v *finding.Vulnerability
	for _, x := range only[*finding.Vulnerability](fs) {
		if x.ID == "CVE-2005-0876" {
			v = x
		}
	}
	if v == nil || v.MatchedAt != "example.synology.me:53" || v.Confidence != "low" ||
		!strings.HasPrefix(v.Description, "Off-by-one buffer overflow in Dnsmasq before 2.21") {
		t.Errorf("vulscan CVE-2005-0876 = %+v", v)
	}
}

// TestNmapTruncated cuts the reports as a killed nmap leaves them: at every
// byte of the short one, every few bytes of the others, and around the end of
// every port element. The parser never panics, every port whose element is
// complete in the prefix is returned, and a cut report is reported as
// truncated.
func TestNmapTruncated(t *testing.T) {
	t.Parallel()
	for file, step := range map[string]int{"nmap.xml": 1, "nmap-scripts.xml": 5, "nmap-vulns.xml": 3, "secator_nmap_output.xml": 1999} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			// The open ports and where their elements end.
			type portEnd struct {
				port int
				end  int
			}
			var want []portEnd
			for _, p := range nmapFindings(t, data) {
				if pf, ok := p.(*finding.Port); ok {
					marker := `portid="` + strconv.Itoa(pf.Port) + `"`
					start := bytes.Index(data, []byte(marker))
					end := start + bytes.Index(data[start:], []byte("</port>")) + len("</port>")
					want = append(want, portEnd{pf.Port, end})
				}
			}
			runStart := bytes.Index(data, []byte("<nmaprun "))
			runEnd := bytes.Index(data, []byte("</nmaprun>")) + len("</nmaprun>")
			var cuts []int
			for cut := 0; cut < len(data); cut += step {
				cuts = append(cuts, cut)
			}
			for _, w := range want {
				cuts = append(cuts, w.end-1, w.end, w.end+1)
			}
			for _, cut := range cuts {
				var got []int
				err := parseNmapXML(&ParseContext{}, data[:cut], func(f finding.Finding) {
					if p, ok := f.(*finding.Port); ok {
						got = append(got, p.Port)
					}
				})
				for _, w := range want {
					if w.end <= cut && !slices.Contains(got, w.port) {
						t.Fatalf("%s cut at %d: port %d (complete at %d) missing; got %v", file, cut, w.port, w.end, got)
					}
				}
				switch {
				case cut >= runEnd && err != nil:
					t.Fatalf("%s cut at %d after </nmaprun>: %v", file, cut, err)
				case cut > runStart+len("<nmaprun ") && cut < runEnd && !errors.Is(err, io.ErrUnexpectedEOF):
					t.Fatalf("%s cut at %d: error %v, want io.ErrUnexpectedEOF", file, cut, err)
				case cut < runEnd && err == nil:
					t.Fatalf("%s cut at %d: no error", file, cut)
				}
			}
		})
	}
}

func nmapFindings(t *testing.T, data []byte) []finding.Finding {
	t.Helper()
	var out []finding.Finding
	if err := parseNmapXML(&ParseContext{}, data, func(f finding.Finding) { out = append(out, f) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNmapBuild(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("nmap")
	dir := t.TempDir()
	cmd, err := d.Build(Invocation{
		Targets: []string{"127.0.0.1", "example.com"},
		Options: map[string][]string{"ports": {"22,80,443"}, "timeout": {"1.5s"}, "rate_limit": {"100"},
			"scripts": {"ssl-cert,vulners"}},
		Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"nmap", "--max-rate", "100", "--max-rtt-timeout", "1500ms", "-p", "22,80,443",
		"-sT", "-sV", "--script", "ssl-cert,vulners", "-Pn", "--noninteractive",
		"-oX", filepath.Join(dir, "output.xml"), "-iL", filepath.Join(dir, "targets.txt")}
	if !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
	}
	if cmd.OutputFile != filepath.Join(dir, "output.xml") {
		t.Errorf("output file = %q", cmd.OutputFile)
	}
	targets, _ := os.ReadFile(filepath.Join(dir, "targets.txt"))
	if string(targets) != "127.0.0.1\nexample.com\n" {
		t.Errorf("targets file = %q", targets)
	}
}

func FuzzParseNmap(f *testing.F) {
	for _, file := range []string{"nmap.xml", "nmap-scripts.xml", "nmap-vulns.xml", "secator_nmap_output.xml"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseNmapXML(&ParseContext{}, data, fuzzEmitWellFormed(t))
	})
}

// fuzzEmitWellFormed returns an emit function for fuzz targets: every
// finding must normalise (twice, idempotently) and have an identity of the
// declared length.
func fuzzEmitWellFormed(t *testing.T) finding.Emit {
	return func(f finding.Finding) {
		f.Normalize()
		id := f.Identity()
		f.Normalize()
		if want := len(finding.IdentityFields[f.Kind()]); len(id) != want {
			t.Fatalf("%s identity %q has %d fields, want %d", f.Kind(), id, len(id), want)
		}
		if !slices.Equal(id, f.Identity()) {
			t.Fatalf("%s: Normalize is not idempotent: %q then %q", f.Kind(), id, f.Identity())
		}
	}
}

// versionOf applies a tool's version regex to its version output.
func versionOf(t *testing.T, tool, output string) string {
	t.Helper()
	d, _ := NewRegistry().Lookup(tool)
	m := regexp.MustCompile(d.Version.Regex).FindStringSubmatch(output)
	if len(m) < 2 {
		return ""
	}
	return m[1]
}

func TestVersionRegexes(t *testing.T) {
	t.Parallel()
	// Outputs of the installed binaries (trivy's from its source: the
	// binary was not built yet).
	for _, tc := range []struct{ tool, output, want string }{
		{"nmap", "\nNmap version 7.93 ( https://nmap.org )\nPlatform: x86_64-pc-linux-gnu\n", "7.93"},
		{"gospider", "Version: v1.1.6\n", "1.1.6"},
		{"gau", "gau version: 2.2.4\n", "2.2.4"},
		{"mapcidr", "\x1b[34mINF\x1b[0m] Current Version: v1.1.97\n", "1.1.97"},
		{"gitleaks", "8.30.1\n", "8.30.1"},
		{"trivy", "Version: 0.74.0\nVulnerability DB:\n  Version: 2\n", "0.74.0"},
	} {
		if got := versionOf(t, tc.tool, tc.output); got != tc.want {
			t.Errorf("%s version from %q = %q, want %q", tc.tool, tc.output, got, tc.want)
		}
	}
}
