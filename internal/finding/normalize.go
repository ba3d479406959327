package finding

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// normalizeURL canonicalises a URL (lower-case scheme and host, no default
// port) and derives its scheme, host, port and path. Fields already set by the
// tool are kept when the URL does not say otherwise.
func normalizeURL(raw, scheme, host string, port int, path string) (string, string, string, int, string) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw, strings.ToLower(scheme), normalizeHost(host), port, path
	}
	u.Scheme = strings.ToLower(u.Scheme)
	h, p := u.Hostname(), u.Port()
	h = normalizeHost(h)
	n := 0
	if p != "" {
		n, _ = strconv.Atoi(p)
	}
	def := DefaultPort(u.Scheme)
	if n == 0 {
		n = def
	}
	hostport := h
	if strings.Contains(h, ":") {
		hostport = "[" + h + "]"
	}
	if n != 0 && n != def {
		hostport += ":" + strconv.Itoa(n)
	}
	u.Host = hostport
	if u.Path == "" && u.RawPath == "" && u.Opaque == "" {
		u.Path = "/" // "http://h" and "http://h/" are one URL
	}
	path = u.EscapedPath()
	return u.String(), u.Scheme, h, n, path
}

// DefaultPort is the port a scheme implies, or 0.
func DefaultPort(scheme string) int {
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	case "ftp":
		return 21
	}
	return 0
}

// normalizeHost lower-cases a host name and drops a trailing dot. IP
// addresses come back in canonical form.
func normalizeHost(h string) string {
	return normalizeIP(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), "."))
}

// normalizeIP canonicalises an IP address; anything else is returned trimmed.
func normalizeIP(s string) string {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().String()
	}
	return s
}

func ipProtocol(ip string) string {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ""
	case a.Is4():
		return "ipv4"
	default:
		return "ipv6"
	}
}

// RegistrableDomain is the last two labels of a host name ("a.b.example.com"
// -> "example.com"). It does not know the public suffix list, so
// "a.example.co.uk" gives "co.uk": tools that know better set the domain.
func RegistrableDomain(host string) string {
	host = normalizeHost(host)
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return host
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

// Severities, from least to most severe; the index is the rank.
var severities = []string{"unknown", "info", "low", "medium", "high", "critical"}

// NormalizeSeverity lower-cases a severity and maps synonyms onto sortie's
// scale (unknown, info, low, medium, high, critical). When the tool gives
// none, it is derived from the CVSS score (CVSS v3 ranges).
func NormalizeSeverity(s string, cvss float64) string {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "informational", "information", "none", "note", "ok":
		s = "info"
	case "moderate", "warn", "warning", "medium_risk":
		s = "medium"
	case "important", "severe":
		s = "high"
	case "crit":
		s = "critical"
	}
	if SeverityRank(s) > 0 {
		return s
	}
	switch {
	case cvss >= 9:
		return "critical"
	case cvss >= 7:
		return "high"
	case cvss >= 4:
		return "medium"
	case cvss > 0:
		return "low"
	}
	return "unknown"
}

// SeverityRank orders severities: 0 unknown, 1 info, 2 low, 3 medium, 4 high,
// 5 critical.
func SeverityRank(s string) int {
	for i, v := range severities {
		if v == s {
			return i
		}
	}
	return 0
}

// dateLayouts are the date formats tools print certificate and registration
// dates in.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05-0700",
	"2006/01/02",
	"2006-01-02 15:04",
	"Jan _2 15:04:05 2006 MST",
	"2006-01-02",
	"02-Jan-2006",
	"2006.01.02",
	time.RFC1123,
	time.RFC1123Z,
}

// ParseTime reads a date in any of the formats tools print; the second result
// is false when none matches.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// TimePtr parses a date for an optional field: nil when it cannot be read.
func TimePtr(s string) *time.Time {
	t, ok := ParseTime(s)
	if !ok {
		return nil
	}
	return &t
}
