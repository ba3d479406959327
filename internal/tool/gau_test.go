package tool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestGauParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		want int
	}{{"gau.txt", 5}, {"gau.jsonl", 2}, {"secator_gau_output.json", 1}} {
		fs, st := parseFixture(t, "gau", tc.file)
		if st.Garbage != 0 {
			t.Errorf("%s: garbage %d (%v)", tc.file, st.Garbage, st.FirstError)
		}
		if urls := only[*finding.URL](fs); len(urls) != tc.want || uniqueIDs(fs) != tc.want {
			t.Errorf("%s: %d urls (%d ids), want %d", tc.file, len(urls), uniqueIDs(fs), tc.want)
		}
	}
	fs, _ := parseFixture(t, "gau", "gau.txt")
	u := only[*finding.URL](fs)[3]
	if u.URL != "https://www.test.local/api/v1/users?id=1" || u.Host != "www.test.local" || u.Port != 443 ||
		u.Path != "/api/v1/users" || u.Scheme != "https" || u.Verified || u.StatusCode != 0 {
		t.Errorf("url = %+v", u)
	}
	// The text and JSON forms of one URL are one finding.
	js, _ := parseFixture(t, "gau", "gau.jsonl")
	if js[1].Base().ID != fs[4].Base().ID {
		t.Errorf("db.sql ids differ: %s (json) vs %s (text)", js[1].Base().ID, fs[4].Base().ID)
	}
	old, _ := parseFixture(t, "gau", "secator_gau_output.json")
	if u := only[*finding.URL](old)[0]; u.URL != "https://play.google.com/store/apps/details?id=com.demash.drinkingclock" {
		t.Errorf("secator url = %+v", u)
	}
}

func TestGauLines(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("gau")
	for line, want := range map[string]error{
		"":                           ErrSkip,
		`{"url":""}`:                 ErrSkip,
		"level=warning msg=\"oops\"": errGauNotURL,
		"ftp://test.local/file":      errGauNotURL,
		`{"url": 3}`:                 errors.New("any"),
	} {
		err := d.Parse.Line(&ParseContext{}, []byte(line), func(f finding.Finding) { t.Errorf("%q emitted %+v", line, f) })
		if err == nil || want.Error() != "any" && !errors.Is(err, want) {
			t.Errorf("%q: error %v, want %v", line, err, want)
		}
	}
}

func TestGauBuild(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("gau")
	cmd, err := d.Build(Invocation{
		Targets: []string{"test.local", "example.com"},
		Options: map[string][]string{"threads": {"5"}, "timeout": {"10s"}, "proxy": {"http://user:pw@127.0.0.1:8899"},
			"providers": {"wayback", "otx"}, "subs": {"true"}},
		Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gau", "--threads", "5", "--timeout", "10", "--proxy", "http://user:pw@127.0.0.1:8899",
		"--providers", "wayback,otx", "--subs"}
	if !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
	}
	if string(cmd.Stdin) != "test.local\nexample.com\n" {
		t.Errorf("stdin = %q", cmd.Stdin)
	}
	if strings.Contains(cmd.Display, "pw@") || !strings.Contains(cmd.Display, "[REDACTED]") {
		t.Errorf("display leaks the proxy: %s", cmd.Display)
	}
}

func FuzzParseGau(f *testing.F) {
	for _, file := range []string{"gau.txt", "gau.jsonl", "secator_gau_output.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			f.Add([]byte(l))
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_ = parseGauLine(&ParseContext{}, line, fuzzEmitWellFormed(t))
	})
}
