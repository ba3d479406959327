package tool

import (
	"path/filepath"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestKatanaParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "katana", "katana.jsonl")
	if st.Garbage != 0 || st.Skipped != 0 {
		t.Fatalf("garbage %d, skipped %d (%v)", st.Garbage, st.Skipped, st.FirstError)
	}
	urls := only[*finding.URL](fs)
	if len(urls) != 12 {
		t.Fatalf("urls = %d, want 12", len(urls))
	}
	// "http://127.0.0.1:8080" (the target) and "http://127.0.0.1:8080/" (a
	// link back to it) are one URL.
	if uniqueIDs(fs) != 11 {
		t.Errorf("unique ids = %d, want 11", uniqueIDs(fs))
	}
	root := urls[0]
	if root.URL != "http://127.0.0.1:8080/" || root.StatusCode != 200 || !root.Verified || root.Method != "GET" ||
		root.ContentType != "text/html; charset=utf-8" || root.Webserver != "nginx/1.18.0" ||
		root.ContentLength != 503 || root.ResponseHeaders["x-powered-by"] != "PHP/7.4.3" || root.Port != 8080 {
		t.Errorf("root = %+v", root)
	}
	forms, ok := root.ExtraData["forms"].([]katanaForm)
	if !ok || len(forms) != 1 || forms[0].Action != "http://127.0.0.1:8080/search" || forms[0].Parameters[0] != "q" {
		t.Errorf("root forms = %#v", root.ExtraData["forms"])
	}
	byURL := map[string]*finding.URL{}
	for _, u := range urls {
		if byURL[u.URL] == nil {
			byURL[u.URL] = u
		}
	}
	if c := byURL["http://127.0.0.1:8080/contact"]; c == nil || c.ExtraData["source"] != "http://127.0.0.1:8080/about" ||
		c.ExtraData["tag"] != "a" || c.ExtraData["attribute"] != "href" || c.Path != "/contact" {
		t.Errorf("contact = %+v", c)
	}
	// A link found at the depth limit was not fetched: a URL, not verified.
	if p := byURL["http://127.0.0.1:8080/products?id=2"]; p == nil || p.Verified || p.StatusCode != 0 {
		t.Errorf("unfetched link = %+v", p)
	}
	if js := byURL["http://127.0.0.1:8080/static/app.js"]; js == nil || js.ContentType != "application/javascript" {
		t.Errorf("app.js = %+v", js)
	}
}

func TestKatanaParseWithRaw(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "katana", "katana-with-raw.jsonl")
	if st.Garbage != 0 {
		t.Fatalf("garbage %d (%v)", st.Garbage, st.FirstError)
	}
	if n := len(only[*finding.URL](fs)); n != 12 {
		t.Errorf("urls = %d, want 12", n)
	}
}

func TestKatanaParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "katana", "secator_katana_output.json")
	urls := only[*finding.URL](fs)
	if len(urls) != 1 || st.Garbage != 0 {
		t.Fatalf("urls = %d, garbage = %d", len(urls), st.Garbage)
	}
	u := urls[0]
	if u.URL != "http://testphp.vulnweb.com/login.php" || u.StatusCode != 200 || u.Webserver != "nginx/1.19.0" ||
		u.ContentLength != 5523 || u.StoredResponsePath == "" || u.ContentType != "text/html; charset=UTF-8" {
		t.Errorf("url = %+v", u)
	}
	if forms, _ := u.ExtraData["forms"].([]katanaForm); len(forms) != 2 {
		t.Errorf("forms = %#v", u.ExtraData["forms"])
	}
}

func TestKatanaParseTechnologiesAndErrors(t *testing.T) {
	t.Parallel()
	fs := feedLines(t, "katana",
		`{"timestamp":"2026-11-28T14:48:40Z","request":{"method":"GET","endpoint":"http://127.0.0.1:8080"},"response":{"status_code":200,"headers":{"Server":"nginx"},"technologies":["Nginx:1.18.0","PHP"]}}`,
		`{"timestamp":"2026-11-28T14:48:41Z","request":{"method":"GET","endpoint":"http://127.0.0.1:8080/x"},"error":"context deadline exceeded"}`,
		`{"timestamp":"2026-11-28T14:48:41Z"}`,
		`not json`,
	)
	urls := only[*finding.URL](fs)
	techs := only[*finding.Technology](fs)
	if len(urls) != 2 || len(techs) != 2 {
		t.Fatalf("urls = %d, technologies = %d; want 2 and 2", len(urls), len(techs))
	}
	if urls[0].Webserver != "nginx" {
		t.Errorf("webserver from a capitalised header = %q", urls[0].Webserver)
	}
	if techs[0].Product != "Nginx" || techs[0].Version != "1.18.0" || techs[0].Match != "http://127.0.0.1:8080/" ||
		techs[1].Product != "PHP" {
		t.Errorf("technologies = %+v, %+v", techs[0], techs[1])
	}
	if urls[1].ExtraData["error"] != "context deadline exceeded" || urls[1].Verified {
		t.Errorf("failed request = %+v", urls[1])
	}
}

func TestKatanaCommand(t *testing.T) {
	t.Parallel()
	cmd, dir := mustBuildTool(t, "katana", []string{"http://127.0.0.1:8080"}, map[string][]string{
		"depth": {"2"}, "follow_redirect": {"false"}, "delay": {"100ms"}, "timeout": {"5s"},
		"header": {"Cookie: a=b", "X-Test: 1"}, "user_agent": {"sortie"}, "crawl_duration": {"90s"},
	})
	wantSeq(t, cmd.Argv, "-H", "Cookie: a=b", "-H", "X-Test: 1")
	wantSeq(t, cmd.Argv, "-H", "User-Agent: sortie")
	wantArgs(t, cmd.Argv, "-d 2", "-dr", "-rd 1", "-timeout 5", "-ct 1m30s", "-jc", "-jsonl -silent -duc -nc -or -ob -fx",
		"-list "+filepath.Join(dir, "targets.txt"))
	assertTargetsFile(t, dir, "http://127.0.0.1:8080\n")

	cmd, _ = mustBuildTool(t, "katana", []string{"http://127.0.0.1:8080"}, map[string][]string{
		"follow_redirect": {"true"}, "js_crawl": {"false"},
	})
	noArgs(t, cmd.Argv, "-dr", "-jc")
}

func TestKatanaVersionRegex(t *testing.T) {
	t.Parallel()
	assertVersionRegex(t, "katana", "[INF] Current version: v1.2.2\n", "1.2.2")
}

func FuzzKatanaLine(f *testing.F) {
	fuzzLineParser(f, "katana", "katana.jsonl")
}
