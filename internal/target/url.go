package target

import (
	"strings"
	"unicode"
)

// cutScheme splits s = scheme "://" rest, where scheme is an RFC 3986
// scheme: a letter followed by letters, digits, '+', '-' and '.'.
func cutScheme(s string) (scheme, rest string, ok bool) {
	scheme, rest, found := strings.Cut(s, "://")
	if !found || scheme == "" || !isAlpha(scheme[0]) {
		return "", "", false
	}
	for i := 1; i < len(scheme); i++ {
		if c := scheme[i]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return "", "", false
		}
	}
	return scheme, rest, true
}

// parseURL parses input = scheme "://" rest. The scheme and host are
// normalised; the user information, path, query and fragment are kept as
// typed.
func parseURL(input, scheme, rest string) (Target, error) {
	if strings.ContainsFunc(rest, unicode.IsSpace) {
		return Target{}, errURLSpace(input)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo := ""
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, authority = authority[:i+1], authority[i+1:]
		if !validUserinfo(userinfo[:i]) {
			return Target{}, newError(input, ErrInvalidURL,
				"has invalid user information before \"@\": only letters, digits, %%-escapes and -._~!$&'()*+,;=: are allowed")
		}
	}
	if authority == "" {
		return Target{}, newError(input, ErrInvalidURL, "has no host: a URL needs one, as in \"https://example.com/\"")
	}
	h, err := parseHostPort(input, authority, true, false)
	if err != nil {
		return Target{}, err
	}
	if h.kind == notHost {
		hint := ""
		if strings.Count(authority, ":") > 1 {
			hint = ": an IPv6 address goes in brackets, as in \"http://[::1]/\""
		}
		return Target{}, newError(input, ErrInvalidURL, "has the invalid host %s%s", quote(authority), hint)
	}
	return newURL(input, strings.ToLower(scheme)+"://"+userinfo+h.String()+tail, h)
}

// newURL returns a url target with the normalised value and host h.
func newURL(input, value string, h hostPort) (Target, error) {
	if strings.ContainsFunc(value, unicode.IsSpace) {
		return Target{}, errURLSpace(input)
	}
	return Target{Value: value, Type: URL, Host: h.host, Port: h.port}, nil
}

func errURLSpace(input string) error {
	return newError(input, ErrInvalidURL, "is a URL with white space in it: encode spaces as %%20")
}

// validUserinfo reports whether s is RFC 3986 userinfo: unreserved
// characters, percent-escapes, sub-delimiters and ':'.
func validUserinfo(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c), strings.IndexByte("-._~!$&'()*+,;=:", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
