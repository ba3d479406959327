// Package target detects, validates and normalises targets: the strings a
// user gives sortie after a tool, workflow or scan name
// ("sortie x httpx example.com 10.0.0.0/24"), or the lines of a targets file.
//
// Parse is the only entry point that matters; Detect is a shorthand for its
// type. Detection is purely syntactic: no DNS lookup and no file-system
// access, so the same input always gets the same type and Value on every
// machine.
//
// # Validation
//
// Parse trims surrounding white space (so the "\r" left by a CRLF file or a
// trailing newline is harmless) and then rejects, in this order:
//
//   - an empty target (ErrEmpty);
//   - a target longer than MaxLen bytes (ErrTooLong);
//   - invalid UTF-8 (ErrInvalidUTF8);
//   - any control character: C0 (NUL, "\t", "\n", "\r", ESC ...), DEL and C1;
//     and the invisible characters that can make a target display as
//     something it is not ("\u200b-v" shows as "-v"): every format character
//     (Unicode category Cf: the bidirectional controls, U+200B ZERO WIDTH
//     SPACE, the joiners, U+2060 WORD JOINER, U+00AD SOFT HYPHEN, the byte
//     order mark U+FEFF, tag characters ...), the line and paragraph
//     separators U+2028 and U+2029, spaces other than U+0020, private-use and
//     unassigned characters, variation selectors, every other
//     Default_Ignorable_Code_Point (Hangul fillers, the Khmer inherent
//     vowels U+17B4 and U+17B5, U+034F, U+E0000-U+E0FFF), U+2800 BRAILLE
//     PATTERN BLANK, and a combining mark with no letter or digit before it
//     (at the start of the target or of a host label: "\u0301a.com")
//     (ErrControl). The error names the character ("U+200B ZERO WIDTH
//     SPACE") and shows the target with it escaped;
//   - a leading '-', which a tool could read as a flag (ErrFlagLike).
//
// As a result an accepted target's Value never starts with '-', never
// contains a control character, and is at most MaxLen bytes long.
//
// # Detection order
//
// The first rule that matches decides the type:
//
//  1. url: an RFC 3986 scheme followed by "://" ("https://", "ws://",
//     "ftp://", "git+ssh://" ...). The URL must have a valid host.
//  2. path: starts with "/", "./", "../" or "~/", or is exactly ".", ".." or
//     "~". Unix syntax only; "//host/x" is a path, not a URL.
//  3. ip: an IPv4 or IPv6 address, optionally in brackets ("[::1]"). An IPv6
//     address may carry a zone ("fe80::1%eth0").
//  4. cidr: an IP address, "/" and a prefix length ("10.0.0.0/24",
//     "2001:db8::/32").
//  5. url without a scheme: a host, optionally with ":port", followed by "/"
//     or "?" ("example.com/login", "10.0.0.1:8080/admin", "[::1]/x").
//  6. host:port: a domain name, an IPv4 address or a bracketed IPv6 address,
//     then ":" and a port ("example.com:443", "127.0.0.1:8080",
//     "[::1]:8443").
//  7. host: a domain name ("example.com", "_dmarc.example.com", "localhost").
//  8. email: local@domain, where domain is a domain name.
//  9. string: anything else that passed validation ("Acme Corp", "jdoe").
//
// An input that clearly means one type but is malformed is an error, not a
// string: a scheme URL with a bad host or port, an IPv4-looking input such
// as "10.0.0.256", a CIDR prefix length out of range, a bracketed IPv6
// address that does not parse, or a host followed by an invalid port
// ("example.com:0", "example.com:65536", "example.com:abc").
//
// # Normalisation
//
// Value is the normalised form, the one to hand to tools and to compare:
//
//   - Domain names are lower-cased and lose one trailing dot. A domain name
//     is dot-separated labels of letters, digits, '-' and '_' (for names
//     such as "_dmarc.example.com"); no label starts or ends with '-'; the
//     last label is not all digits; labels are at most 63 characters and the
//     name at most 253. It has at least one dot, or is "localhost", except
//     as the host of a URL with a scheme, where single-label names such as
//     "http://intranet/" are accepted. Internationalised names are accepted
//     as typed in Unicode (letters, digits and combining marks) and
//     lower-cased; they are not converted to punycode, so the length limits
//     are counted in characters, not in the punycode form. The two non-ASCII
//     letters that lower-case to ASCII (U+0130 "İ" and the Kelvin sign
//     U+212A) are refused in domain names, so that a name never silently
//     becomes a different ASCII name.
//   - IP addresses are written in canonical form (net/netip): lower-case
//     hex, "::" compression, IPv4 without leading zeros (which are rejected
//     as ambiguous). IPv4-mapped IPv6 addresses stay IPv6
//     ("::ffff:192.0.2.1"). Zones are kept as typed; they may contain only
//     letters, digits, '.', '-' and '_', and are not accepted inside URLs or
//     CIDR prefixes. Brackets are removed from a lone address ("[::1]" is
//     "::1") and kept before a port ("[::1]:8443").
//   - CIDR prefixes keep the address as typed, canonically formatted, without
//     masking the host bits: "10.0.0.7/24" stays "10.0.0.7/24", because
//     tools such as nmap treat it as the whole /24 anyway.
//   - Ports are decimal 1-65535; leading zeros are dropped.
//   - URLs keep their user information, path, query and fragment exactly as
//     typed; the scheme and host are lower-cased, the host is normalised as
//     above and an explicit port is kept even when it is the scheme's
//     default ("https://example.com:443/" stays as is). A URL without a
//     scheme gets "http://" prepended. URLs cannot contain white space.
//   - Email addresses keep the local part as typed (it is case-sensitive)
//     and normalise the domain. Quoted local parts and address literals
//     ("user@[192.0.2.1]") are not recognised; they are strings.
//   - Paths and strings are kept as typed (after trimming): no cleaning, no
//     "~" expansion.
//
// An unbracketed IPv6 address never has a port: "::1:8080" is the address
// ::1:8080. Write "[::1]:8080" for a port.
package target
