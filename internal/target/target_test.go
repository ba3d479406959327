package target_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/target"
)

type parseTest struct {
	in   string
	want target.Target
	err  error // a sentinel error
}

// parseTests is shared by TestParse and the seed corpus of FuzzParse.
// want.Raw is ignored: Parse always sets it to the input.
var parseTests = []parseTest{
	// Validation.
	{in: "", err: target.ErrEmpty},
	{in: "   ", err: target.ErrEmpty},
	{in: "\t\r\n", err: target.ErrEmpty},
	{in: strings.Repeat("a", target.MaxLen+1), err: target.ErrTooLong},
	{in: "example.com/" + strings.Repeat("a", target.MaxLen-len("example.com/")), err: target.ErrTooLong}, // too long once "http://" is prepended
	{in: "\xff\xfe", err: target.ErrInvalidUTF8},
	{in: "a\x00b", err: target.ErrControl},
	{in: "example.com\nevil.com", err: target.ErrControl},
	{in: "example.com\r\nHost: evil", err: target.ErrControl},
	{in: "a\x1b[31mred", err: target.ErrControl},
	{in: "a\x7fb", err: target.ErrControl},
	{in: "a\u0085b", err: target.ErrControl},
	{in: "a\tb", err: target.ErrControl},
	{in: "exe\u202egnp.com", err: target.ErrControl},
	{in: "\ufeffexample.com", err: target.ErrControl},
	{in: "a\u2028b", err: target.ErrControl},
	// Invisible and zero-width characters (issue 7): "\u200b-v" would
	// display as "-v" and hide a flag-like value.
	{in: "\u200b-v", err: target.ErrControl},
	{in: "exa\u200bmple.com", err: target.ErrControl},
	{in: "\u2060-oX", err: target.ErrControl},
	{in: "\u00ad-v", err: target.ErrControl},
	{in: "a\u200db", err: target.ErrControl},
	{in: "a\u200cb", err: target.ErrControl},
	{in: "exa\ufeffmple.com", err: target.ErrControl},
	{in: "a\U000E0041b", err: target.ErrControl},         // TAG LATIN CAPITAL LETTER A
	{in: "a\u180eb", err: target.ErrControl},             // MONGOLIAN VOWEL SEPARATOR
	{in: "a\u3164b", err: target.ErrControl},             // HANGUL FILLER
	{in: "a\ufe0fb", err: target.ErrControl},             // VARIATION SELECTOR-16
	{in: "a\u00a0b", err: target.ErrControl},             // NO-BREAK SPACE inside
	{in: "a\ue000b", err: target.ErrControl},             // private use
	{in: "http://a\u2800b.com/", err: target.ErrControl}, // BRAILLE PATTERN BLANK
	// Every Default_Ignorable_Code_Point, and a combining mark with no
	// letter to sit on (review item 8).
	{in: "a\u17b4b", err: target.ErrControl},              // KHMER VOWEL INHERENT AQ
	{in: "a\u17b5b.com", err: target.ErrControl},          // KHMER VOWEL INHERENT AA
	{in: "a\u115fb", err: target.ErrControl},              // HANGUL CHOSEONG FILLER
	{in: "a\u1160b", err: target.ErrControl},              // HANGUL JUNGSEONG FILLER
	{in: "a\uffa0b", err: target.ErrControl},              // HALFWIDTH HANGUL FILLER
	{in: "a\u034fb", err: target.ErrControl},              // COMBINING GRAPHEME JOINER
	{in: "a\u180bb", err: target.ErrControl},              // MONGOLIAN FREE VARIATION SELECTOR ONE
	{in: "a\u180db", err: target.ErrControl},              // MONGOLIAN FREE VARIATION SELECTOR THREE
	{in: "a\u180fb", err: target.ErrControl},              // MONGOLIAN FREE VARIATION SELECTOR FOUR
	{in: "a\ufe00b", err: target.ErrControl},              // VARIATION SELECTOR-1
	{in: "a\u2065b", err: target.ErrControl},              // unassigned, default ignorable
	{in: "a\ufff0b", err: target.ErrControl},              // unassigned, default ignorable
	{in: "a\U000e0000b", err: target.ErrControl},          // unassigned, default ignorable
	{in: "a\U000e0100b", err: target.ErrControl},          // VARIATION SELECTOR-17
	{in: "a\U000e0fffb", err: target.ErrControl},          // unassigned, default ignorable
	{in: "\u0301example.com", err: target.ErrControl},     // COMBINING ACUTE ACCENT first
	{in: "\u20ddexample.com", err: target.ErrControl},     // COMBINING ENCLOSING CIRCLE first
	{in: "www.\u0301example.com", err: target.ErrControl}, // at the start of a label
	{in: "http://\u20dda.example.com/", err: target.ErrControl},
	{in: "cafe\u0301.example.com", want: target.Target{Value: "cafe\u0301.example.com", Type: target.Host, Host: "cafe\u0301.example.com"}},
	{in: "-oX", err: target.ErrFlagLike},
	{in: "--script=evil", err: target.ErrFlagLike},
	{in: "-", err: target.ErrFlagLike},
	{in: "  -iL /etc/passwd", err: target.ErrFlagLike},
	{in: "-\x00", err: target.ErrControl},

	// Surrounding white space is trimmed.
	{in: "  example.com  ", want: target.Target{Value: "example.com", Type: target.Host, Host: "example.com"}},
	{in: "example.com\r\n", want: target.Target{Value: "example.com", Type: target.Host, Host: "example.com"}},
	{in: "\u00a010.0.0.1\u2028", want: target.Target{Value: "10.0.0.1", Type: target.IP, Host: "10.0.0.1"}},

	// URLs with a scheme.
	{in: "https://example.com", want: target.Target{Value: "https://example.com", Type: target.URL, Host: "example.com"}},
	{in: "http://example.com/", want: target.Target{Value: "http://example.com/", Type: target.URL, Host: "example.com"}},
	{in: "HTTPS://WWW.Example.COM/Login?Next=/Home#Top", want: target.Target{Value: "https://www.example.com/Login?Next=/Home#Top", Type: target.URL, Host: "www.example.com"}},
	{in: "https://example.com.:8443/a", want: target.Target{Value: "https://example.com:8443/a", Type: target.URL, Host: "example.com", Port: 8443}},
	{in: "https://example.com:443/", want: target.Target{Value: "https://example.com:443/", Type: target.URL, Host: "example.com", Port: 443}},
	{in: "http://example.com:0080", want: target.Target{Value: "http://example.com:80", Type: target.URL, Host: "example.com", Port: 80}},
	{in: "http://127.0.0.1:8080/admin", want: target.Target{Value: "http://127.0.0.1:8080/admin", Type: target.URL, Host: "127.0.0.1", Port: 8080}},
	{in: "http://[::1]:8080/", want: target.Target{Value: "http://[::1]:8080/", Type: target.URL, Host: "::1", Port: 8080}},
	{in: "http://[2001:DB8:0:0::1]/x", want: target.Target{Value: "http://[2001:db8::1]/x", Type: target.URL, Host: "2001:db8::1"}},
	{in: "ws://localhost:9000/socket", want: target.Target{Value: "ws://localhost:9000/socket", Type: target.URL, Host: "localhost", Port: 9000}},
	{in: "wss://example.com/ws", want: target.Target{Value: "wss://example.com/ws", Type: target.URL, Host: "example.com"}},
	{in: "ftp://user:p%40ss@ftp.example.com/pub", want: target.Target{Value: "ftp://user:p%40ss@ftp.example.com/pub", Type: target.URL, Host: "ftp.example.com"}},
	{in: "Git+SSH://git@example.com/repo.git", want: target.Target{Value: "git+ssh://git@example.com/repo.git", Type: target.URL, Host: "example.com"}},
	{in: "http://intranet/", want: target.Target{Value: "http://intranet/", Type: target.URL, Host: "intranet"}},
	{in: "http://example.com?q=1", want: target.Target{Value: "http://example.com?q=1", Type: target.URL, Host: "example.com"}},
	{in: "http://example.com/a/../%zz?x=<script>", want: target.Target{Value: "http://example.com/a/../%zz?x=<script>", Type: target.URL, Host: "example.com"}},
	{in: "http://ÉXAMPLE.fr/Été", want: target.Target{Value: "http://éxample.fr/Été", Type: target.URL, Host: "éxample.fr"}},
	{in: "http://", err: target.ErrInvalidURL},
	{in: "https:///path", err: target.ErrInvalidURL},
	{in: "file:///etc/passwd", err: target.ErrInvalidURL},
	{in: "http://exa mple.com/", err: target.ErrInvalidURL},
	{in: "http://example.com/a b", err: target.ErrInvalidURL},
	{in: "http://-example.com/", err: target.ErrInvalidURL},
	{in: "http://::1/", err: target.ErrInvalidURL},
	{in: "http://[fe80::1%25eth0]/", err: target.ErrInvalidURL},
	{in: "http://a.com\\@evil.com/", err: target.ErrInvalidURL},
	{in: "http://example.com:0/", err: target.ErrInvalidPort},
	{in: "http://example.com:/", err: target.ErrInvalidPort},
	{in: "http://example.com:99999/", err: target.ErrInvalidPort},
	{in: "http://10.0.0.256/", err: target.ErrInvalidIP},
	{in: "http://[1.2.3.4]/", err: target.ErrInvalidURL},
	{in: "http://[::g]/", err: target.ErrInvalidIP},

	// URLs without a scheme.
	{in: "example.com/login", want: target.Target{Value: "http://example.com/login", Type: target.URL, Host: "example.com"}},
	{in: "Example.COM/Login", want: target.Target{Value: "http://example.com/Login", Type: target.URL, Host: "example.com"}},
	{in: "example.com:8080/admin", want: target.Target{Value: "http://example.com:8080/admin", Type: target.URL, Host: "example.com", Port: 8080}},
	{in: "example.com/", want: target.Target{Value: "http://example.com/", Type: target.URL, Host: "example.com"}},
	{in: "example.com?id=1", want: target.Target{Value: "http://example.com?id=1", Type: target.URL, Host: "example.com"}},
	{in: "10.0.0.1/admin", want: target.Target{Value: "http://10.0.0.1/admin", Type: target.URL, Host: "10.0.0.1"}},
	{in: "10.0.0.1:8080/", want: target.Target{Value: "http://10.0.0.1:8080/", Type: target.URL, Host: "10.0.0.1", Port: 8080}},
	{in: "[::1]:8443/x", want: target.Target{Value: "http://[::1]:8443/x", Type: target.URL, Host: "::1", Port: 8443}},
	{in: "[::1]/x", want: target.Target{Value: "http://[::1]/x", Type: target.URL, Host: "::1"}},
	{in: "localhost:3000/api", want: target.Target{Value: "http://localhost:3000/api", Type: target.URL, Host: "localhost", Port: 3000}},
	{in: "example.com:0/x", err: target.ErrInvalidPort},
	{in: "example.com/a b", err: target.ErrInvalidURL},
	{in: "::1/admin", err: target.ErrInvalidCIDR},
	{in: "[fe80::1%eth0]/x", err: target.ErrInvalidURL},

	// IP addresses.
	{in: "192.0.2.1", want: target.Target{Value: "192.0.2.1", Type: target.IP, Host: "192.0.2.1"}},
	{in: "0.0.0.0", want: target.Target{Value: "0.0.0.0", Type: target.IP, Host: "0.0.0.0"}},
	{in: "::1", want: target.Target{Value: "::1", Type: target.IP, Host: "::1"}},
	{in: "::", want: target.Target{Value: "::", Type: target.IP, Host: "::"}},
	{in: "2001:0db8:0000:0000:0000:0000:0000:0001", want: target.Target{Value: "2001:db8::1", Type: target.IP, Host: "2001:db8::1"}},
	{in: "2001:DB8::1", want: target.Target{Value: "2001:db8::1", Type: target.IP, Host: "2001:db8::1"}},
	{in: "0:0:0:0:0:0:0:1", want: target.Target{Value: "::1", Type: target.IP, Host: "::1"}},
	{in: "[::1]", want: target.Target{Value: "::1", Type: target.IP, Host: "::1"}},
	{in: "[2001:db8::1]", want: target.Target{Value: "2001:db8::1", Type: target.IP, Host: "2001:db8::1"}},
	{in: "::ffff:192.0.2.1", want: target.Target{Value: "::ffff:192.0.2.1", Type: target.IP, Host: "::ffff:192.0.2.1"}},
	{in: "::FFFF:c000:0201", want: target.Target{Value: "::ffff:192.0.2.1", Type: target.IP, Host: "::ffff:192.0.2.1"}},
	{in: "fe80::1%eth0", want: target.Target{Value: "fe80::1%eth0", Type: target.IP, Host: "fe80::1%eth0"}},
	{in: "[fe80::1%eth0]", want: target.Target{Value: "fe80::1%eth0", Type: target.IP, Host: "fe80::1%eth0"}},
	{in: "::1:8080", want: target.Target{Value: "::1:8080", Type: target.IP, Host: "::1:8080"}}, // no port without brackets
	{in: "10.0.0.256", err: target.ErrInvalidIP},
	{in: "010.0.0.1", err: target.ErrInvalidIP},
	{in: "1.2.3.4.5", err: target.ErrInvalidIP},
	{in: "1.2.3.", err: target.ErrInvalidIP},
	{in: "[::g]", err: target.ErrInvalidIP},
	{in: "[1.2.3.4]", want: target.Target{Value: "[1.2.3.4]", Type: target.String}},
	{in: "[12:30]", err: target.ErrInvalidIP},
	{in: "fe80::1%eth/0", err: target.ErrInvalidCIDR},
	{in: "fe80::1%a+b", err: target.ErrInvalidIP},

	// CIDR prefixes.
	{in: "10.0.0.0/24", want: target.Target{Value: "10.0.0.0/24", Type: target.CIDR}},
	{in: "10.0.0.7/24", want: target.Target{Value: "10.0.0.7/24", Type: target.CIDR}},
	{in: "0.0.0.0/0", want: target.Target{Value: "0.0.0.0/0", Type: target.CIDR}},
	{in: "192.0.2.1/32", want: target.Target{Value: "192.0.2.1/32", Type: target.CIDR}},
	{in: "10.0.0.0/024", want: target.Target{Value: "10.0.0.0/24", Type: target.CIDR}},
	{in: "2001:db8::/32", want: target.Target{Value: "2001:db8::/32", Type: target.CIDR}},
	{in: "2001:DB8:0::/48", want: target.Target{Value: "2001:db8::/48", Type: target.CIDR}},
	{in: "::/0", want: target.Target{Value: "::/0", Type: target.CIDR}},
	{in: "::ffff:10.0.0.0/104", want: target.Target{Value: "::ffff:10.0.0.0/104", Type: target.CIDR}},
	{in: "10.0.0.0/33", err: target.ErrInvalidCIDR},
	{in: "2001:db8::/129", err: target.ErrInvalidCIDR},
	{in: "10.0.0.0/99999999999999999999", err: target.ErrInvalidCIDR},
	{in: "fe80::1%eth0/64", err: target.ErrInvalidCIDR},
	{in: "10.0.0.256/24", err: target.ErrInvalidIP},

	// host:port.
	{in: "example.com:443", want: target.Target{Value: "example.com:443", Type: target.HostPort, Host: "example.com", Port: 443}},
	{in: "Example.COM.:443", want: target.Target{Value: "example.com:443", Type: target.HostPort, Host: "example.com", Port: 443}},
	{in: "127.0.0.1:8080", want: target.Target{Value: "127.0.0.1:8080", Type: target.HostPort, Host: "127.0.0.1", Port: 8080}},
	{in: "[::1]:8443", want: target.Target{Value: "[::1]:8443", Type: target.HostPort, Host: "::1", Port: 8443}},
	{in: "[::ffff:192.0.2.1]:80", want: target.Target{Value: "[::ffff:192.0.2.1]:80", Type: target.HostPort, Host: "::ffff:192.0.2.1", Port: 80}},
	{in: "[fe80::1%eth0]:22", want: target.Target{Value: "[fe80::1%eth0]:22", Type: target.HostPort, Host: "fe80::1%eth0", Port: 22}},
	{in: "localhost:1", want: target.Target{Value: "localhost:1", Type: target.HostPort, Host: "localhost", Port: 1}},
	{in: "example.com:65535", want: target.Target{Value: "example.com:65535", Type: target.HostPort, Host: "example.com", Port: 65535}},
	{in: "example.com:00443", want: target.Target{Value: "example.com:443", Type: target.HostPort, Host: "example.com", Port: 443}},
	{in: "example.com:0", err: target.ErrInvalidPort},
	{in: "example.com:65536", err: target.ErrInvalidPort},
	{in: "example.com:abc", err: target.ErrInvalidPort},
	{in: "example.com:", err: target.ErrInvalidPort},
	{in: "example.com:-1", err: target.ErrInvalidPort},
	{in: "example.com:+80", err: target.ErrInvalidPort},
	{in: "127.0.0.1:0", err: target.ErrInvalidPort},
	{in: "[::1]:0", err: target.ErrInvalidPort},
	{in: "[::1]:65536", err: target.ErrInvalidPort},
	{in: "[::1]:abc", err: target.ErrInvalidPort},
	{in: "[::1", err: target.ErrInvalidIP},
	{in: "10.0.0.256:80", err: target.ErrInvalidIP},
	{in: "jenkins:8080", want: target.Target{Value: "jenkins:8080", Type: target.String}},

	// Hosts.
	{in: "example.com", want: target.Target{Value: "example.com", Type: target.Host, Host: "example.com"}},
	{in: "WWW.EXAMPLE.COM", want: target.Target{Value: "www.example.com", Type: target.Host, Host: "www.example.com"}},
	{in: "example.com.", want: target.Target{Value: "example.com", Type: target.Host, Host: "example.com"}},
	{in: "localhost", want: target.Target{Value: "localhost", Type: target.Host, Host: "localhost"}},
	{in: "LOCALHOST.", want: target.Target{Value: "localhost", Type: target.Host, Host: "localhost"}},
	{in: "_dmarc.example.com", want: target.Target{Value: "_dmarc.example.com", Type: target.Host, Host: "_dmarc.example.com"}},
	{in: "xn--bcher-kva.example", want: target.Target{Value: "xn--bcher-kva.example", Type: target.Host, Host: "xn--bcher-kva.example"}},
	{in: "Bücher.Example", want: target.Target{Value: "bücher.example", Type: target.Host, Host: "bücher.example"}},
	{in: "例え.テスト", want: target.Target{Value: "例え.テスト", Type: target.Host, Host: "例え.テスト"}},
	{in: "a-b.c-d.e", want: target.Target{Value: "a-b.c-d.e", Type: target.Host, Host: "a-b.c-d.e"}},
	{in: "1.2.3.com", want: target.Target{Value: "1.2.3.com", Type: target.Host, Host: "1.2.3.com"}},
	{in: strings.Repeat("a", 63) + ".com", want: target.Target{Value: strings.Repeat("a", 63) + ".com", Type: target.Host, Host: strings.Repeat("a", 63) + ".com"}},
	{in: strings.Repeat("a", 64) + ".com", want: target.Target{Value: strings.Repeat("a", 64) + ".com", Type: target.String}},
	{in: strings.Repeat("a.", 126) + "co", want: target.Target{Value: strings.Repeat("a.", 126) + "co", Type: target.String}}, // 254 characters
	{in: "example.com..", want: target.Target{Value: "example.com..", Type: target.String}},
	{in: "foo-.com", want: target.Target{Value: "foo-.com", Type: target.String}},
	{in: "a..b.com", want: target.Target{Value: "a..b.com", Type: target.String}},
	{in: "example.123", want: target.Target{Value: "example.123", Type: target.String}},
	{in: "1.2", want: target.Target{Value: "1.2", Type: target.String}},
	{in: "\u0130.com", want: target.Target{Value: "\u0130.com", Type: target.String}},
	{in: "http://\u212a.com/", err: target.ErrInvalidURL},
	{in: "*.example.com", want: target.Target{Value: "*.example.com", Type: target.String}},

	// Email addresses.
	{in: "alice@example.com", want: target.Target{Value: "alice@example.com", Type: target.Email, Host: "example.com"}},
	{in: "Alice.Smith+tag@Example.COM.", want: target.Target{Value: "Alice.Smith+tag@example.com", Type: target.Email, Host: "example.com"}},
	{in: "root@localhost", want: target.Target{Value: "root@localhost", Type: target.Email, Host: "localhost"}},
	{in: "josé@exemple.fr", want: target.Target{Value: "josé@exemple.fr", Type: target.Email, Host: "exemple.fr"}},
	{in: "a@b@example.com", want: target.Target{Value: "a@b@example.com", Type: target.String}},
	{in: ".a@example.com", want: target.Target{Value: ".a@example.com", Type: target.String}},
	{in: "a..b@example.com", want: target.Target{Value: "a..b@example.com", Type: target.String}},
	{in: "user@192.0.2.1", want: target.Target{Value: "user@192.0.2.1", Type: target.String}},
	{in: "user@[192.0.2.1]", want: target.Target{Value: "user@[192.0.2.1]", Type: target.String}},
	{in: "@example.com", want: target.Target{Value: "@example.com", Type: target.String}},
	{in: "user@", want: target.Target{Value: "user@", Type: target.String}},
	{in: "git@github.com:org/repo.git", want: target.Target{Value: "git@github.com:org/repo.git", Type: target.String}},

	// Paths.
	{in: "/etc/hosts", want: target.Target{Value: "/etc/hosts", Type: target.Path}},
	{in: "/", want: target.Target{Value: "/", Type: target.Path}},
	{in: "./targets.txt", want: target.Target{Value: "./targets.txt", Type: target.Path}},
	{in: "../Lists/My Hosts.txt", want: target.Target{Value: "../Lists/My Hosts.txt", Type: target.Path}},
	{in: "~/wordlists/big.txt", want: target.Target{Value: "~/wordlists/big.txt", Type: target.Path}},
	{in: ".", want: target.Target{Value: ".", Type: target.Path}},
	{in: "..", want: target.Target{Value: "..", Type: target.Path}},
	{in: "~", want: target.Target{Value: "~", Type: target.Path}},
	{in: "//example.com/x", want: target.Target{Value: "//example.com/x", Type: target.Path}},
	{in: "/24", want: target.Target{Value: "/24", Type: target.Path}},

	// Strings.
	{in: "Acme Corp", want: target.Target{Value: "Acme Corp", Type: target.String}},
	{in: "jdoe", want: target.Target{Value: "jdoe", Type: target.String}},
	{in: "ACME", want: target.Target{Value: "ACME", Type: target.String}},
	{in: "Acme Corp/Legal", want: target.Target{Value: "Acme Corp/Legal", Type: target.String}},
	{in: "C:\\Users\\x", want: target.Target{Value: "C:\\Users\\x", Type: target.String}},
	{in: "[WIP] project", want: target.Target{Value: "[WIP] project", Type: target.String}},
	{in: "http:/example.com", want: target.Target{Value: "http:/example.com", Type: target.String}},
	{in: "foo bar://x", want: target.Target{Value: "foo bar://x", Type: target.String}},
	{in: "…", want: target.Target{Value: "…", Type: target.String}},
	{in: "\u2212oX", want: target.Target{Value: "\u2212oX", Type: target.String}}, // MINUS SIGN, not '-'
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range parseTests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := target.Parse(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				var te *target.Error
				if !errors.As(err, &te) {
					t.Fatalf("Parse(%q) error %T is not a *target.Error", tt.in, err)
				}
				if got != (target.Target{}) {
					t.Errorf("Parse(%q) = %+v with an error, want the zero Target", tt.in, got)
				}
				if d := target.Detect(tt.in); d != "" {
					t.Errorf("Detect(%q) = %q, want \"\"", tt.in, d)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.in, err)
			}
			want := tt.want
			want.Raw = tt.in
			if got != want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, want)
			}
			if d := target.Detect(tt.in); d != want.Type {
				t.Errorf("Detect(%q) = %q, want %q", tt.in, d, want.Type)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"", `target is empty`},
		{"-oX", `target "-oX" starts with "-": it could be read as a flag`},
		{"a\x1bb", `target "a\x1bb" contains the control character U+001B ESCAPE: a target must be printable text`},
		{"exe\u202egnp.com", `target "exe\u202egnp.com" contains the invisible character U+202E RIGHT-TO-LEFT OVERRIDE: a target must be printable text`},
		{"\u200b-v", `target "\u200b-v" contains the invisible character U+200B ZERO WIDTH SPACE: a target must be printable text`},
		{"\u2060-v", `target "\u2060-v" contains the invisible character U+2060 WORD JOINER: a target must be printable text`},
		{"\u00ad-v", `target "\u00ad-v" contains the invisible character U+00AD SOFT HYPHEN: a target must be printable text`},
		{"a\u180bb", `target "a\u180bb" contains the invisible character U+180B: a target must be printable text`},
		{"a\u17b4b", `target "a\u17b4b" contains the invisible character U+17B4: a target must be printable text`},
		{"\u0301a.com", `target "\u0301a.com" starts with the combining mark U+0301, which draws over the character before it: a target must be printable text`},
		{"a.\u20ddb.com", `target "a.\u20ddb.com" has the combining mark U+20DD after '.', at the start of a label, where it draws over the character before it: a target must be printable text`},
		{"example.com:0", `target "example.com:0" has the invalid port "0": a port is a number from 1 to 65535`},
		{"[::1]:abc", `target "[::1]:abc" has the invalid port "abc": a port is a number from 1 to 65535`},
		{"10.0.0.256", `target "10.0.0.256" is not a valid IPv4 address: an IPv4 address is four numbers from 0 to 255 without leading zeros, as in "192.0.2.1"`},
		{"10.0.0.0/33", `target "10.0.0.0/33" is not a valid CIDR prefix: the prefix length 33 is out of range for IPv4 (0-32)`},
		{"http://", `target "http://" has no host: a URL needs one, as in "https://example.com/"`},
		{"http://::1/", `target "http://::1/" has the invalid host "::1": an IPv6 address goes in brackets, as in "http://[::1]/"`},
		{"example.com/a b", `target "example.com/a b" is a URL with white space in it: encode spaces as %20`},
		{strings.Repeat("x", 5000), `target "` + strings.Repeat("x", 80) + `"... is 5000 bytes long: the maximum is 4096`},
	}
	for _, tt := range tests {
		_, err := target.Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %q", tt.in, tt.want)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("Parse(%q) error\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestTypes(t *testing.T) {
	t.Parallel()
	want := []target.Type{target.URL, target.Path, target.IP, target.CIDR, target.HostPort, target.Host, target.Email, target.String}
	got := target.Types()
	if !slices.Equal(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if target.Types()[0] != target.URL {
		t.Fatal("Types() returned its internal slice")
	}
	// Every type appears in the table.
	for _, typ := range want {
		if !slices.ContainsFunc(parseTests, func(tt parseTest) bool { return tt.want.Type == typ }) {
			t.Errorf("no test case for type %q", typ)
		}
	}
}
