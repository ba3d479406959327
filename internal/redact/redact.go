// Package redact hides secrets (the values of a tool's sensitive options:
// headers, proxies, cookies, tokens) in text before it is stored or shown.
//
// A tool echoes a secret in many forms: as given, JSON-escaped (quotes,
// slashes, \u escapes, once or twice), percent-encoded, as the value part of
// a "Name: value" header, as the user:password of a proxy URL, or as the
// base64 of user:password in a Basic authorization. A Redactor is built from
// the secret values once, derives those forms, and replaces every occurrence
// with Mask. Searching decoded text finds any mix of escapes, not only the
// escapes one encoder makes.
//
// Short values would redact half of every line: a value is searched only
// when it has at least MinLen bytes, a form derived from it (a header's
// value part, a password) only when it has at least MinDerivedLen bytes.
// Callers that know where a value stands (an argument of the command) hide
// it whole whatever its length.
//
// It imports only the standard library.
package redact

import (
	"bufio"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// MinLen is the shortest value searched for in free text: shorter values
// ("1", "on") would mask unrelated text everywhere and protect nothing.
const MinLen = 4

// MinDerivedLen is the shortest derived form searched for: the value part
// of a header, a token after its scheme, a password, a cookie's value.
const MinDerivedLen = 6

// Redactor replaces secrets in text. The zero value and nil redact nothing.
// A Redactor is safe for concurrent use.
type Redactor struct {
	// needles are the secrets and the forms derived from them, longest
	// first, so that a secret that is a prefix of another cannot leave the
	// rest of the longer one visible.
	needles []string
	// values are the values as given, for Exact.
	values []string
}

// New returns a redactor for the given secret values.
func New(values ...string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	add := func(s string, min int) {
		if len(s) >= min && !seen[s] && !strings.Contains(Mask, s) {
			seen[s] = true
			r.needles = append(r.needles, s)
		}
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		r.values = append(r.values, v)
		add(v, MinLen)
		// A shell-quoted echo (curl_command) doubles single quotes.
		if strings.Contains(v, "'") {
			add(strings.ReplaceAll(v, "'", `'\''`), MinLen)
		}
		for _, d := range derive(v) {
			add(d, MinDerivedLen)
		}
	}
	slices.SortFunc(r.needles, func(a, b string) int { return len(b) - len(a) })
	return r
}

// Merge returns a redactor hiding the secrets of both.
func Merge(a, b *Redactor) *Redactor {
	var vs []string
	if a != nil {
		vs = append(vs, a.values...)
	}
	if b != nil {
		vs = append(vs, b.values...)
	}
	return New(vs...)
}

// Empty reports whether the redactor hides nothing.
func (r *Redactor) Empty() bool { return r == nil || len(r.needles) == 0 && len(r.values) == 0 }

// Exact reports whether s is one of the values as given, whatever its
// length: an argument or option value that is a secret is hidden whole.
func (r *Redactor) Exact(s string) bool { return r != nil && slices.Contains(r.values, s) }

// derive lists the forms a tool may show of a secret value v.
func derive(v string) []string {
	var out []string
	// "Name: value" header: tools echo the value alone (a JSON map of
	// headers), and the token after an authorization scheme.
	if name, val, ok := strings.Cut(v, ":"); ok && isHeaderName(name) {
		val = strings.TrimSpace(val)
		out = append(out, val)
		if scheme, tok, ok := strings.Cut(val, " "); ok && isHeaderName(scheme) {
			tok = strings.TrimSpace(tok)
			out = append(out, tok)
			if strings.EqualFold(scheme, "basic") {
				if dec, err := base64.StdEncoding.DecodeString(tok); err == nil && utf8.Valid(dec) {
					out = append(out, userPass(string(dec))...)
				}
			}
		}
		// Cookie: a=b; c=d
		if strings.EqualFold(name, "cookie") {
			out = append(out, cookieValues(val)...)
		}
	}
	if strings.Contains(v, "=") && !strings.Contains(v, "://") {
		out = append(out, cookieValues(v)...)
	}
	// A URL with credentials: user:password, the password, and the base64
	// a tool sends in Proxy-Authorization.
	if u, err := url.Parse(v); err == nil && u.User != nil {
		out = append(out, u.User.String())
		user := u.User.Username()
		if pw, ok := u.User.Password(); ok {
			out = append(out, userPass(user+":"+pw)...)
		} else {
			out = append(out, user)
		}
	}
	return out
}

// userPass lists user:password, the password, and its base64.
func userPass(up string) []string {
	out := []string{up, base64.StdEncoding.EncodeToString([]byte(up))}
	if _, pw, ok := strings.Cut(up, ":"); ok {
		out = append(out, pw)
	}
	return out
}

// cookieValues lists the values of "a=b; c=d".
func cookieValues(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";") {
		if _, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// String returns s with every secret replaced by Mask.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.needles) == 0 || s == "" {
		return s
	}
	// Escaped forms first, so that the longest form is masked whole
	// ("Bearer%20TOKEN", not "Bearer%20" and a masked token): the text is
	// decoded with a map back to the original offsets, the secrets are
	// searched in the decoded text, and the original spans they came from
	// are masked. JSON inside a JSON string is escaped twice: two levels
	// are decoded.
	if strings.IndexByte(s, '\\') >= 0 {
		s = r.maskDecoded(s, jsonUnescape, 2)
	}
	if strings.IndexByte(s, '%') >= 0 {
		s = r.maskDecoded(s, func(s string) (string, []int) { return urlUnescape(s, false) }, 1)
	}
	if strings.IndexByte(s, '+') >= 0 {
		s = r.maskDecoded(s, func(s string) (string, []int) { return urlUnescape(s, true) }, 1)
	}
	for _, n := range r.needles {
		if strings.Contains(s, n) {
			s = strings.ReplaceAll(s, n, Mask)
		}
	}
	return s
}

// Bytes is String for a byte slice; it returns b itself when nothing
// changed.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(r.needles) == 0 {
		return b
	}
	s := r.String(string(b))
	if len(s) == len(b) && s == string(b) {
		return b
	}
	return []byte(s)
}

// Contains reports whether s holds a secret in a form String masks.
func (r *Redactor) Contains(s string) bool { return r.String(s) != s }

// decoder decodes s and returns, for each byte of the result, the offset in
// s where the text it came from starts; the slice has one more entry, len(s).
type decoder func(s string) (string, []int)

// maskDecoded masks the spans of s whose decoding (up to levels times)
// holds a secret.
func (r *Redactor) maskDecoded(s string, dec decoder, levels int) string {
	d, pos := dec(s)
	var spans [][2]int
	for level := 1; ; level++ {
		if d == s && level == 1 {
			return s // nothing was escaped
		}
		for _, n := range r.needles {
			for i := 0; ; {
				j := strings.Index(d[i:], n)
				if j < 0 {
					break
				}
				a, b := i+j, i+j+len(n)
				// Widen the end over the rest of a character an escape
				// produced (all its bytes map to the escape's start).
				for b < len(d) && pos[b] == pos[b-1] {
					b++
				}
				spans = append(spans, [2]int{pos[a], pos[b]})
				i = a + 1
			}
		}
		if level >= levels || strings.IndexByte(d, '\\') < 0 {
			break
		}
		d2, pos2 := dec(d)
		if d2 == d {
			break
		}
		// Compose the maps: a byte of d2 comes from pos2[i] in d, which
		// comes from pos[pos2[i]] in s.
		composed := make([]int, len(pos2))
		for i, p := range pos2 {
			composed[i] = pos[p]
		}
		d, pos = d2, composed
	}
	return maskSpans(s, spans)
}

// maskSpans replaces the (possibly overlapping) spans of s with Mask.
func maskSpans(s string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var sb strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		a, b := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] < b; i++ {
			b = max(b, spans[i][1])
		}
		if a < last {
			a = last
		}
		sb.WriteString(s[last:a])
		sb.WriteString(Mask)
		last = b
	}
	sb.WriteString(s[last:])
	return sb.String()
}

// jsonUnescape decodes the escapes of JSON strings (\" \\ \/ \b \f \n \r
// \t \uXXXX, surrogate pairs) wherever they are; other bytes are kept.
func jsonUnescape(s string) (string, []int) {
	out := make([]byte, 0, len(s))
	pos := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			out, pos = append(out, c), append(pos, i)
			i++
			continue
		}
		start := i
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			out, pos = append(out, e), append(pos, start)
			i += 2
		case 'b', 'f', 'n', 'r', 't':
			out, pos = append(out, simpleEscapes[e]), append(pos, start)
			i += 2
		case 'u':
			ru, ok := hex4(s, i+2)
			if !ok {
				out, pos = append(out, c), append(pos, i)
				i++
				continue
			}
			i += 6
			if utf16IsHigh(ru) {
				if lo, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' && utf16IsLow(lo) {
					ru = 0x10000 + (ru-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			var buf [utf8.UTFMax]byte
			n := utf8.EncodeRune(buf[:], ru)
			for k := 0; k < n; k++ {
				out, pos = append(out, buf[k]), append(pos, start)
			}
		default:
			out, pos = append(out, c), append(pos, i)
			i++
		}
	}
	return string(out), append(pos, len(s))
}

var simpleEscapes = [256]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }

// hex4 reads four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		v, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// urlUnescape decodes %XX, and "+" as a space when plus.
func urlUnescape(s string, plus bool) (string, []int) {
	out := make([]byte, 0, len(s))
	pos := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				out, pos = append(out, hi<<4|lo), append(pos, i)
				i += 3
				continue
			}
		}
		if c == '+' && plus {
			c = ' '
		}
		out, pos = append(out, c), append(pos, i)
		i++
	}
	return string(out), append(pos, len(s))
}

// MaxLine bounds the text Copy redacts at once: a longer line is redacted
// in pieces of this size, and a secret split across two pieces is missed.
const MaxLine = 1 << 20

// Copy copies src to dst line by line, redacting each line, and reports
// whether anything was masked. Memory stays bounded by MaxLine.
func (r *Redactor) Copy(dst io.Writer, src io.Reader) (changed bool, err error) {
	br := bufio.NewReaderSize(src, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) && len(line) < MaxLine {
			continue
		}
		if len(line) > 0 {
			red := r.Bytes(line)
			if len(red) != len(line) || string(red) != string(line) {
				changed = true
			}
			if _, werr := dst.Write(red); werr != nil {
				return changed, werr
			}
			line = line[:0]
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return changed, nil
		default:
			return changed, err
		}
	}
}
