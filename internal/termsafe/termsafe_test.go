package termsafe_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sortie-sec/sortie/internal/termsafe"
)

func TestClean(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain text, with \\ and \"quotes\"", "plain text, with \\ and \"quotes\""},
		{"héllo wörld 日本語 🙂", "héllo wörld 日本語 🙂"},
		{"", ""},
		{"\x1b[2Jcleared", `\x1b[2Jcleared`},
		{"\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\", `\x1b]8;;http://evil/\x1b\link\x1b]8;;\x1b\`},
		{"\x1b]52;c;ZXZpbA==\x07", `\x1b]52;c;ZXZpbA==\x07`},
		{"a\u202egnp.exe", `a\u202egnp.exe`},
		{"tab\there\nnew\rline", `tab\there\nnew\rline`},
		{"del\x7f c1\u009b[31m nel\u0085", `del\x7f c1\u009b[31m nel\u0085`},
		{"zw\u200bsp\u2060wj\u00adshy\ufeffbom", `zw\u200bsp\u2060wj\u00adshy\ufeffbom`},
		{"ls\u2028ps\u2029", `ls\u2028ps\u2029`},
		{"tag\U000E0041", `tag\U000e0041`},
		{"bad\xffutf8", `bad\xffutf8`},
	} {
		if got := termsafe.Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCleanLines(t *testing.T) {
	t.Parallel()
	got := termsafe.CleanLines("first\nsecond \x1b[2J\r\n")
	if want := "first\nsecond \\x1b[2J\\r\n"; got != want {
		t.Errorf("CleanLines = %q, want %q", got, want)
	}
}

func TestWriter(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	w := termsafe.NewWriter(&b)
	n, err := fmt.Fprintf(w, "%s\t%s\n", "worker\x1b]52;c;eA==\x07", "a\u202eb")
	if err != nil || n != len("worker\x1b]52;c;eA==\x07\ta\u202eb\n") {
		t.Errorf("Write = %d, %v", n, err)
	}
	if want := "worker\\x1b]52;c;eA==\\x07\ta\\u202eb\n"; b.String() != want {
		t.Errorf("Writer wrote %q, want %q", b.String(), want)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	v := map[string]string{"title": "a\u202eb\u2028c\u009bd\x7fe\x1bf\u200b\U000E0041 ok é"}
	line, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	line = append(line, '\n')
	out := termsafe.JSON(line)
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("JSON(%s) = %s is not JSON: %v", line, out, err)
	}
	if back["title"] != v["title"] {
		t.Errorf("JSON changed the value: %q, want %q", back["title"], v["title"])
	}
	if i := strings.IndexFunc(strings.TrimSuffix(string(out), "\n"), termsafe.Escaped); i >= 0 {
		t.Errorf("JSON output %q still holds a raw control or format character at %d", out, i)
	}
	if !strings.HasSuffix(string(out), "}\n") {
		t.Errorf("JSON output %q lost its newline", out)
	}
	plain := []byte(`{"a":"b"}` + "\n")
	if got := termsafe.JSON(plain); &got[0] != &plain[0] {
		t.Error("JSON copied a line with nothing to escape")
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	if got := termsafe.Name('\u200b'); got != "U+200B ZERO WIDTH SPACE" {
		t.Errorf("Name(U+200B) = %q", got)
	}
	if got := termsafe.Name(0xE0001); got != "U+E0001" {
		t.Errorf("Name(U+E0001) = %q", got)
	}
}

// FuzzClean checks that Clean's output never holds a control or format
// character nor invalid UTF-8, and that it leaves printable text alone; and
// that JSON keeps a JSON string's value while escaping all of them.
func FuzzClean(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "seeds", "*.txt"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := termsafe.Clean(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Clean(%q) = %q: invalid UTF-8", s, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
				t.Fatalf("Clean(%q) = %q holds %U", s, out, r)
			}
		}
		printable := utf8.ValidString(s) && !strings.ContainsFunc(s, termsafe.Escaped)
		if printable && out != s {
			t.Fatalf("Clean changed printable text %q to %q", s, out)
		}
		if !printable && out == s {
			t.Fatalf("Clean left %q unchanged", s)
		}
		lines := termsafe.CleanLines(s)
		if strings.ReplaceAll(lines, "\n", `\n`) != out {
			t.Fatalf("CleanLines(%q) = %q, Clean = %q: they differ by more than line feeds", s, lines, out)
		}
		if termsafe.Clean(out) != out {
			t.Fatalf("Clean is not idempotent on %q", s)
		}
		// JSON keeps the value and leaves no raw control or format
		// character.
		line, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		safe := termsafe.JSON(line)
		var back string
		if err := json.Unmarshal(safe, &back); err != nil {
			t.Fatalf("JSON(%s) = %s: not JSON: %v", line, safe, err)
		}
		var want string
		_ = json.Unmarshal(line, &want)
		if back != want {
			t.Fatalf("JSON changed %q to %q", want, back)
		}
		if i := strings.IndexFunc(string(safe), termsafe.Escaped); i >= 0 {
			t.Fatalf("JSON(%s) = %s holds a raw control or format character", line, safe)
		}
	})
}
