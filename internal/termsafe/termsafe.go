// Package termsafe makes untrusted text safe to print on a terminal: a page
// title, a tool's output line, a worker's id or a reason from a server can
// hold escape sequences (clear the screen, rewrite the clipboard with OSC 52,
// hide a link with OSC 8) or bidirectional overrides that make text display
// as something it is not. Clean replaces every such character with a visible
// escape (\x1b, \u202e); printable text is left unchanged.
//
// It imports only the standard library, so that any package can use it.
package termsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escaped reports whether Clean replaces r: a C0 or C1 control character
// (ESC, "\n", "\t" ...), DEL, a format character (Unicode category Cf: bidi
// controls, zero-width characters, the soft hyphen, the byte order mark),
// a line or paragraph separator (U+2028, U+2029), or another character
// that displays as nothing (variation selectors, the Hangul fillers, the
// Khmer inherent vowels: Unicode's Default_Ignorable_Code_Point).
func Escaped(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f:
		return true
	case r < 0x80:
		return false
	case r >= 0x80 && r <= 0x9f: // C1, CSI (U+009B) included
		return true
	case r == utf8.RuneError:
		return false // the character itself; invalid bytes are caught by Clean
	}
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// Clean returns s with every character Escaped reports, and every byte that
// is not valid UTF-8, replaced by a Go-style escape: "\x1b", "\n", "\u202e",
// "\xff". Printable text, backslashes included, is returned unchanged.
func Clean(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	appendClean(&b, s[i:], false, false)
	return b.String()
}

// CleanLines is Clean, except that it keeps line feeds: for messages made of
// several lines (an error and its hint, a tool's output tail). Every other
// control character, "\r" included, is escaped.
func CleanLines(s string) string {
	if firstUnsafe(s) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	appendClean(&b, s, true, false)
	return b.String()
}

// Writer is an io.Writer that cleans what it writes like CleanLines, except
// that it keeps tabs too: for tables (text/tabwriter) and lists whose
// cells hold untrusted text. Each Write should hold whole characters, as a
// fmt.Fprintf does; a character split across two writes is escaped byte by
// byte, which is safe but shows as escapes.
type Writer struct{ w io.Writer }

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes p, cleaned, to the underlying writer. It reports len(p)
// when all of it was written.
func (w *Writer) Write(p []byte) (int, error) {
	s := string(p)
	if firstUnsafe(s) >= 0 {
		var b strings.Builder
		b.Grow(len(s) + 16)
		appendClean(&b, s, true, true)
		s = b.String()
	}
	if _, err := io.WriteString(w.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// firstUnsafe is the byte offset of the first character Clean changes, or
// -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || Escaped(r) {
			return i
		}
		i += n
	}
	return -1
}

func appendClean(b *strings.Builder, s string, keepNewlines, keepTabs bool) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(b, `\x%02x`, s[i])
		case r == '\n' && keepNewlines, r == '\t' && keepTabs:
			b.WriteByte(byte(r))
		case Escaped(r):
			b.WriteString(escape(r))
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
}

// escape is the visible form of a character Clean replaces.
func escape(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	if r < 0x80 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	if r > 0xffff {
		return fmt.Sprintf(`\U%08x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// JSON returns a JSON text with every character Escaped reports that
// encoding/json leaves raw (DEL, C1 controls, bidi and other format
// characters) written as a \u escape: the same JSON value, safe to print on
// a terminal. Outside strings JSON is ASCII, so only string contents change.
// line is returned as is when there is nothing to escape.
func JSON(line []byte) []byte {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == 0x7f {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(line[i:])
		if Escaped(r) {
			break
		}
		i += n
	}
	if i == len(line) {
		return line
	}
	out := make([]byte, 0, len(line)+16)
	out = append(out, line[:i]...)
	for i < len(line) {
		r, n := utf8.DecodeRune(line[i:])
		if r >= 0x7f && Escaped(r) {
			if r > 0xffff {
				r1, r2 := surrogates(r)
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		} else {
			out = append(out, line[i:i+n]...)
		}
		i += n
	}
	return out
}

// surrogates splits r (above U+FFFF) into a UTF-16 surrogate pair.
func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// names are the characters an error message names in full; others are
// named by code point only.
var names = map[rune]string{
	0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x09: "CHARACTER TABULATION", 0x0a: "LINE FEED",
	0x0d: "CARRIAGE RETURN", 0x1b: "ESCAPE", 0x7f: "DELETE", 0x85: "NEXT LINE", 0x9b: "CONTROL SEQUENCE INTRODUCER",
	0x9d: "OPERATING SYSTEM COMMAND", 0xa0: "NO-BREAK SPACE", 0xad: "SOFT HYPHEN",
	0x34f: "COMBINING GRAPHEME JOINER", 0x61c: "ARABIC LETTER MARK",
	0x115f: "HANGUL CHOSEONG FILLER", 0x1160: "HANGUL JUNGSEONG FILLER", 0x180e: "MONGOLIAN VOWEL SEPARATOR",
	0x200b: "ZERO WIDTH SPACE", 0x200c: "ZERO WIDTH NON-JOINER", 0x200d: "ZERO WIDTH JOINER",
	0x200e: "LEFT-TO-RIGHT MARK", 0x200f: "RIGHT-TO-LEFT MARK",
	0x2028: "LINE SEPARATOR", 0x2029: "PARAGRAPH SEPARATOR",
	0x202a: "LEFT-TO-RIGHT EMBEDDING", 0x202b: "RIGHT-TO-LEFT EMBEDDING", 0x202c: "POP DIRECTIONAL FORMATTING",
	0x202d: "LEFT-TO-RIGHT OVERRIDE", 0x202e: "RIGHT-TO-LEFT OVERRIDE",
	0x2060: "WORD JOINER", 0x2061: "FUNCTION APPLICATION", 0x2062: "INVISIBLE TIMES",
	0x2063: "INVISIBLE SEPARATOR", 0x2064: "INVISIBLE PLUS",
	0x2066: "LEFT-TO-RIGHT ISOLATE", 0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE",
	0x2069: "POP DIRECTIONAL ISOLATE", 0x2800: "BRAILLE PATTERN BLANK", 0x3164: "HANGUL FILLER",
	0xfeff: "ZERO WIDTH NO-BREAK SPACE (byte order mark)", 0xffa0: "HALFWIDTH HANGUL FILLER",
}

// Name names r for an error message: "U+200B ZERO WIDTH SPACE", or
// "U+E0001" when the package has no name for it.
func Name(r rune) string {
	if n, ok := names[r]; ok {
		return fmt.Sprintf("%U %s", r, n)
	}
	return fmt.Sprintf("%U", r)
}
