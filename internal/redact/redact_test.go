package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

const bearer = "Authorization: Bearer s3cr3t-t0k3n/+x"

// forms lists ways a tool may echo s, each with the decoder that reads it
// back, for the tests and the fuzz target.
func forms(s string) map[string]string {
	goJSON, _ := json.Marshal(s)
	var noHTML bytes.Buffer
	enc := json.NewEncoder(&noHTML)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	twice, _ := json.Marshal(string(goJSON))
	return map[string]string{
		"plain":       s,
		"json":        string(goJSON),
		"json-nohtml": strings.TrimSpace(noHTML.String()),
		"json-slash":  strings.ReplaceAll(string(goJSON), "/", `\/`),
		"json-ascii":  asciiJSON(s),
		"json-twice":  string(twice),
		"query":       url.QueryEscape(s),
		"path":        url.PathEscape(s),
		"all-percent": percentAll(s),
	}
}

// asciiJSON escapes every byte outside printable ASCII, and every letter,
// as \uXXXX (an encoder may escape anything).
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r >= 0x10000:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		case r < 0x20 || r > 0x7e || r >= 'a' && r <= 'z':
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func percentAll(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "%%%02x", c)
	}
	return b.String()
}

func TestRedactForms(t *testing.T) {
	t.Parallel()
	r := New(bearer)
	for name, f := range forms(bearer) {
		for _, line := range []string{f, "before " + f + " after", `{"curl_command":"curl -H '` + f + `' http://127.0.0.1/"}`} {
			out := r.String(line)
			if strings.Contains(out, "s3cr3t") || !strings.Contains(out, Mask) {
				t.Errorf("%s: %q -> %q", name, line, out)
			}
		}
	}
}

func TestRedactDerived(t *testing.T) {
	t.Parallel()
	basic := base64.StdEncoding.EncodeToString([]byte("alice:pa55w0rd!"))
	cases := []struct {
		name, secret, text, gone string
	}{
		{"header value alone", bearer, `{"Authorization":"Bearer s3cr3t-t0k3n/+x"}`, "s3cr3t"},
		{"lower-case header name", bearer, "authorization: Bearer s3cr3t-t0k3n/+x", "s3cr3t"},
		{"token alone", bearer, "token=s3cr3t-t0k3n/+x", "s3cr3t"},
		{"basic decoded", "Authorization: Basic " + basic, "user alice:pa55w0rd! rejected", "pa55w0rd"},
		{"proxy userinfo", "http://alice:pa55w0rd!@127.0.0.1:3128", "proxy alice:pa55w0rd! failed", "pa55w0rd"},
		{"proxy password alone", "http://alice:pa55w0rd!@127.0.0.1:3128", "password pa55w0rd! refused", "pa55w0rd"},
		{"proxy basic", "http://alice:pa55w0rd!@127.0.0.1:3128", "Proxy-Authorization: Basic " + basic, basic},
		{"proxy escaped userinfo", "http://alice:pa%2455@127.0.0.1:3128", "userinfo alice:pa$55 sent", "pa$55"},
		{"cookie value", "Cookie: session=0123456789abcdef; theme=dark", `{"session":"0123456789abcdef"}`, "0123456789abcdef"},
		{"bare cookie option", "session=0123456789abcdef; theme=dark", `Cookie: session=0123456789abcdef`, "0123456789abcdef"},
		{"shell quoted", "X-Key: it's-s3cr3t", `curl -H 'X-Key: it'\''s-s3cr3t'`, "s3cr3t"},
		{"json in json", bearer, `{"response":"{\"h\":\"Bearer s3cr3t-t0k3n\\/+x\"}"}`, "s3cr3t"},
		{"utf-16 surrogates", "X-Key: k\U0001F600y-abcdef", `{"h":"X-Key: k\ud83d\ude00y-abcdef"}`, "abcdef"},
	}
	for _, c := range cases {
		out := New(c.secret).String(c.text)
		if strings.Contains(out, c.gone) {
			t.Errorf("%s: %q -> %q still holds %q", c.name, c.text, out, c.gone)
		}
	}
}

// Short values are hidden only where they stand as a whole (Exact): masking
// them in free text would mask unrelated text everywhere.
func TestRedactShortValues(t *testing.T) {
	t.Parallel()
	r := New("abc", "X: 1", "X-Debug: on")
	if got := r.String("abc def"); got != "abc def" {
		t.Errorf("a 3-byte value was masked in free text: %q", got)
	}
	if got := r.String("sent X: 1 and X-Debug: on"); got != "sent "+Mask+" and "+Mask {
		t.Errorf("whole values of 4 bytes and more: %q", got)
	}
	if got := r.String("debug is on, 1 file"); got != "debug is on, 1 file" {
		t.Errorf("a short header value was masked alone: %q", got)
	}
	if !r.Exact("abc") || r.Exact("ab") {
		t.Error("Exact")
	}
	var none *Redactor
	if none.String("x") != "x" || !none.Empty() || New().String("abc") != "abc" {
		t.Error("a nil or empty redactor changed text")
	}
}

func TestRedactLongestFirst(t *testing.T) {
	t.Parallel()
	r := New("s3cr3t", "s3cr3t-longer")
	if got := r.String("a s3cr3t-longer b"); got != "a "+Mask+" b" {
		t.Errorf("got %q", got)
	}
}

func TestCopy(t *testing.T) {
	t.Parallel()
	r := New(bearer)
	in := "line one\n" + `{"h":"` + bearer + `"}` + "\n" + strings.Repeat("x", 3*MaxLine) + "\nno newline " + url.QueryEscape(bearer)
	var out bytes.Buffer
	changed, err := r.Copy(&out, strings.NewReader(in))
	if err != nil || !changed {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	if strings.Contains(out.String(), "s3cr3t") || !strings.HasPrefix(out.String(), "line one\n") || out.Len() < 3*MaxLine {
		t.Errorf("copy: %q...", out.String()[:80])
	}
	out.Reset()
	if changed, _ := r.Copy(&out, strings.NewReader("nothing\n")); changed || out.String() != "nothing\n" {
		t.Errorf("copy of clean text: %v %q", changed, out.String())
	}
}

func sensitive(name string) bool { return name == "header" || name == "proxy" || name == "cookie" }

func TestPayload(t *testing.T) {
	t.Parallel()
	msg := `{"run":"r1","task":"1","id":"0","pool":"default","tool":"httpx","targets":["http://127.0.0.1/?t=s3cr3t-t0k3n/+x"],` +
		`"options":{"header":["` + bearer + `","X-Other: visible-to-no-one"],"proxy":["http://alice:pa55w0rd!@127.0.0.1:3128"],"threads":["5"]}}`
	got := Payload([]byte(msg), sensitive, 4096)
	for _, s := range []string{"s3cr3t", "visible-to-no-one", "pa55w0rd"} {
		if strings.Contains(got, s) {
			t.Errorf("decoded payload keeps %q: %s", s, got)
		}
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil || !strings.Contains(got, `"threads":["5"]`) || !strings.Contains(got, `"tool":"httpx"`) {
		t.Errorf("decoded payload lost its shape (%v): %s", err, got)
	}

	// Not JSON, cut short, or a tool the worker does not know: the
	// generic rules still catch headers, credentials and sensitive keys.
	for _, raw := range []string{
		msg[:len(msg)-40],
		msg[:strings.Index(msg, "X-Other")+12],
		strings.Replace(msg, `{"run"`, `garbage{"run"`, 1),
		`tool=x header="Authorization: Bearer s3cr3t-t0k3n" password=pa55w0rd! url=http://alice:pa55w0rd!@127.0.0.1/`,
		`{"options":{"hdr":["Cookie: session=s3cr3t-c00kie"]}, "x": "api_key=s3cr3t-k3y"`,
	} {
		got := Payload([]byte(raw), sensitive, 4096)
		for _, s := range []string{"s3cr3t", "visible-to-no-one", "pa55w0rd"} {
			if strings.Contains(got, s) {
				t.Errorf("undecodable payload keeps %q:\n in: %s\nout: %s", s, raw, got)
			}
		}
	}
	// Cut at a character boundary.
	if got := Payload([]byte(`"é"`), sensitive, 2); got != `"` {
		t.Errorf("truncate: %q", got)
	}
}

// FuzzRedact checks that String never panics and that a secret of MinLen
// bytes or more never survives in the forms covered, wherever it stands.
func FuzzRedact(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		for len(lines) < 3 {
			lines = append(lines, "")
		}
		f.Add(lines[0], lines[1], lines[2])
	}
	f.Add(bearer, "curl -H '", "' http://127.0.0.1/")
	f.Add("p\u00e4ss\U0001F600word", `{"a":"`, `"}`)
	f.Fuzz(func(t *testing.T, secret, prefix, suffix string) {
		r := New(secret)
		_ = r.String(prefix + secret + suffix) // never panics
		_ = Payload([]byte(prefix+secret+suffix), sensitive, 64)
		if len(secret) < MinLen || strings.ContainsAny(secret, "[]") || strings.Contains(Mask, secret) {
			return
		}
		for name, form := range forms(secret) {
			out := r.String(prefix + form + suffix)
			if strings.Contains(out, secret) {
				t.Fatalf("%s form survives: secret %q, in %q, out %q", name, secret, prefix+form+suffix, out)
			}
			if strings.Contains(prefix+suffix, secret) || strings.ContainsAny(prefix+suffix, `\%+`) {
				continue // the surroundings can build escapes of their own
			}
			var dec string
			switch {
			case strings.HasPrefix(name, "json"):
				dec, _ = jsonUnescape(out)
				if name == "json-twice" {
					dec, _ = jsonUnescape(dec)
				}
			case name == "query":
				dec, _ = urlUnescape(out, true)
			case name != "plain":
				dec, _ = urlUnescape(out, false)
			}
			if strings.Contains(dec, secret) {
				t.Fatalf("%s form survives decoding: secret %q, out %q", name, secret, out)
			}
		}
	})
}
