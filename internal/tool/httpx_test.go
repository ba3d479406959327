package tool

import (
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
)

func TestHttpxParse(t *testing.T) {
	t.Parallel()
	fs, st := parseFixture(t, "httpx", "httpx.jsonl")
	if st.Garbage != 0 {
		t.Fatalf("garbage lines: %d (%v)", st.Garbage, st.FirstError)
	}
	urls := only[*finding.URL](fs)
	if len(urls) != 3 {
		t.Fatalf("urls = %d, want 3", len(urls))
	}
	u := urls[0]
	if u.URL != "http://localhost:8080/about" || u.Host != "localhost" || u.Port != 8080 ||
		u.Path != "/about" || u.Scheme != "http" || u.StatusCode != 200 || u.Title != "About us" ||
		u.Webserver != "nginx/1.18.0" || u.IP != "127.0.0.1" || u.ContentLength != 161 || !u.Verified {
		t.Errorf("first url = %+v", u)
	}
	if u.TimeMS < 2.3 || u.TimeMS > 2.4 {
		t.Errorf("time_ms = %v, want 2.33", u.TimeMS)
	}
	techs := only[*finding.Technology](fs)
	var wp *finding.Technology
	for _, tc := range techs {
		if tc.Product == "WordPress" && tc.Match == "http://127.0.0.1:8080/" {
			wp = tc
		}
	}
	if wp == nil || wp.Version != "5.8.1" {
		t.Fatalf("WordPress 5.8.1 on http://127.0.0.1:8080/ not found in %d technologies", len(techs))
	}
	certs := only[*finding.Certificate](fs)
	if len(certs) != 1 {
		t.Fatalf("certificates = %d, want 1", len(certs))
	}
	c := certs[0]
	if c.Host != "127.0.0.1" || c.Port != 8443 || c.SubjectCN != "localhost" || !c.SelfSigned ||
		c.FingerprintSHA256 != "bdabf8fe8c56902330aa1d6fae919b8917fee3ed6b29f6307437222ca987aa3c" ||
		c.NotAfter == nil || c.NotAfter.Year() != 2027 {
		t.Errorf("certificate = %+v", c)
	}
}

func TestHttpxParseSecatorCapture(t *testing.T) {
	t.Parallel()
	fs, _ := parseFixture(t, "httpx", "secator_httpx_output.json")
	urls := only[*finding.URL](fs)
	if len(urls) == 0 {
		t.Fatal("no urls from the older httpx capture")
	}
	u := urls[0]
	if u.URL != "https://media.example.synology.me/" || u.Port != 443 || u.Title != "Jellyfin" ||
		u.Location != "https://media.example.synology.me/web/index.html" {
		t.Errorf("url = %+v", u)
	}
}

func TestParseOutputTruncatedArrayAndBOM(t *testing.T) {
	t.Parallel()
	d, _ := NewRegistry().Lookup("httpx")
	parse := func(in string) (int, error) {
		n := 0
		_, err := ParseOutput(d, &ParseContext{}, strings.NewReader(in), func(f finding.Finding) {
			if f.Kind() == finding.TypeURL {
				n++
			}
		})
		return n, err
	}
	n, err := parse(`[{"url":"http://a/1","status_code":200},{"url":"http://a/2","status_code":200},{"url":"http://a/3","sta`)
	if n != 2 || err == nil {
		t.Errorf("truncated array: %d urls, err %v; want 2 and an error", n, err)
	}
	n, err = parse("\ufeff" + `{"url":"http://a/1","status_code":200}` + "\n")
	if n != 1 || err != nil {
		t.Errorf("BOM: %d urls, err %v; want 1", n, err)
	}
	n, err = parse("\ufeff[\n" + `{"url":"http://a/1"}` + "\n]\n")
	if n != 1 || err != nil {
		t.Errorf("BOM + array: %d urls, err %v; want 1", n, err)
	}
}
