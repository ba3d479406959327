package tool

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestWafw00fParseNoWAF(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "wafw00f", "wafw00f.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	if len(fs) != 1 {
		t.Fatalf("findings = %d, want 1 info", len(fs))
	}
	info, ok := fs[0].(*finding.Info)
	if !ok || info.Message != "wafw00f: no WAF detected on http://127.0.0.1:8080" {
		t.Errorf("finding = %#v", fs[0])
	}
}

func TestWafw00fParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "wafw00f", "secator_wafw00f_output.json")
	if st.Garbage != 0 {
		t.Fatalf("garbage: %d (%v)", st.Garbage, st.FirstError)
	}
	tags := only[*finding.Tag](fs)
	if len(tags) != 1 || len(fs) != 1 {
		t.Fatalf("findings = %d, tags = %d, want one tag", len(fs), len(tags))
	}
	tg := tags[0]
	if tg.Name != "Envoy" || tg.Match != "https://netflix.com" || tg.Category != "waf" || tg.Value != "EnvoyProxy" ||
		tg.ExtraData["trigger_url"] != "https://www.netflix.com/fr-en/?qvkljxql=%3Cscript%3Ealert%28%22XSS%22%29%3B%3C%2Fscript%3E&zelspuab=UNION+SELECT+ALL+FROM+information_schema+AND+%22+or+SLEEP%285%29+or+%22&fpxcwplg=..%2F..%2Fetc%2Fpasswd" {
		t.Errorf("tag = %+v", tg)
	}
}

// With -a a URL can get WAF records and a generic "none" record.
func TestWafw00fParseFindAll(t *testing.T) {
	t.Parallel()
	data := `[
  {"url": "https://a.test", "detected": true, "firewall": "Cloudflare", "manufacturer": "Cloudflare Inc."},
  {"url": "https://a.test", "detected": true, "firewall": "Generic", "manufacturer": "Unknown"},
  {"url": "https://a.test", "detected": false, "firewall": "None", "manufacturer": "None"},
  {"url": "https://b.test", "detected": false, "firewall": "None", "manufacturer": "None"},
  {"detected": true}
]`
	var fs []finding.Finding
	err := parseWafw00f(&ParseContext{}, []byte(data), func(f finding.Finding) { fs = append(fs, f) })
	if err == nil {
		t.Error("no error for a record without url")
	}
	var got []string
	for _, f := range fs {
		switch v := f.(type) {
		case *finding.Tag:
			got = append(got, "tag "+v.Name+"|"+v.Value+"|"+v.Match)
		case *finding.Info:
			got = append(got, "info "+v.Message)
		}
	}
	want := []string{"tag Cloudflare|Cloudflare Inc.|https://a.test", "tag Generic||https://a.test",
		"info wafw00f: no WAF detected on https://b.test"}
	if !slices.Equal(got, want) {
		t.Errorf("findings =\n%q\nwant\n%q", got, want)
	}
}

func TestWafw00fBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, err := wafw00fTool().Build(Invocation{
		Targets: []string{"http://127.0.0.1:8080", "https://127.0.0.1:8443"},
		Options: map[string][]string{"proxy": {"http://127.0.0.1:3128"}, "follow_redirect": {"false"}, "find_all": {"true"}},
		Dir:     dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"wafw00f", "-p", "http://127.0.0.1:3128", "-r", "-a", "-f", "json", "-o", filepath.Join(dir, "output.json"),
		"http://127.0.0.1:8080", "https://127.0.0.1:8443"}
	if !slices.Equal(cmd.Argv, want) {
		t.Errorf("argv =\n%q\nwant\n%q", cmd.Argv, want)
	}
	cmd, err = wafw00fTool().Build(Invocation{Targets: []string{"a.test"}, Options: map[string][]string{"follow_redirect": {"true"}}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(cmd.Argv, "-r") {
		t.Errorf("follow_redirect=true added -r: %q", cmd.Argv)
	}
}

func FuzzParseWafw00f(f *testing.F) {
	for _, name := range []string{"wafw00f.json", "secator_wafw00f_output.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"url":"x","detected":true,"firewall":"F"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseWafw00f(&ParseContext{}, data, checkFuzzFinding(t))
	})
}

func TestWafw00fVersion(t *testing.T) {
	t.Parallel()
	checkToolVersion(t, wafw00fTool(), "[+] The version of WAFW00F you have is \x1b[1;94mv2.2.0\x1b[0m\n", "2.2.0")
}
