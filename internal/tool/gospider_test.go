package tool

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestGospiderParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "gospider", "gospider.jsonl")
	// The "[url] - [code-200] - ..." line is read, not counted as garbage;
	// the two relative link-finder paths are skipped.
	if st.Lines != 31 || st.Garbage != 0 || st.Skipped != 2 {
		t.Fatalf("stats = %+v, want 31 lines, 2 skipped, no garbage", st)
	}
	byURL := map[string][]*finding.URL{}
	for _, u := range only[*finding.URL](fs) {
		byURL[u.URL] = append(byURL[u.URL], u)
	}
	if len(byURL) != 15 {
		t.Errorf("distinct urls = %d, want 15", len(byURL))
	}
	// The plain-text line: the JavaScript file fetched by the link finder.
	js := byURL["http://127.0.0.1:8080/static/app.js"]
	if len(js) != 2 || !slices.Equal(js[0].Tags, []string{"javascript"}) || js[0].StatusCode != 0 ||
		js[1].StatusCode != 200 || !js[1].Verified || js[1].Host != "127.0.0.1" || js[1].Port != 8080 {
		t.Errorf("app.js = %+v", js)
	}
	root := byURL["http://127.0.0.1:8080/"]
	if len(root) == 0 || root[0].StatusCode != 200 || root[0].Lines != 9 || root[0].Path != "/" {
		t.Errorf("root = %+v", root)
	}
	admin := byURL["http://127.0.0.1:8080/admin"]
	if len(admin) != 2 || admin[0].ExtraData["source"] != "robots" || admin[0].Verified {
		t.Errorf("admin = %+v", admin)
	}
	cfg := byURL["http://127.0.0.1:8080/api/v1/config"]
	if len(cfg) != 2 || !slices.Equal(cfg[0].Tags, []string{"linkfinder"}) ||
		cfg[0].ExtraData["source"] != "http://127.0.0.1:8080/static/app.js" {
		t.Errorf("api/v1/config = %+v", cfg)
	}
	if got := len(byURL["http://127.0.0.1:8080/db.sql"]); got != 1 {
		t.Errorf("db.sql (form action) found %d times", got)
	}
}

func TestGospiderParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "gospider", "secator_gospider_output.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	urls := only[*finding.URL](fs)
	if len(urls) != 1 {
		t.Fatalf("urls = %d, want 1", len(urls))
	}
	u := urls[0]
	if u.URL != "https://example.com/webman/resources/images/2x/default_login_background/" ||
		u.StatusCode != 200 || u.Port != 443 || u.Lines != 140 || u.Tags != nil {
		t.Errorf("url = %+v", u)
	}
}

func TestGospiderLines(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("gospider")
	for _, tc := range []struct {
		line    string
		want    finding.Finding
		wantErr error
	}{
		{line: `{"input":"http://a.test","source":"body","type":"subdomain","output":"api.a.test"}`,
			want: &finding.Subdomain{Host: "api.a.test", Sources: []string{"gospider"}}},
		{line: `{"input":"http://a.test","source":"body","type":"aws","output":"bucket.s3.amazonaws.com"}`,
			want: &finding.Tag{Name: "aws-s3-bucket", Category: "cloud", Match: "http://a.test", Value: "bucket.s3.amazonaws.com"}},
		{line: `[url] - [code-403] - [len_12] - https://a.test/x.js`,
			want: &finding.URL{URL: "https://a.test/x.js", StatusCode: 403, ContentLength: 12}},
		{line: `{"input":"http://a.test","source":"body","type":"url","output":"mailto:x@a.test"}`, wantErr: ErrSkip},
		{line: ``, wantErr: ErrSkip},
		{line: `[linkfinder] - /api`, wantErr: errNotJSON},
		{line: `{"input": 1`, wantErr: errors.New("any")},
	} {
		var got []finding.Finding
		err := d.Parse.Line(&ParseContext{}, []byte(tc.line), func(f finding.Finding) { got = append(got, f) })
		switch {
		case tc.wantErr != nil && err == nil:
			t.Errorf("%q: no error, want %v", tc.line, tc.wantErr)
		case tc.wantErr != nil && tc.wantErr.Error() != "any" && !errors.Is(err, tc.wantErr):
			t.Errorf("%q: error %v, want %v", tc.line, err, tc.wantErr)
		case tc.wantErr == nil && (err != nil || len(got) != 1):
			t.Errorf("%q: %d findings, error %v", tc.line, len(got), err)
		case tc.wantErr == nil:
			got[0].Normalize()
			tc.want.Normalize()
			if !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("%q:\n got %+v\nwant %+v", tc.line, got[0], tc.want)
			}
		}
	}
}

func TestGospiderBuild(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("gospider")
	dir := t.TempDir()
	cmd, err := d.Build(Invocation{
		Targets: []string{"http://127.0.0.1:8080"},
		Options: map[string][]string{"depth": {"2"}, "threads": {"5"}, "follow_redirect": {"false"},
			"header": {"Authorization: Bearer s3cr3t"}, "cookie": {"session=abc123"}},
		Dir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gospider", "-c", "5", "-H", "Authorization: Bearer s3cr3t", "-d", "2", "--no-redirect",
		"--cookie", "session=abc123", "--json", "-q", "-S", filepath.Join(dir, "targets.txt")}
	if !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
	}
	if strings.Contains(cmd.Display, "s3cr3t") || strings.Contains(cmd.Display, "abc123") ||
		!strings.Contains(cmd.Display, "[REDACTED]") {
		t.Errorf("display leaks a secret: %s", cmd.Display)
	}
}

func FuzzParseGospider(f *testing.F) {
	for _, file := range []string{"gospider.jsonl", "secator_gospider_output.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			f.Add([]byte(l))
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_ = parseGospiderLine(&ParseContext{}, line, fuzzEmitWellFormed(t))
	})
}
