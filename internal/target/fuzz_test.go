package target_test

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sortie-sec/sortie/internal/target"
)

// FuzzParse checks the properties every accepted target has: Parse never
// panics; Value is valid UTF-8, at most MaxLen bytes, never starts with '-'
// and never contains a control or invisible character; Parse is idempotent on Value.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := target.Parse(s)
		if d := target.Detect(s); d != got.Type {
			t.Fatalf("Detect(%q) = %q, Parse type %q", s, d, got.Type)
		}
		if err != nil {
			if got != (target.Target{}) {
				t.Fatalf("Parse(%q) = %+v with error %v", s, got, err)
			}
			if err.Error() == "" {
				t.Fatalf("Parse(%q): empty error message", s)
			}
			if i := strings.IndexFunc(err.Error(), ignorable); i >= 0 {
				t.Fatalf("Parse(%q): error %q shows a raw invisible character", s, err)
			}
			return
		}
		v := got.Value
		switch {
		case got.Raw != s:
			t.Fatalf("Parse(%q).Raw = %q", s, got.Raw)
		case !slices.Contains(target.Types(), got.Type):
			t.Fatalf("Parse(%q).Type = %q, not in Types()", s, got.Type)
		case v == "":
			t.Fatalf("Parse(%q).Value is empty", s)
		case strings.HasPrefix(v, "-"):
			t.Fatalf("Parse(%q).Value = %q starts with '-'", s, v)
		case !utf8.ValidString(v):
			t.Fatalf("Parse(%q).Value = %q is not valid UTF-8", s, v)
		case len(v) > target.MaxLen:
			t.Fatalf("Parse(%q).Value is %d bytes long", s, len(v))
		case strings.ContainsFunc(v, unicode.IsControl):
			t.Fatalf("Parse(%q).Value = %q contains a control character", s, v)
		case strings.ContainsFunc(v, func(r rune) bool { return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co) }):
			t.Fatalf("Parse(%q).Value = %q contains an invisible character", s, v)
		case strings.ContainsFunc(v, ignorable):
			t.Fatalf("Parse(%q).Value = %q contains a default-ignorable character", s, v)
		case startsWithMark(v):
			t.Fatalf("Parse(%q).Value = %q has a combining mark at the start of a label", s, v)
		case strings.TrimSpace(v) != v:
			t.Fatalf("Parse(%q).Value = %q has surrounding white space", s, v)
		}
		if got.Port < 0 || got.Port > 65535 || (got.Port != 0 && got.Type != target.URL && got.Type != target.HostPort) {
			t.Fatalf("Parse(%q).Port = %d for type %q", s, got.Port, got.Type)
		}
		again, err := target.Parse(v)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but Parse(Value) failed: %v", s, got, err)
		}
		again.Raw = got.Raw
		if again != got {
			t.Fatalf("Parse is not idempotent:\nParse(%q)     = %+v\nParse(Value) = %+v", s, got, again)
		}
	})
}

// ignorable reports whether r is a Default_Ignorable_Code_Point (Unicode's
// DerivedCoreProperties, less white space, which Parse refuses too).
func ignorable(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// startsWithMark reports whether v, or a label or path element of it,
// starts with a combining mark.
func startsWithMark(v string) bool {
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '/' || r == ':' || r == '@' }) {
		if r, _ := utf8.DecodeRuneInString(part); unicode.Is(unicode.M, r) {
			return true
		}
	}
	return false
}
