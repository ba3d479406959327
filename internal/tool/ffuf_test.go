package tool

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

// ffufFound maps the found URLs to their FUZZ input.
func ffufFound(t *testing.T, urls []*finding.URL) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, u := range urls {
		in, _ := u.ExtraData["input"].(map[string]string)
		if _, ok := in["FFUFHASH"]; ok {
			t.Errorf("%s: FFUFHASH kept in input", u.URL)
		}
		out[u.URL] = in["FUZZ"]
	}
	return out
}

var ffufWant = map[string]string{
	"http://127.0.0.1:8080/admin":       "admin",
	"http://127.0.0.1:8080/about":       "about",
	"http://127.0.0.1:8080/login":       "login",
	"http://127.0.0.1:8080/backup":      "backup",
	"http://127.0.0.1:8080/robots.txt":  "robots.txt",
	"http://127.0.0.1:8080/.git/config": ".git/config",
	"http://127.0.0.1:8080/contact":     "contact",
}

func TestFfufParseStdoutLines(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "ffuf", "ffuf.jsonl")
	if st.Garbage != 0 || st.Skipped != 0 {
		t.Fatalf("garbage %d, skipped %d (%v)", st.Garbage, st.Skipped, st.FirstError)
	}
	urls := only[*finding.URL](fs)
	// The FUZZ values are base64 on stdout ("YWRtaW4="): decoded.
	if got := ffufFound(t, urls); !maps.Equal(got, ffufWant) {
		t.Errorf("found = %v\nwant %v", got, ffufWant)
	}
	a := urls[0]
	if a.StatusCode != 200 || a.ContentLength != 105 || a.Words != 4 || a.Lines != 1 || !a.Verified ||
		a.ContentType != "text/html; charset=utf-8" || a.Host != "127.0.0.1" || a.Port != 8080 {
		t.Errorf("admin = %+v", a)
	}
	if a.TimeMS < 0.343 || a.TimeMS > 0.344 {
		t.Errorf("time_ms = %v, want 0.343655", a.TimeMS)
	}
	if a.ExtraData["position"] != 1 {
		t.Errorf("position = %v", a.ExtraData["position"])
	}
}

func TestFfufParseReportFile(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "ffuf", "ffuf-report.json")
	if st.Garbage != 0 || st.Lines != 1 || st.Findings != 7 {
		t.Fatalf("stats = %+v", st)
	}
	urls := only[*finding.URL](fs)
	// The report has plain values ("admin"): kept as they are.
	if got := ffufFound(t, urls); !maps.Equal(got, ffufWant) {
		t.Errorf("found = %v\nwant %v", got, ffufWant)
	}
	if urls[0].Method != "GET" {
		t.Errorf("method from the report's config = %q", urls[0].Method)
	}
}

func TestFfufParseIndentedReport(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "ffuf-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	d, _ := NewRegistry().Lookup("ffuf")
	var urls []*finding.URL
	st, err := ParseOutput(d, &ParseContext{}, &pretty, func(f finding.Finding) {
		finding.Stamp(f, finding.Scope{Run: "r"}, stampTime)
		urls = append(urls, f.(*finding.URL))
	})
	if err != nil || st.Garbage != 0 {
		t.Fatalf("parse: %v, %+v", err, st)
	}
	if got := ffufFound(t, urls); !maps.Equal(got, ffufWant) {
		t.Errorf("found = %v", got)
	}
}

func TestFfufParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "ffuf", "secator_ffuf_output.json")
	urls := only[*finding.URL](fs)
	if len(urls) != 1 || st.Garbage != 0 {
		t.Fatalf("urls = %d, garbage = %d", len(urls), st.Garbage)
	}
	u := urls[0]
	if u.URL != "https://example.synology.me/.htaccess-local" || u.StatusCode != 200 || u.Words != 1066 ||
		u.ExtraData["input"].(map[string]string)["FUZZ"] != ".htaccess-local" {
		t.Errorf("url = %+v", u)
	}
}

func TestFfufParseEdgeCases(t *testing.T) {
	t.Parallel()
	fs := feedLines(t, "ffuf",
		`{"commandline":"ffuf -u http://h/FUZZ","time":"2026-11-28T14:50:23Z","results":[],"config":{"method":"GET"}}`,
		`{"input":{"FUZZ":"ZG9jcw=="},"status":301,"url":"http://h/docs","redirectlocation":"http://h/docs/","duration":1000000}`,
		`{"input":{"FUZZ":"test"},"status":200,"url":"http://h/test"}`,
		`{"input":{"FUZZ":"YmFja3Vw"},"status":307,"url":"http://h:8080/backup","redirectlocation":"/backup/"}`,
		`{"input":{"FUZZ":"b2xk"},"status":302,"url":"http://h/old","redirectlocation":"https://h/new/"}`,
		`:: Progress: [10/100] ::`,
	)
	urls := only[*finding.URL](fs)
	if len(urls) != 4 {
		t.Fatalf("urls = %d, want 4", len(urls))
	}
	if !urls[0].IsDirectory || urls[0].Location != "http://h/docs/" || urls[0].TimeMS != 1 {
		t.Errorf("directory = %+v", urls[0])
	}
	// "test" is valid base64 but the URL shows it is a plain value.
	if in := urls[1].ExtraData["input"].(map[string]string); in["FUZZ"] != "test" {
		t.Errorf("plain value decoded: %q", in["FUZZ"])
	}
	// A relative Location is resolved against the URL.
	if u := urls[2]; !u.IsDirectory || u.Location != "http://h:8080/backup/" {
		t.Errorf("relative redirect = %+v", u)
	}
	if u := urls[3]; u.IsDirectory || u.Location != "https://h/new/" {
		t.Errorf("redirect elsewhere = %+v", u)
	}
}

func TestFfufTarget(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":          "http://127.0.0.1:8080/FUZZ",
		"http://127.0.0.1:8080/":         "http://127.0.0.1:8080/FUZZ",
		"http://h/app":                   "http://h/app/FUZZ",
		"http://h/app/":                  "http://h/app/FUZZ",
		"http://h/app?x=1":               "http://h/app/FUZZ?x=1",
		"http://h?x=1":                   "http://h/FUZZ?x=1",
		"https://h/a#frag":               "https://h/a/FUZZ#frag",
		"http://h/FUZZ.php":              "http://h/FUZZ.php",
		"http://h/search?q=FUZZ":         "http://h/search?q=FUZZ",
		"http://FUZZ.example.com/":       "http://FUZZ.example.com/",
		"http://[::1]:8080/admin/panel/": "http://[::1]:8080/admin/panel/FUZZ",
	} {
		if got := ffufTarget(in); got != want {
			t.Errorf("ffufTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFfufCommand(t *testing.T) {
	t.Parallel()
	cmd, _ := mustBuildTool(t, "ffuf", []string{"http://127.0.0.1:8080/FUZZ"}, map[string][]string{
		"wordlist": {"/opt/words.txt"}, "delay": {"100ms"}, "depth": {"2"}, "threads": {"5"},
		"match_codes": {"200,301"}, "proxy": {"http://127.0.0.1:8899"}, "data": {"user=FUZZ&token=s3cret"},
	})
	wantArgs(t, cmd.Argv, "-w /opt/words.txt", "-p 0.1", "-recursion -recursion-depth 2", "-t 5",
		"-mc 200,301", "-x http://127.0.0.1:8899", "-json -s -noninteractive", "-u http://127.0.0.1:8080/FUZZ")
	if strings.Contains(cmd.Display, "s3cret") || strings.Contains(cmd.Display, "127.0.0.1:8899") {
		t.Errorf("display shows a sensitive value: %s", cmd.Display)
	}

	cmd, _ = mustBuildTool(t, "ffuf", []string{"http://h/FUZZ"}, map[string][]string{"depth": {"0"}, "delay": {"2"}})
	noArgs(t, cmd.Argv, "-recursion")
	wantArgs(t, cmd.Argv, "-p 2")

	d, _ := NewRegistry().Lookup("ffuf")
	if _, err := d.Build(Invocation{Targets: []string{"http://a/FUZZ", "http://b/FUZZ"}, Dir: t.TempDir()}); err == nil {
		t.Error("two targets in one ffuf run: no error")
	}
}

func TestFfufVersionRegex(t *testing.T) {
	t.Parallel()
	assertVersionRegex(t, "ffuf", "ffuf version: 2.2.1\n", "2.2.1")
}

func FuzzFfufLine(f *testing.F) {
	fuzzLineParser(f, "ffuf", "ffuf.jsonl", "ffuf-report.json")
}
