package tool

import (
	"strings"
	"testing"
)

// TestCheckValueInvisible: option values holding control or invisible
// format characters are refused, naming the character ("\u200b-v" displays
// as "-v"). Issue 7.
func TestCheckValueInvisible(t *testing.T) {
	t.Parallel()
	o := Option{Name: "header", Kind: KindString}
	for _, tc := range []struct{ in, name string }{
		{"\u200b-v", "U+200B ZERO WIDTH SPACE"},
		{"\u2060-oX", "U+2060 WORD JOINER"},
		{"\u00ad-v", "U+00AD SOFT HYPHEN"},
		{"a\u202eb", "U+202E RIGHT-TO-LEFT OVERRIDE"},
		{"a\ufeffb", "U+FEFF"},
		{"a\u0085b", "U+0085 NEXT LINE"},
		{"a\x1b[2Jb", "U+001B ESCAPE"},
		{"a\u2028b", "U+2028 LINE SEPARATOR"},
	} {
		err := o.CheckValue(tc.in)
		if err == nil {
			t.Errorf("CheckValue(%q) accepted it", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.name) {
			t.Errorf("CheckValue(%q) = %q, want the character named (%s)", tc.in, err, tc.name)
		}
	}
	for _, ok := range []string{"X-Test: é 日本 🙂", "a\\u200bb"} {
		if err := o.CheckValue(ok); err != nil {
			t.Errorf("CheckValue(%q) = %v, want it accepted", ok, err)
		}
	}
}

// Characters that display as nothing but are not format characters (the
// Khmer inherent vowels, a Mongolian variation selector, a Hangul filler)
// are refused in option values too.
func TestCheckValueDefaultIgnorable(t *testing.T) {
	t.Parallel()
	o := Option{Name: "label", Kind: KindString}
	for _, v := range []string{"\u17b5-v", "a\u180bb", "\u3164x"} {
		if err := o.CheckValue(v); err == nil {
			t.Errorf("CheckValue(%q) accepted a character that displays as nothing", v)
		}
	}
}
