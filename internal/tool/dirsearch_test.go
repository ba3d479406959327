package tool

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestDirsearchParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "dirsearch", "dirsearch.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	urls := only[*finding.URL](fs)
	if len(urls) != 7 || len(fs) != 7 {
		t.Fatalf("findings = %d, urls = %d, want 7 urls", len(fs), len(urls))
	}
	u := urls[0]
	if u.URL != "http://127.0.0.1:8080/contact" || u.Host != "127.0.0.1" || u.Port != 8080 || u.Path != "/contact" ||
		u.StatusCode != 200 || u.ContentLength != 141 || !u.Verified || u.Location != "" || u.IsDirectory {
		t.Errorf("first url = %+v", u)
	}
	if urls[4].URL != "http://127.0.0.1:8080/.git/config" {
		t.Errorf("fifth url = %s", urls[4].URL)
	}
	if uniqueIDs(fs) != 7 {
		t.Errorf("unique ids = %d, want 7", uniqueIDs(fs))
	}
}

func TestDirsearchParseRedirect(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "dirsearch", "dirsearch-redirect.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	urls := only[*finding.URL](fs)
	if len(urls) != 2 {
		t.Fatalf("urls = %d, want 2", len(urls))
	}
	u := urls[1]
	if u.URL != "http://127.0.0.1:18080/admin" || u.StatusCode != 301 || u.ContentLength != 0 ||
		u.Location != "http://127.0.0.1:18080/admin/" || !u.IsDirectory {
		t.Errorf("redirect = %+v", u)
	}
	if urls[0].IsDirectory || urls[0].Location != "" {
		t.Errorf("plain file = %+v", urls[0])
	}
}

func TestDirsearchParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "dirsearch", "secator_dirsearch_output.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	urls := only[*finding.URL](fs)
	if len(urls) != 9 || len(fs) != 9 {
		t.Fatalf("findings = %d, urls = %d, want 9 urls", len(fs), len(urls))
	}
	var metrics *finding.URL
	for _, u := range urls {
		if u.URL == "http://localhost:3000/metrics/" {
			metrics = u
		}
	}
	if metrics == nil || metrics.StatusCode != 200 || metrics.ContentLength != 23570 ||
		metrics.ContentType != "text/plain" || !metrics.IsDirectory || metrics.Location != "" {
		t.Errorf("metrics/ = %+v", metrics)
	}
	if v := urls[8]; v.URL != "http://localhost:3000/video" || v.ContentLength != 10075518 || v.ContentType != "video/mp4" {
		t.Errorf("video = %+v", v)
	}
}

func TestDirsearchParseGarbage(t *testing.T) {
	t.Parallel()
	var n int
	emit := func(finding.Finding) { n++ }
	if err := parseDirsearch(&ParseContext{}, []byte("Error: no target"), emit); err == nil {
		t.Error("no error for text")
	}
	data := `{"results": [{"url": "http://a.test/x", "status": 200}, 7, {"url": "not a url", "status": 200},
		{"http://b.test/": [{"path": "/y", "status": "200"}]}]}`
	if err := parseDirsearch(&ParseContext{}, []byte(data), emit); err == nil {
		t.Error("no error for bad results")
	}
	if n != 2 {
		t.Errorf("emitted %d findings, want the 2 good ones", n)
	}
}

func TestDirsearchBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, err := dirsearchTool().Build(Invocation{
		Targets: []string{"http://127.0.0.1:8080", "http://127.0.0.1:8081/app/"},
		Options: map[string][]string{
			"threads": {"5"}, "timeout": {"2500ms"}, "wordlist": {"/opt/wordlist.txt"}, "depth": {"2"},
			"header": {"X-A: 1", "X-B: 2"}, "extensions": {"php,html"},
		},
		Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dirsearch", "-t", "5", "--timeout", "2.5", "-H", "X-A: 1", "-H", "X-B: 2",
		"-w", "/opt/wordlist.txt", "-r", "-R", "2", "-e", "php,html",
		"-q", "--no-color", "--format=json", "-o", filepath.Join(dir, "output.json"),
		"-l", filepath.Join(dir, "targets.txt")}
	if !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
	}
	targets, err := os.ReadFile(filepath.Join(dir, "targets.txt"))
	if err != nil || string(targets) != "http://127.0.0.1:8080\nhttp://127.0.0.1:8081/app/\n" {
		t.Errorf("targets file = %q, %v", targets, err)
	}
}

func FuzzParseDirsearch(f *testing.F) {
	for _, name := range []string{"dirsearch.json", "dirsearch-redirect.json", "secator_dirsearch_output.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseDirsearch(&ParseContext{}, data, checkFuzzFinding(t))
	})
}

func TestDirsearchVersion(t *testing.T) {
	t.Parallel()
	checkToolVersion(t, dirsearchTool(), "dirsearch v0.4.2\n", "0.4.2")
}
