package integration

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/testtarget"
)

// The test site's home page title and Server header.
const (
	siteTitle  = "Secator Test Target"
	siteServer = "nginx/1.18.0"
)

func TestHttpx(t *testing.T) {
	begin(t)
	needTool(t, "httpx")
	tg := startTarget(t)

	r := runTool(t, 3*time.Minute, "httpx", tg.HTTPURL, tg.HTTPSURL, "--task-timeout", "2m")
	r.wantDone(t)

	targets := only[*finding.Target](r.Findings)
	if len(targets) != 2 || targets[0].Name != tg.HTTPURL || targets[0].TargetType != "url" ||
		targets[1].Name != tg.HTTPSURL || targets[1].TargetType != "url" {
		t.Errorf("target findings %+v, want %s and %s of type url", targets, tg.HTTPURL, tg.HTTPSURL)
	}

	_, homePageLength := fetch(t, tg.HTTPURL+"/")
	urls := map[string]*finding.URL{}
	for _, u := range only[*finding.URL](r.Findings) {
		urls[u.URL] = u
	}
	if got, want := sortedKeys(urls), []string{tg.HTTPURL + "/", tg.HTTPSURL + "/"}; !slices.Equal(got, want) {
		t.Fatalf("url findings %q, want %q", got, want)
	}
	for _, c := range []struct {
		scheme string
		port   int
	}{{"http", tg.HTTPPort}, {"https", tg.HTTPSPort}} {
		u := urls[c.scheme+"://127.0.0.1:"+itoa(c.port)+"/"]
		if u.Scheme != c.scheme || u.Host != "127.0.0.1" || u.Port != c.port || u.Path != "/" || u.IP != "127.0.0.1" ||
			u.Method != "GET" || u.StatusCode != 200 || !u.Verified || u.Title != siteTitle ||
			u.Webserver != siteServer || u.ContentType != "text/html" || u.ContentLength != homePageLength ||
			u.Words != 27 || u.Lines != 10 {
			t.Errorf("url finding %+v: want scheme %s, host and ip 127.0.0.1, port %d, path /, GET 200 verified, title %q, webserver %q, text/html, %d bytes, 27 words, 10 lines",
				*u, c.scheme, c.port, siteTitle, siteServer, homePageLength)
		}
		if !slices.Contains(u.Tech, "WordPress:5.8.1") || !slices.Contains(u.Tech, "PHP:7.4.3") || !slices.Contains(u.Tech, "Nginx:1.18.0") {
			t.Errorf("%s: tech %q, want WordPress:5.8.1, PHP:7.4.3 and Nginx:1.18.0 among them", u.URL, u.Tech)
		}
	}

	// One technology finding per product and URL, split into product and
	// version.
	techs := map[string]bool{}
	for _, tc := range only[*finding.Technology](r.Findings) {
		techs[tc.Match+" "+tc.Product+" "+tc.Version] = true
	}
	for _, u := range sortedKeys(urls) {
		for _, pv := range []string{"WordPress 5.8.1", "PHP 7.4.3", "Nginx 1.18.0"} {
			if !techs[u+" "+pv] {
				t.Errorf("no technology finding %q on %s; have %q", pv, u, sortedKeys(techs))
			}
		}
	}

	// The HTTPS URL's certificate is the target's.
	cert := parseCert(t, tg.Info)
	certs := only[*finding.Certificate](r.Findings)
	if len(certs) != 1 {
		t.Fatalf("%d certificate findings, want 1: %+v", len(certs), certs)
	}
	c := certs[0]
	if c.Host != "127.0.0.1" || c.IP != "127.0.0.1" || c.Port != tg.HTTPSPort ||
		c.FingerprintSHA256 != tg.CertFingerprintSHA256 || c.SerialNumber != hex.EncodeToString(cert.SerialNumber.Bytes()) ||
		c.SubjectCN != "localhost" || !slices.Equal(c.SubjectAN, []string{"localhost"}) || c.IssuerCN != "localhost" ||
		!c.SelfSigned || c.Expired || c.TLSVersion != "tls13" ||
		c.NotBefore == nil || !c.NotBefore.Equal(cert.NotBefore) || c.NotAfter == nil || !c.NotAfter.Equal(cert.NotAfter) {
		t.Errorf("certificate finding %+v\nwant host/ip 127.0.0.1 port %d, fingerprint %s, serial %x, CN and SAN localhost, self-signed, tls13, valid %s to %s",
			*c, tg.HTTPSPort, tg.CertFingerprintSHA256, cert.SerialNumber, cert.NotBefore, cert.NotAfter)
	}
	if r.Meta.ToolVersion != "1.9.0" {
		t.Errorf("run.json tool_version %q, want the pinned 1.9.0", r.Meta.ToolVersion)
	}
}

// parseCert returns the target's certificate.
func parseCert(t *testing.T, info testtarget.Info) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(info.CertPEM))
	if block == nil {
		t.Fatal("no PEM block in the target's CertPEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// crawled returns the url findings of a run by URL, checking that every one
// is on the target.
func crawled(t *testing.T, r *runResult, tg *testtarget.Target) map[string]*finding.URL {
	t.Helper()
	out := map[string]*finding.URL{}
	for _, u := range only[*finding.URL](r.Findings) {
		if !strings.HasPrefix(u.URL, tg.HTTPURL+"/") || u.Host != "127.0.0.1" || u.Port != tg.HTTPPort || u.Scheme != "http" {
			t.Errorf("url finding off the target: %+v", *u)
		}
		out[u.URL] = u
	}
	return out
}

func TestKatana(t *testing.T) {
	begin(t)
	needTool(t, "katana")
	tg := startTarget(t)

	r := runTool(t, 3*time.Minute, "katana", tg.HTTPURL, "--depth", "2", "--task-timeout", "2m")
	r.wantDone(t)

	urls := crawled(t, r, tg)
	// Links of the home page, its script, and the JSON endpoint the script
	// fetches: every one was requested and answered 200.
	for _, path := range []string{"/", "/about", "/login", "/products?id=1", "/docs/index.html", "/static/app.js", "/api/v1/users"} {
		u := urls[tg.HTTPURL+path]
		if u == nil {
			t.Errorf("katana did not report %s; have %q", path, sortedKeys(urls))
			continue
		}
		if u.StatusCode != 200 || u.Method != "GET" || u.Webserver != siteServer || !u.Verified {
			t.Errorf("%s: status %d method %q webserver %q verified %v; want 200 GET %q true", path, u.StatusCode, u.Method, u.Webserver, u.Verified, siteServer)
		}
	}
	_, homePageLength := fetch(t, tg.HTTPURL+"/")
	if home := urls[tg.HTTPURL+"/"]; home != nil && (home.ContentType != "text/html; charset=utf-8" || home.ContentLength != homePageLength) {
		t.Errorf("home page: content type %q length %d, want text/html; charset=utf-8 and %d", home.ContentType, home.ContentLength, homePageLength)
	}
	if u := urls[tg.HTTPURL+"/api/v1/users"]; u != nil && u.ContentType != "application/json" {
		t.Errorf("/api/v1/users: content type %q, want application/json", u.ContentType)
	}
}

func TestGospider(t *testing.T) {
	begin(t)
	needTool(t, "gospider")
	tg := startTarget(t)

	r := runTool(t, 3*time.Minute, "gospider", tg.HTTPURL, "--depth", "2", "--task-timeout", "2m")
	r.wantDone(t)

	urls := crawled(t, r, tg)
	for _, path := range []string{"/about", "/login", "/products?id=1", "/docs/index.html", "/api/v1/users", "/static/app.js"} {
		if urls[tg.HTTPURL+path] == nil {
			t.Errorf("gospider did not report %s; have %q", path, sortedKeys(urls))
		}
	}
	if urls[tg.HTTPURL+"/"] == nil {
		t.Errorf("gospider did not report the home page; have %q", sortedKeys(urls))
	}
	// A status, when the finding has one, is the page's. (Which of
	// gospider's records of a URL becomes the finding depends on their
	// order: a link to a page is often printed before the page's own
	// fetch line, and the first record of an id wins.)
	for _, u := range urls {
		if u.StatusCode == 0 {
			continue
		}
		if status, _ := fetch(t, u.URL); u.StatusCode != status || !u.Verified {
			t.Errorf("%s: status %d verified %v, want %d as the site answers", u.URL, u.StatusCode, u.Verified, status)
		}
	}
	// Paths only robots.txt names, and the one only app.js names.
	for path, source := range map[string]string{"/admin": "robots", "/backup": "robots", "/api/v1/config": tg.HTTPURL + "/static/app.js"} {
		u := urls[tg.HTTPURL+path]
		if u == nil {
			t.Errorf("gospider did not report %s (from %s); have %q", path, source, sortedKeys(urls))
			continue
		}
		if got, _ := u.ExtraData["source"].(string); got != source {
			t.Errorf("%s: extra_data.source %q, want %q", path, got, source)
		}
	}
	if u := urls[tg.HTTPURL+"/api/v1/config"]; u != nil && !slices.Contains(u.Tags, "linkfinder") {
		t.Errorf("/api/v1/config: tags %q, want linkfinder", u.Tags)
	}
}

// wordlistHits are the words of testdata/wordlist.txt the site answers with
// something other than 404.
var wordlistHits = []string{"/.git/config", "/about", "/admin", "/backup", "/contact", "/login", "/robots.txt"}

func TestFfuf(t *testing.T) {
	begin(t)
	needTool(t, "ffuf")
	tg := startTarget(t)

	// A URL without FUZZ means "the paths under it".
	r := runTool(t, 3*time.Minute, "ffuf", tg.HTTPURL, "--wordlist", testdata(t, "wordlist.txt"),
		"--threads", "5", "--task-timeout", "2m")
	r.wantDone(t)
	if len(r.Meta.Commands) != 1 || !strings.HasSuffix(r.Meta.Commands[0], " -u "+tg.HTTPURL+"/FUZZ") {
		t.Errorf("run.json commands %q, want ffuf -u %s/FUZZ", r.Meta.Commands, tg.HTTPURL)
	}

	urls := wantWordlistHits(t, "ffuf", r, tg)
	for _, u := range urls {
		if !u.Verified {
			t.Errorf("%s: not verified", u.URL)
		}
	}
	// ffuf counts words between spaces and lines between newlines.
	robots := urls[tg.HTTPURL+"/robots.txt"]
	if robots.ContentType != "text/plain; charset=utf-8" || robots.Words != 4 || robots.Lines != 4 || robots.Path != "/robots.txt" {
		t.Errorf("robots.txt finding %+v: want text/plain; charset=utf-8, 4 words, 4 lines, path /robots.txt", *robots)
	}
	if in, _ := robots.ExtraData["input"].(map[string]any); in["FUZZ"] != "robots.txt" {
		t.Errorf("robots.txt: extra_data.input %v, want FUZZ robots.txt (decoded from base64)", robots.ExtraData["input"])
	}
}

func TestDirsearch(t *testing.T) {
	begin(t)
	needTool(t, "dirsearch")
	tg := startTarget(t)

	r := runTool(t, 3*time.Minute, "dirsearch", tg.HTTPURL, "--wordlist", testdata(t, "wordlist.txt"),
		"--threads", "5", "--task-timeout", "2m")
	r.wantDone(t)

	wantWordlistHits(t, "dirsearch", r, tg)
}

// wantWordlistHits checks that a wordlist scanner found exactly the paths of
// the wordlist the site serves, each with status 200 and its real length.
func wantWordlistHits(t *testing.T, tool string, r *runResult, tg *testtarget.Target) map[string]*finding.URL {
	t.Helper()
	urls := crawled(t, r, tg)
	var got []string
	for u := range urls {
		got = append(got, strings.TrimPrefix(u, tg.HTTPURL))
	}
	slices.Sort(got)
	if !slices.Equal(got, wordlistHits) {
		t.Fatalf("%s found %q, want exactly %q", tool, got, wordlistHits)
	}
	for _, u := range urls {
		if _, want := fetch(t, u.URL); u.StatusCode != 200 || u.ContentLength != want {
			t.Errorf("%s: status %d, content length %d; want 200 and %d", u.URL, u.StatusCode, u.ContentLength, want)
		}
	}
	return urls
}

func TestNuclei(t *testing.T) {
	begin(t)
	needTool(t, "nuclei")
	tg := startTarget(t)

	r := runTool(t, 5*time.Minute, "nuclei", tg.HTTPURL, tg.HTTPSURL,
		"--templates", testdata(t, "nuclei-templates"), "--rate-limit", "50", "--task-timeout", "4m")
	r.wantDone(t)

	type want struct {
		name, severity string
		extracted      []string
		tags, cwes     []string
	}
	templates := map[string]want{
		"secator-test-marker": {"Secator test target marker", "info", []string{"secator-target-v1"}, []string{"test", "local"}, nil},
		"local-nginx-version": {"Nginx version disclosure (local test)", "low", []string{siteServer}, []string{"tech", "nginx", "local"}, nil},
		"local-git-config":    {"Exposed .git/config (local test)", "medium", []string{"https://example.test/repo.git"}, []string{"exposure", "git", "local"}, []string{"CWE-200"}},
	}
	paths := map[string]string{"secator-test-marker": "/", "local-nginx-version": "/robots.txt", "local-git-config": "/.git/config"}

	got := map[string]*finding.Vulnerability{}
	for _, v := range only[*finding.Vulnerability](r.Findings) {
		got[v.ID+" "+v.MatchedAt] = v
	}
	var wantKeys []string
	for id := range templates {
		for _, base := range []string{tg.HTTPURL, tg.HTTPSURL} {
			wantKeys = append(wantKeys, id+" "+base+paths[id])
		}
	}
	slices.Sort(wantKeys)
	if !slices.Equal(sortedKeys(got), wantKeys) {
		t.Fatalf("vulnerabilities (template id, matched at) %q, want exactly %q (slow-page must not match)", sortedKeys(got), wantKeys)
	}
	for _, v := range got {
		w := templates[v.ID]
		if v.Name != w.name || v.Severity != w.severity || v.SeverityRank != finding.SeverityRank(w.severity) ||
			v.Provider != "nuclei" || v.IP != "127.0.0.1" || !slices.Equal(v.Extracted, w.extracted) ||
			!slices.Equal(v.Tags, w.tags) || !slices.Equal(v.CWEs, w.cwes) {
			t.Errorf("%s on %s: %+v\nwant name %q, severity %s, provider nuclei, ip 127.0.0.1, extracted %q, tags %q, cwes %q",
				v.ID, v.MatchedAt, *v, w.name, w.severity, w.extracted, w.tags, w.cwes)
		}
	}
	marker := got["secator-test-marker "+tg.HTTPURL+"/"]
	if marker.Description != "Matches the marker comment of the local test target." {
		t.Errorf("marker description %q", marker.Description)
	}
	git := got["local-git-config "+tg.HTTPSURL+"/.git/config"]
	if !slices.Equal(git.References, []string{"https://example.test/git-exposure"}) {
		t.Errorf("git-config references %q, want the template's", git.References)
	}
}

func TestWafw00f(t *testing.T) {
	begin(t)
	needTool(t, "wafw00f")
	tg := startTarget(t)

	r := runTool(t, 3*time.Minute, "wafw00f", tg.HTTPURL, "--task-timeout", "2m")
	r.wantState(t, 0, "done", "completed", 0)
	if errs := only[*finding.Error](r.Findings); len(errs) > 0 {
		t.Errorf("error findings: %+v", errs)
	}
	// No WAF in front of the site: no tag, one info line saying so.
	if tags := only[*finding.Tag](r.Findings); len(tags) != 0 {
		t.Errorf("tag findings %+v, want none (the site has no WAF)", tags)
	}
	infos := only[*finding.Info](r.Findings)
	if want := "wafw00f: no WAF detected on " + tg.HTTPURL; len(infos) != 1 || infos[0].Message != want {
		t.Errorf("info findings %+v, want one: %q", infos, want)
	}
}

func TestTestssl(t *testing.T) {
	begin(t)
	needTool(t, "testssl")
	tg := startTarget(t)

	// Only the server defaults (certificate) checks; testssl is slow, more
	// so on a busy machine.
	r := runTool(t, 9*time.Minute, "testssl", tg.HTTPSURL, "--server-defaults", "--nodns", "none", "--task-timeout", "8m")
	r.wantState(t, 0, "done", "completed", 0)
	if errs := only[*finding.Error](r.Findings); len(errs) > 0 {
		t.Errorf("error findings: %+v", errs)
	}

	cert := parseCert(t, tg.Info)
	certs := only[*finding.Certificate](r.Findings)
	if len(certs) != 1 {
		t.Fatalf("%d certificate findings, want 1: %+v", len(certs), certs)
	}
	c := certs[0]
	if c.Host != "127.0.0.1" || c.IP != "127.0.0.1" || c.Port != tg.HTTPSPort ||
		c.FingerprintSHA256 != tg.CertFingerprintSHA256 || c.SerialNumber != hex.EncodeToString(cert.SerialNumber.Bytes()) ||
		c.SubjectCN != "localhost" || !slices.Equal(c.SubjectAN, []string{"localhost", "127.0.0.1"}) ||
		c.IssuerCN != "localhost" || !c.SelfSigned || c.Expired || c.KeySize != 256 || c.SignatureAlgorithm != "ECDSA with SHA256" ||
		c.NotAfter == nil || !c.NotAfter.Equal(cert.NotAfter.Truncate(time.Minute)) {
		t.Errorf("certificate finding %+v\nwant host/ip 127.0.0.1 port %d, fingerprint %s, serial %x, CN localhost, SAN localhost 127.0.0.1, self-signed, EC 256 bits, ECDSA with SHA256, not after %s",
			*c, tg.HTTPSPort, tg.CertFingerprintSHA256, cert.SerialNumber, cert.NotAfter.Truncate(time.Minute))
	}
	// The self-signed certificate is reported as a broken chain of trust.
	var chain *finding.Vulnerability
	for _, v := range only[*finding.Vulnerability](r.Findings) {
		if v.ID == "cert_chain_of_trust" {
			chain = v
		}
	}
	if want := "127.0.0.1:" + itoa(tg.HTTPSPort); chain == nil || chain.MatchedAt != want || chain.Provider != "testssl" ||
		!strings.Contains(chain.Description, "self signed") {
		t.Errorf("cert_chain_of_trust vulnerability %+v, want one matched at %s saying \"self signed\"", chain, want)
	}
}
