package target

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// hostKind is the kind of the host part of a url, host:port or host target.
type hostKind int

const (
	notHost hostKind = iota
	domainHost
	ipv4Host
	ipv6Host
)

// hostPort is a parsed host with an optional port.
type hostPort struct {
	host    string // normalised; an IPv6 address without brackets
	kind    hostKind
	port    int
	hasPort bool
}

// String returns the normalised host[:port], with an IPv6 address in
// brackets.
func (h hostPort) String() string {
	s := h.host
	if h.kind == ipv6Host {
		s = "[" + s + "]"
	}
	if h.hasPort {
		s += ":" + strconv.Itoa(h.port)
	}
	return s
}

// parseHostPort parses hp, a part of the target input, as host[:port],
// where host is a domain name, an IPv4 address or a bracketed IPv6
// address. The result has kind notHost, and the error is nil, when hp does
// not have that form; the error is set when hp clearly has it but is
// malformed (an invalid address or port). singleLabel accepts domain names
// without a dot; zoneOK accepts IPv6 zones.
func parseHostPort(input, hp string, singleLabel, zoneOK bool) (hostPort, error) {
	if hp == "" || strings.Contains(hp, "@") {
		return hostPort{}, nil
	}
	var h hostPort
	var portPart string
	if hp[0] == '[' {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			if _, err := netip.ParseAddr(hp[1:]); err == nil {
				return hostPort{}, newError(input, ErrInvalidIP, "is missing the \"]\" that closes the IPv6 address")
			}
			return hostPort{}, nil
		}
		inner, rest := hp[1:end], hp[end+1:]
		if !strings.Contains(inner, ":") || (rest != "" && rest[0] != ':') {
			return hostPort{}, nil
		}
		a, err := parseIPv6(input, inner, zoneOK)
		if err != nil {
			return hostPort{}, err
		}
		h = hostPort{host: a, kind: ipv6Host}
		if rest != "" {
			h.hasPort, portPart = true, rest[1:]
		}
	} else {
		hostPart := hp
		if i := strings.LastIndexByte(hp, ':'); i >= 0 {
			hostPart, portPart, h.hasPort = hp[:i], hp[i+1:], true
		}
		if hostPart == "" || strings.Contains(hostPart, ":") {
			return hostPort{}, nil // an unbracketed IPv6 address or worse
		}
		if a, err := netip.ParseAddr(hostPart); err == nil {
			// No colon, so IPv4.
			h.host, h.kind = a.String(), ipv4Host
		} else if looksLikeIPv4(hostPart) {
			return hostPort{}, invalidIPv4(input, hostPart)
		} else if d, ok := normDomain(hostPart, singleLabel); ok {
			h.host, h.kind = d, domainHost
		} else {
			return hostPort{}, nil
		}
	}
	if h.hasPort {
		p, err := parsePort(input, portPart)
		if err != nil {
			return hostPort{}, err
		}
		h.port = p
	}
	return h, nil
}

// parseIPv6 parses the IPv6 address found between brackets in input and
// returns its canonical form.
func parseIPv6(input, s string, zoneOK bool) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return "", newError(input, ErrInvalidIP, "has %s in brackets, which is not a valid IPv6 address", quote(s))
	}
	if a.Zone() != "" && !zoneOK {
		return "", newError(input, ErrInvalidURL, "has an IPv6 zone (%s): zones are not supported in URLs", quote("%"+a.Zone()))
	}
	if err := checkZone(input, a.Zone()); err != nil {
		return "", err
	}
	return a.String(), nil
}

// checkZone reports an error if zone, an IPv6 zone, has characters other
// than letters, digits, '.', '-' and '_'.
func checkZone(input, zone string) error {
	for i := 0; i < len(zone); i++ {
		if c := zone[i]; !isAlnum(c) && c != '.' && c != '-' && c != '_' {
			return newError(input, ErrInvalidIP, "has the invalid IPv6 zone %s: a zone may contain only letters, digits, \".\", \"-\" and \"_\"", quote(zone))
		}
	}
	return nil
}

// looksLikeIPv4 reports whether s is meant as an IPv4 address: digits and
// dots only, starting with a digit, with at least three dots.
func looksLikeIPv4(s string) bool {
	if s == "" || !isDigit(s[0]) {
		return false
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case !isDigit(c):
			return false
		}
	}
	return dots >= 3
}

func invalidIPv4(input, addr string) error {
	const why = "an IPv4 address is four numbers from 0 to 255 without leading zeros, as in \"192.0.2.1\""
	if input == addr {
		return newError(input, ErrInvalidIP, "is not a valid IPv4 address: "+why)
	}
	return newError(input, ErrInvalidIP, "has %s, which is not a valid IPv4 address: "+why, quote(addr))
}

// parsePort parses a decimal port from 1 to 65535; leading zeros are
// accepted.
func parsePort(input, s string) (int, error) {
	const why = "a port is a number from 1 to 65535"
	if s == "" {
		return 0, newError(input, ErrInvalidPort, "has an empty port after \":\": "+why)
	}
	n := -1
	if allDigits(s) {
		n = atoiBounded(s)
	}
	if n < 1 || n > 65535 {
		return 0, newError(input, ErrInvalidPort, "has the invalid port %s: "+why, quote(s))
	}
	return n, nil
}

// normDomain validates and normalises the domain name s: lower-cased,
// without its trailing dot. singleLabel accepts names without a dot;
// otherwise only "localhost" may have none.
func normDomain(s string, singleLabel bool) (string, bool) {
	for _, r := range s {
		if r >= utf8.RuneSelf && unicode.ToLower(r) < utf8.RuneSelf {
			// U+0130 and the Kelvin sign: lower-casing would silently turn
			// the name into a different ASCII name than IDNA gives.
			return "", false
		}
	}
	d := strings.TrimSuffix(strings.ToLower(s), ".")
	if d == "" || utf8.RuneCountInString(d) > 253 {
		return "", false
	}
	labels := strings.Split(d, ".")
	if len(labels) == 1 && !singleLabel && d != "localhost" {
		return "", false
	}
	for _, l := range labels {
		if !validLabel(l) {
			return "", false
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return "", false // an IPv4-like name, or a numeric top-level domain
	}
	return d, true
}

// validLabel reports whether l is a valid lower-cased domain name label.
func validLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	n := 0
	for _, r := range l {
		n++
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
		case r < utf8.RuneSelf:
			return false
		case !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r):
			return false
		}
	}
	return n <= 63
}

// allDigits reports whether s is a non-empty string of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// atoiBounded returns the value of the ASCII digits s, or -1 if it exceeds
// one million.
func atoiBounded(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1_000_000 {
			return -1
		}
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
