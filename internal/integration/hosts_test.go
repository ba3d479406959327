package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
)

func TestDnsx(t *testing.T) {
	begin(t)
	needTool(t, "dnsx")
	resolver := startDNS(t)

	r := runTool(t, 3*time.Minute, "dnsx", zone, "mail."+zone, "www."+zone,
		"--resolvers", resolver, "--task-timeout", "2m")
	r.wantDone(t)
	if len(r.Meta.Commands) != 1 || !strings.Contains(r.Meta.Commands[0], " -r "+resolver+" ") {
		t.Errorf("run.json commands %q, want -r %s", r.Meta.Commands, resolver)
	}

	var got []string
	for _, rec := range only[*finding.Record](r.Findings) {
		got = append(got, rec.Host+" "+rec.Type+" "+rec.Name)
	}
	slices.Sort(got)
	want := []string{
		"mail.test.local A 127.0.0.1",
		"test.local A 127.0.0.1",
		"test.local MX mail.test.local",
		"test.local TXT " + spfText,
		// www is a CNAME: dnsx reports the records at the end of the chain
		// under the name it was asked.
		"www.test.local A 127.0.0.1",
		"www.test.local CNAME test.local",
		"www.test.local MX mail.test.local",
		"www.test.local TXT " + spfText,
	}
	if !slices.Equal(got, want) {
		t.Errorf("records\n%q\nwant\n%q", got, want)
	}
	// Every name resolves to 127.0.0.1: one ip finding (the id is the ip).
	ips := only[*finding.IP](r.Findings)
	if len(ips) != 1 || ips[0].IP != "127.0.0.1" || ips[0].Protocol != "ipv4" ||
		!slices.Contains([]string{zone, "mail." + zone, "www." + zone}, ips[0].Host) {
		t.Errorf("ip findings %+v, want one: 127.0.0.1 (ipv4) with one of the names as host", ips)
	}
}

func TestSubfinder(t *testing.T) {
	begin(t)
	needTool(t, "subfinder")
	proxy := startSourcesProxy(t)

	// Only hackertarget: it is asked over HTTP(S) through the proxy. (crtsh
	// first opens a PostgreSQL connection to crt.sh itself, which no proxy
	// sees: it is left out so that nothing but loopback is ever tried.)
	r := runTool(t, 3*time.Minute, "subfinder", zone, "--sources", "hackertarget", "--proxy", proxy.URL,
		"--timeout", "10s", "--task-timeout", "2m")
	r.wantDone(t)

	subs := map[string]*finding.Subdomain{}
	for _, s := range only[*finding.Subdomain](r.Findings) {
		subs[s.Host] = s
	}
	if got, want := sortedKeys(subs), []string{"mail.test.local", "staging.test.local"}; !slices.Equal(got, want) {
		t.Fatalf("subdomains %q, want %q; proxy saw %q", got, want, proxy.Requests())
	}
	for _, s := range subs {
		if s.Domain != zone || !slices.Equal(s.Sources, []string{"hackertarget"}) {
			t.Errorf("subdomain %+v, want domain %s and sources [hackertarget]", *s, zone)
		}
	}
	if reqs := proxy.Requests(); !slices.Contains(reqs, "CONNECT api.hackertarget.com:443") ||
		!slices.Contains(reqs, "GET api.hackertarget.com/hostsearch/?q=test.local") {
		t.Errorf("proxy requests %q, want the hackertarget query through CONNECT", reqs)
	}
	// The proxy is a sensitive option: never written out in clear.
	assertRedacted(t, r, proxy.URL)
}

func TestGau(t *testing.T) {
	begin(t)
	needTool(t, "gau")
	proxy := startSourcesProxy(t)

	r := runTool(t, 3*time.Minute, "gau", zone, "--providers", "wayback", "--proxy", proxy.URL, "--task-timeout", "2m")
	r.wantDone(t)

	var got []string
	for _, u := range only[*finding.URL](r.Findings) {
		if u.Host != zone || u.StatusCode != 0 || u.Verified {
			t.Errorf("url finding %+v, want host %s, not verified (gau only read an archive)", *u, zone)
		}
		got = append(got, u.URL)
	}
	slices.Sort(got)
	want := slices.Clone(waybackURLs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("urls %q, want the archive's %q; proxy saw %q", got, want, proxy.Requests())
	}
	if reqs := proxy.Requests(); !slices.Contains(reqs, "CONNECT web.archive.org:443") {
		t.Errorf("proxy requests %q, want a CONNECT to web.archive.org:443", reqs)
	}
	assertRedacted(t, r, proxy.URL)
}

// assertRedacted checks that a secret given on the command line appears in
// none of the files of the run directory but the raw tool output.
func assertRedacted(t *testing.T, r *runResult, secret string) {
	t.Helper()
	for _, name := range []string{report.MetaFile, report.CommandFile, report.FindingsFile} {
		b, err := os.ReadFile(filepath.Join(r.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s shows %q in clear:\n%s", name, secret, b)
		}
		if name != report.FindingsFile && !strings.Contains(string(b), "[REDACTED]") {
			t.Errorf("%s does not say [REDACTED]:\n%s", name, b)
		}
	}
	if strings.Contains(r.Stdout+r.Stderr, secret) {
		t.Errorf("sortie printed %q in clear", secret)
	}
}

func TestMapcidr(t *testing.T) {
	begin(t)
	needTool(t, "mapcidr")

	r := runTool(t, 2*time.Minute, "mapcidr", "127.0.0.0/29", "--task-timeout", "1m")
	r.wantDone(t)
	var got []string
	for _, ip := range only[*finding.IP](r.Findings) {
		if ip.Protocol != "ipv4" || ip.Alive {
			t.Errorf("ip finding %+v, want ipv4, not known alive", *ip)
		}
		got = append(got, ip.IP)
	}
	want := []string{"127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"}
	if !slices.Equal(got, want) {
		t.Errorf("ips %q, want %q in order", got, want)
	}
}

func TestFping(t *testing.T) {
	begin(t)
	needTool(t, "fping")

	r := runTool(t, 2*time.Minute, "fping", "127.0.0.1", "--task-timeout", "1m")
	r.wantDone(t)
	ips := only[*finding.IP](r.Findings)
	if len(ips) != 1 || ips[0].IP != "127.0.0.1" || !ips[0].Alive || ips[0].Protocol != "ipv4" {
		t.Errorf("ip findings %+v, want 127.0.0.1 alive", ips)
	}
}

func TestWhois(t *testing.T) {
	begin(t)
	needTool(t, "whois")
	srv := startWhois(t)

	r := runTool(t, 2*time.Minute, "whois", zone, "--server", "127.0.0.1", "--port", itoa(srv.Port), "--task-timeout", "1m")
	r.wantDone(t)
	if q := srv.Queries(); !slices.Equal(q, []string{zone + "\r\n"}) {
		t.Errorf("whois server got queries %q, want one: %q", q, zone+"\r\n")
	}
	ds := only[*finding.Domain](r.Findings)
	if len(ds) != 1 {
		t.Fatalf("domain findings %+v, want 1", ds)
	}
	d := ds[0]
	wantTime := func(got *time.Time, s string) bool {
		w, _ := time.Parse(time.RFC3339, s)
		return got != nil && got.Equal(w)
	}
	if d.Domain != zone || d.Registrar != "Example Registrar, Inc." || d.Registrant != "Sortie Test Org" ||
		!wantTime(d.CreationDate, "2001-02-03T04:05:06Z") || !wantTime(d.UpdatedDate, "2025-01-02T03:04:05Z") ||
		!wantTime(d.ExpirationDate, "2030-02-03T04:05:06Z") ||
		!slices.Equal(d.NameServers, []string{"ns1.test.local", "ns2.test.local"}) ||
		!slices.Equal(d.Status, []string{"clientTransferProhibited"}) ||
		!slices.Equal(d.Emails, []string{"admin@test.local"}) {
		t.Errorf("domain finding %+v\nwant test.local, Example Registrar, Inc., Sortie Test Org, created 2001-02-03T04:05:06Z, updated 2025-01-02T03:04:05Z, expires 2030-02-03T04:05:06Z, ns1/ns2.test.local, clientTransferProhibited, admin@test.local", *d)
	}
}

func TestSSHAudit(t *testing.T) {
	begin(t)
	needTool(t, "ssh-audit")
	srv := startSSHD(t)
	hostPort := "127.0.0.1:" + itoa(srv.Port)

	r := runTool(t, 3*time.Minute, "ssh-audit", hostPort, "--task-timeout", "2m")
	// ssh-audit exits 3 when it has warnings: a normal end.
	r.wantState(t, 0, "done", "completed", 3)
	r.wantNoProblems(t)

	techs := only[*finding.Technology](r.Findings)
	if len(techs) != 1 {
		t.Fatalf("technology findings %+v, want 1", techs)
	}
	tc := techs[0]
	fps, _ := tc.ExtraData["host_key_fingerprints"].(map[string]any)
	banner, _ := tc.ExtraData["banner"].(string)
	if tc.Product != "OpenSSH" || tc.Match != hostPort || !slices.Equal(tc.Categories, []string{"ssh"}) ||
		!strings.HasPrefix(banner, "SSH-2.0-OpenSSH_"+tc.Version) || fps["ssh-ed25519"] != srv.HostKeyFingerprint {
		t.Errorf("technology %+v\nwant OpenSSH on %s, category ssh, its banner, host key fingerprint %s", *tc, hostPort, srv.HostKeyFingerprint)
	}
	if !isOpenSSHVersion(tc.Version) {
		t.Errorf("version %q is not an OpenSSH version like 9.2p1", tc.Version)
	}

	// The weak algorithms the server was told to offer, and nothing else.
	got := map[string]*finding.Vulnerability{}
	for _, v := range only[*finding.Vulnerability](r.Findings) {
		if v.MatchedAt != hostPort || v.Provider != "ssh-audit" || v.IP != "127.0.0.1" {
			t.Errorf("vulnerability %+v, want matched at %s by ssh-audit, ip 127.0.0.1", *v, hostPort)
		}
		got[v.ID] = v
	}
	want := map[string]struct{ name, severity, description string }{
		"ecdh-sha2-nistp256": {"Weak SSH key exchange algorithm", "medium", "fail: using weak elliptic curves"},
		"hmac-sha1":          {"Weak SSH MAC algorithm", "low", "warn: using encrypt-and-MAC mode; using weak hashing algorithm"},
	}
	if !slices.Equal(sortedKeys(got), sortedKeys(want)) {
		t.Fatalf("vulnerabilities %q, want %q", sortedKeys(got), sortedKeys(want))
	}
	for id, w := range want {
		v := got[id]
		if v.Name != w.name || v.Severity != w.severity || v.Description != w.description {
			t.Errorf("%s: %+v\nwant %q, %s, %q", id, *v, w.name, w.severity, w.description)
		}
	}
}

// isOpenSSHVersion matches versions like 9.2p1.
func isOpenSSHVersion(v string) bool {
	major, rest, ok := strings.Cut(v, ".")
	if !ok || major == "" || strings.Trim(major, "0123456789") != "" {
		return false
	}
	minor, patch, ok := strings.Cut(rest, "p")
	return ok && minor != "" && patch != "" && strings.Trim(minor+patch, "0123456789") == ""
}
