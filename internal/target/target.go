package target

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sortie-sec/sortie/internal/termsafe"
)

// Type is the detected type of a target.
type Type string

// The target types, in detection order (see the package documentation).
const (
	URL      Type = "url"
	Path     Type = "path"
	IP       Type = "ip"
	CIDR     Type = "cidr"
	HostPort Type = "host:port"
	Host     Type = "host" // a domain name
	Email    Type = "email"
	String   Type = "string"
)

var types = []Type{URL, Path, IP, CIDR, HostPort, Host, Email, String}

// Types returns every target type, in detection order. The caller may
// modify the returned slice.
func Types() []Type {
	return append([]Type(nil), types...)
}

// MaxLen is the maximum length of a target, in bytes, after trimming
// surrounding white space. It also bounds Value, which can be longer than
// the input when "http://" is prepended.
const MaxLen = 4096

// Target is a validated target.
type Target struct {
	// Raw is the string given to Parse, unmodified.
	Raw string
	// Value is the normalised target, the form to pass to tools.
	Value string
	// Type is the detected type.
	Type Type
	// Host is the domain name or IP address (IPv6 without brackets) of a
	// url, ip, host:port, host or email target (the domain of an email).
	// It is empty for cidr, path and string targets.
	Host string
	// Port is the port of a host:port target, or the explicit port of a
	// url target; 0 when there is none. Default ports are not filled in.
	Port int
}

// String returns the normalised value.
func (t Target) String() string { return t.Value }

// Detect returns the type Parse gives s, or the empty Type when Parse
// rejects s.
func Detect(s string) Type {
	t, err := Parse(s)
	if err != nil {
		return ""
	}
	return t.Type
}

// Parse validates s, detects its type and normalises it. The rules are in
// the package documentation. The error, if any, is an *Error wrapping one
// of the sentinel errors.
func Parse(s string) (Target, error) {
	in := strings.TrimSpace(s)
	if err := validate(in); err != nil {
		return Target{}, err
	}
	t, err := detect(in)
	if err != nil {
		return Target{}, err
	}
	if len(t.Value) > MaxLen {
		return Target{}, newError(in, ErrTooLong, "is %d bytes long once normalised: the maximum is %d", len(t.Value), MaxLen)
	}
	t.Raw = s
	return t, nil
}

// validate applies the checks every target must pass, whatever its type.
func validate(s string) error {
	if s == "" {
		return &Error{Err: ErrEmpty}
	}
	if len(s) > MaxLen {
		return newError(s, ErrTooLong, "is %d bytes long: the maximum is %d", len(s), MaxLen)
	}
	if !utf8.ValidString(s) {
		return newError(s, ErrInvalidUTF8, "is not valid UTF-8 text")
	}
	prev := rune(-1)
	for _, r := range s {
		if unicode.IsControl(r) {
			return newError(s, ErrControl, "contains the control character %s: a target must be printable text", termsafe.Name(r))
		}
		if isInvisible(r) {
			return newError(s, ErrControl, "contains the invisible character %s: a target must be printable text", termsafe.Name(r))
		}
		if orphanMark(prev, r) {
			if prev < 0 {
				return newError(s, ErrControl, "starts with the combining mark %s, which draws over the character before it: a target must be printable text", termsafe.Name(r))
			}
			return newError(s, ErrControl, "has the combining mark %s after %s, at the start of a label, where it draws over the character before it: a target must be printable text", termsafe.Name(r), strconv.QuoteRune(prev))
		}
		prev = r
	}
	if s[0] == '-' {
		return newError(s, ErrFlagLike, "starts with \"-\": it could be read as a flag")
	}
	return nil
}

// isInvisible reports whether r is a character, other than a control
// character, that does not display as itself and can make a target look
// like something it is not: a format character (Unicode category Cf: bidi
// controls, zero-width space and joiners, word joiner, soft hyphen, byte
// order mark, tag characters ...), a line or paragraph separator, a space
// other than U+0020, a private-use or unassigned character, a variation
// selector, or one of the blank letters (Hangul fillers, the blank Braille
// pattern).
func isInvisible(r rune) bool {
	switch {
	case r < 0x80:
		return false
	case termsafe.Escaped(r), unicode.Is(unicode.Zs, r), unicode.Is(unicode.Co, r):
		// Escaped covers every Default_Ignorable_Code_Point: Cf, the
		// variation selectors, U+034F, the Hangul fillers, the Khmer
		// inherent vowels U+17B4 and U+17B5, U+E0000-U+E0FFF.
		return true
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
		return true // unassigned (or a surrogate, which valid UTF-8 never holds)
	case r == '\u2800':
		return true
	}
	return false
}

// orphanMark reports whether r is a combining mark with no letter or digit
// to sit on: at the start of the target (prev < 0) or after a character
// that is not a letter, digit or mark, such as the "." or "/" that starts
// a host label or a path element. It would draw over the quote or dot
// before it ("\u20dd" encloses it).
func orphanMark(prev, r rune) bool {
	return unicode.Is(unicode.M, r) && (prev < 0 || !unicode.In(prev, unicode.L, unicode.M, unicode.N))
}

// detect applies the detection rules, in order, to a validated target.
func detect(s string) (Target, error) {
	// 1. url with a scheme.
	if scheme, rest, ok := cutScheme(s); ok {
		return parseURL(s, scheme, rest)
	}

	// 2. path.
	if isPath(s) {
		return Target{Value: s, Type: Path}, nil
	}

	// 3. ip.
	if t, ok, err := parseIP(s); err != nil || ok {
		return t, err
	}

	// 4. cidr.
	if t, ok, err := parseCIDR(s); err != nil || ok {
		return t, err
	}

	// 5. url without a scheme.
	if i := strings.IndexAny(s, "/?"); i > 0 {
		h, err := parseHostPort(s, s[:i], false, false)
		if err != nil {
			return Target{}, err
		}
		if h.kind != notHost {
			return newURL(s, "http://"+h.String()+s[i:], h)
		}
	}

	// 6. host:port and 7. host.
	h, err := parseHostPort(s, s, false, true)
	if err != nil {
		return Target{}, err
	}
	switch {
	case h.kind != notHost && h.hasPort:
		return Target{Value: h.String(), Type: HostPort, Host: h.host, Port: h.port}, nil
	case h.kind == domainHost:
		return Target{Value: h.host, Type: Host, Host: h.host}, nil
	}

	// 8. email.
	if t, ok := parseEmail(s); ok {
		return t, nil
	}

	// 9. string.
	return Target{Value: s, Type: String}, nil
}

// isPath reports whether s is a path: it starts with "/", "./", "../" or
// "~/", or is ".", ".." or "~".
func isPath(s string) bool {
	switch s {
	case ".", "..", "~":
		return true
	}
	for _, p := range []string{"/", "./", "../", "~/"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// parseIP parses a lone IP address, bracketed or not. ok is false, with a
// nil error, when s is not an IP address at all.
func parseIP(s string) (t Target, ok bool, err error) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		inner := s[1 : len(s)-1]
		if !strings.Contains(inner, ":") {
			return Target{}, false, nil
		}
		a, err := parseIPv6(s, inner, true)
		if err != nil {
			return Target{}, false, err
		}
		return Target{Value: a, Type: IP, Host: a}, true, nil
	}
	if strings.Contains(s, "/") {
		return Target{}, false, nil // netip takes "fe80::1%eth0/64" for an address with zone "eth0/64".
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if looksLikeIPv4(s) {
			return Target{}, false, invalidIPv4(s, s)
		}
		return Target{}, false, nil
	}
	if err := checkZone(s, a.Zone()); err != nil {
		return Target{}, false, err
	}
	v := a.String()
	return Target{Value: v, Type: IP, Host: v}, true, nil
}

// parseCIDR parses an IP prefix. ok is false, with a nil error, when s is
// not a prefix at all.
func parseCIDR(s string) (t Target, ok bool, err error) {
	addrPart, bitsPart, found := strings.Cut(s, "/")
	if !found || addrPart == "" {
		return Target{}, false, nil
	}
	a, err := netip.ParseAddr(addrPart)
	if err != nil {
		if looksLikeIPv4(addrPart) && allDigits(bitsPart) {
			return Target{}, false, invalidIPv4(s, addrPart)
		}
		return Target{}, false, nil
	}
	if !allDigits(bitsPart) {
		if a.Is6() {
			return Target{}, false, newError(s, ErrInvalidCIDR,
				"is not a valid CIDR prefix: the prefix length must be a number (a URL needs brackets around an IPv6 address, as in \"[::1]/path\")")
		}
		return Target{}, false, nil // an IPv4 address followed by a path: a URL.
	}
	if a.Zone() != "" {
		return Target{}, false, newError(s, ErrInvalidCIDR, "is not a valid CIDR prefix: a prefix cannot have an IPv6 zone")
	}
	bits, maxBits := atoiBounded(bitsPart), a.BitLen()
	if bits < 0 || bits > maxBits {
		version := 4
		if a.Is6() {
			version = 6
		}
		return Target{}, false, newError(s, ErrInvalidCIDR,
			"is not a valid CIDR prefix: the prefix length %s is out of range for IPv%d (0-%d)", bitsPart, version, maxBits)
	}
	p := netip.PrefixFrom(a, bits)
	return Target{Value: p.String(), Type: CIDR}, true, nil
}

// parseEmail parses local@domain. ok is false when s is not an email
// address.
func parseEmail(s string) (Target, bool) {
	local, domain, found := strings.Cut(s, "@")
	if !found || strings.Contains(domain, "@") || !validLocalPart(local) {
		return Target{}, false
	}
	d, ok := normDomain(domain, false)
	if !ok {
		return Target{}, false
	}
	return Target{Value: local + "@" + d, Type: Email, Host: d}, true
}

// validLocalPart reports whether s is a dot-atom local part (RFC 5322,
// with the non-ASCII letters, digits and marks of RFC 6531) of at most 64
// bytes.
func validLocalPart(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		switch {
		case r == '.':
		case r < utf8.RuneSelf:
			if !isAtext(byte(r)) {
				return false
			}
		case !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r):
			return false
		}
	}
	return true
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
