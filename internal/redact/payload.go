package redact

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Payload returns the start of a work message (at most max bytes) fit to be
// stored in a dead letter. The values of every option sensitive reports are
// replaced by Mask, and those values are masked wherever else they appear.
// A message that is not JSON (or is cut short) cannot be read that way: in
// it, the value of any "name": key sensitive reports, anything that looks
// like a "Name: value" header, a credential (authorization, cookie, token,
// password, api key, secret) and the user:password of a URL are masked.
func Payload(data []byte, sensitive func(option string) bool, max int) string {
	var msg map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out string
	if err := dec.Decode(&msg); err == nil && !dec.More() {
		out = jsonPayload(msg, sensitive, max)
	} else {
		// Only the start is kept: only the start is searched, so that
		// a message of megabytes costs no more than a short one.
		out = Credentials(truncate(string(data), scanWindow(max)), sensitive)
	}
	return truncate(out, max)
}

// scanWindow is how much of a message Payload searches to keep max bytes.
func scanWindow(max int) int {
	if max <= 0 {
		return 1 << 30
	}
	return 16 * max
}

// jsonPayload masks the sensitive options of a decoded message.
func jsonPayload(msg map[string]any, sensitive func(string) bool, max int) string {
	var secrets []string
	if opts, ok := msg["options"].(map[string]any); ok {
		for name, v := range opts {
			if !sensitive(name) {
				continue
			}
			secrets = append(secrets, stringsOf(v)...)
			opts[name] = []any{Mask}
		}
	}
	r := New(secrets...)
	b, err := json.Marshal(r.JSON(msg))
	if err != nil {
		return ""
	}
	// What the message holds besides its options (a target with a token in
	// its URL) is masked like an undecodable message.
	return Credentials(truncate(string(b), scanWindow(max)), sensitive)
}

// stringsOf lists the strings in a JSON value.
func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, stringsOf(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, e := range v {
			out = append(out, k)
			out = append(out, stringsOf(e)...)
		}
		return out
	}
	return nil
}

// JSON masks secrets in every string and key of a decoded JSON value (what
// json.Unmarshal gives into an any); slices are changed in place.
func (r *Redactor) JSON(v any) any {
	switch v := v.(type) {
	case string:
		return r.String(v)
	case []any:
		for i, e := range v {
			v[i] = r.JSON(e)
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[r.String(k)] = r.JSON(e)
		}
		return out
	}
	return v
}

var (
	// jsonKeyValue is a key and its value, a string or an array of
	// strings, possibly cut short at the end of the text.
	jsonKeyValue = regexp.MustCompile(`"([A-Za-z0-9_.-]+)"(\s*:\s*)(\[(?:\s*"(?:[^"\\]|\\.)*"?\s*,?)*\]?|"(?:[^"\\]|\\.)*"?)`)
	// jsonString is a JSON string literal, possibly cut short.
	jsonString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"?`)
	// headerInString is "Name: value" at the start of a JSON string (the
	// space keeps "http://..." and "host:port" out).
	headerInString = regexp.MustCompile(`"([A-Za-z][A-Za-z0-9_-]*):[ \t]+(?:[^"\\]|\\.)+`)
	// schemeToken is an authorization scheme and its token.
	schemeToken = regexp.MustCompile(`(?i)\b(bearer|basic|token|digest|negotiate)(\s+)[A-Za-z0-9._~+/=-]{6,}`)
	// credential is a credential-like name followed by = or : and a value.
	credential = regexp.MustCompile(`(?i)((?:proxy-)?authorization|cookie|token|secret|passw(?:or)?d|pwd|api[_-]?key|session)((?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)(?:[^\s"'\\,;&]|\\.)+`)
	// userinfo is the user:password of a URL.
	userinfo = regexp.MustCompile(`(://)[^/?#@\s"'\\]+@`)
)

// credentialWords are parts of option names that hold credentials.
var credentialWords = []string{"header", "cookie", "proxy", "token", "secret", "pass", "auth", "key", "credential", "session"}

// SensitiveName reports option names that look like they hold credentials
// (header, cookie, proxy, api_key, password, ...): what a message from an
// unknown tool is masked by.
func SensitiveName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// Credentials masks what looks like a secret in text whose structure is
// unknown: the values of JSON keys sensitive reports, "Name: value"
// headers inside JSON strings, credential-like name=value pairs, and the
// user:password of URLs.
func Credentials(s string, sensitive func(string) bool) string {
	// The values of sensitive keys are masked wherever else they appear.
	var secrets []string
	for _, sub := range jsonKeyValue.FindAllStringSubmatch(s, -1) {
		if sensitive != nil && sensitive(sub[1]) {
			for _, lit := range jsonString.FindAllString(sub[3], -1) {
				lit = strings.TrimSuffix(strings.TrimPrefix(lit, `"`), `"`)
				dec, _ := jsonUnescape(lit)
				secrets = append(secrets, dec)
			}
		}
	}
	s = New(secrets...).String(s)
	s = jsonKeyValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := jsonKeyValue.FindStringSubmatch(m)
		if sensitive == nil || !sensitive(sub[1]) || strings.HasPrefix(sub[3], `"`+Mask) || strings.HasPrefix(sub[3], `["`+Mask+`"]`) {
			return m
		}
		return `"` + sub[1] + `"` + sub[2] + `["` + Mask + `"]`
	})
	s = headerInString.ReplaceAllString(s, `"$1: `+Mask)
	s = credential.ReplaceAllStringFunc(s, func(m string) string {
		sub := credential.FindStringSubmatch(m)
		if strings.HasPrefix(m[len(sub[1])+len(sub[2]):], Mask) {
			return m
		}
		return sub[1] + sub[2] + Mask
	})
	s = schemeToken.ReplaceAllString(s, "${1}${2}"+Mask)
	return userinfo.ReplaceAllString(s, "${1}"+Mask+"@")
}

// truncate cuts s to at most max bytes, at a character boundary.
func truncate(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
