package tool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// testssl audits a TLS service: a certificate finding per served certificate
// and a vulnerability for every check testssl rates LOW or worse.
func testsslTool() *Definition {
	return &Definition{
		Name:        "testssl",
		Description: "TLS/SSL audit: protocols, ciphers, certificate and known TLS vulnerabilities",
		Binary:      "testssl",
		Install:     Install{Apt: []string{"testssl.sh"}},
		Version:     VersionCommand{Args: []string{"--version"}, Regex: `testssl(?:\.sh)?\s+([0-9][^\s]*)\s+from`},
		Inputs:      []target.Type{target.URL, target.Host, target.IP, target.HostPort},
		// testssl wants the URI as its very last argument, which is where
		// InputArg puts it.
		Input:        Input{Mode: InputArg},
		SingleTarget: true,
		Options: map[string]Flag{
			"timeout": {Flag: "--connect-timeout"},
			// testssl's --proxy is host:port (HTTP CONNECT only), not a URL.
			"proxy": {Args: func(v string) []string {
				v = strings.TrimPrefix(strings.TrimPrefix(v, "http://"), "https://")
				return []string{"--proxy", strings.TrimSuffix(v, "/")}
			}},
			"ip":                {Flag: "--ip"},
			"nodns":             {Flag: "--nodns"},
			"starttls":          {Flag: "--starttls"},
			"sneaky":            {Flag: "--sneaky"},
			"severity":          {Flag: "--severity"},
			"protocols":         {Flag: "--protocols"},
			"server_defaults":   {Flag: "--server-defaults"},
			"server_preference": {Flag: "--server-preference"},
			"headers":           {Flag: "--headers"},
			"vulnerabilities":   {Flag: "--vulnerable"},
		},
		Extra: []Option{
			{Name: "ip", Kind: KindString, Help: `test this IP instead of resolving the host; "one" tests only the first address`},
			{Name: "nodns", Kind: KindString, Allowed: []string{"min", "none"}, Help: `DNS lookups: "min" (A, AAAA, MX only) or "none"`},
			{Name: "starttls", Kind: KindString, Help: "STARTTLS protocol (smtp, imap, pop3, ftp, ldap, postgres, mysql, ...)"},
			{Name: "sneaky", Kind: KindBool, Help: "leave fewer traces in the target's logs"},
			{Name: "severity", Kind: KindString, Allowed: []string{"LOW", "MEDIUM", "HIGH", "CRITICAL"}, Help: "drop results below LOW, MEDIUM, HIGH or CRITICAL from the report"},
			{Name: "protocols", Kind: KindBool, Help: "run the protocol checks (-p); any check selection replaces the full default run"},
			{Name: "server_defaults", Kind: KindBool, Help: "run the server defaults and certificate checks (-S)"},
			{Name: "server_preference", Kind: KindBool, Help: "run the server preference checks (-P)"},
			{Name: "headers", Kind: KindBool, Help: "run the HTTP header checks (-h)"},
			{Name: "vulnerabilities", Kind: KindBool, Help: "run the vulnerability checks (-U)"},
		},
		Fixed:  []string{"--quiet", "--color", "0", "--warnings", "off", "--openssl-timeout", "5"},
		Output: Output{Format: FormatJSON, File: []string{"--jsonfile", "{file}"}},
		Parse:  Parser{Document: parseTestssl},
	}
}

// testsslEntry is one record of testssl's flat JSON report (--jsonfile).
type testsslEntry struct {
	ID       string  `json:"id"`
	IP       string  `json:"ip"` // "host/ip"
	Port     flexInt `json:"port"`
	Severity string  `json:"severity"`
	CVE      string  `json:"cve"`
	CWE      string  `json:"cwe"`
	Finding  string  `json:"finding"`
	Hint     string  `json:"hint"`
}

// testsslTarget is what the report says about one host/ip/port.
type testsslTarget struct {
	host, ip   string
	port       int
	tlsVersion string
	cipher     string
	certs      map[string]*finding.Certificate
	certOrder  []string
}

var testsslKeySize = regexp.MustCompile(`(\d+) bits`)

// parseTestssl reads testssl's flat JSON array. It decodes the entries one
// by one so that a report cut short (testssl killed before it closed the
// array) still yields everything before the cut; certificates are assembled
// from the cert_* entries and emitted at the end.
func parseTestssl(_ *ParseContext, data []byte, emit finding.Emit) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("testssl report: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errors.New("testssl report: not a JSON array (use --jsonfile, not --jsonfile-pretty)")
	}
	targets := map[string]*testsslTarget{}
	var order []string
	var bad int
	var firstErr error
	for dec.More() {
		var e testsslEntry
		if err := dec.Decode(&e); err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				// Truncated or malformed: the stream cannot be resynchronised.
				firstErr = fmt.Errorf("testssl report: %w", err)
				break
			}
			bad++ // a complete value of the wrong shape: skip it
			if firstErr == nil {
				firstErr = fmt.Errorf("testssl report entry: %w", err)
			}
			continue
		}
		if e.ID == "" {
			continue
		}
		host, ip, _ := strings.Cut(e.IP, "/")
		if ip == "" {
			ip = host
		}
		key := e.IP + "|" + strconv.Itoa(int(e.Port))
		t := targets[key]
		if t == nil {
			t = &testsslTarget{host: host, ip: ip, port: int(e.Port), certs: map[string]*finding.Certificate{}}
			targets[key] = t
			order = append(order, key)
		}
		testsslEntryFinding(t, &e, emit)
	}
	if firstErr == nil {
		if _, err := dec.Token(); err != nil {
			firstErr = fmt.Errorf("testssl report: %w", err)
		}
	}
	for _, key := range order {
		t := targets[key]
		for _, n := range t.certOrder {
			c := t.certs[n]
			if c.FingerprintSHA256 == "" && c.SerialNumber == "" {
				continue // no identity: testssl did not get the certificate
			}
			c.TLSVersion, c.Cipher = t.tlsVersion, t.cipher
			emit(c)
		}
	}
	if firstErr != nil && bad > 1 {
		return fmt.Errorf("%w (and %d more)", firstErr, bad-1)
	}
	return firstErr
}

// testsslEntryFinding files one entry: certificate fields, the negotiated
// protocol and cipher, a vulnerability for LOW and above, a warning for
// testssl's own scan problems.
func testsslEntryFinding(t *testsslTarget, e *testsslEntry, emit finding.Emit) {
	base, certNum := testsslCertID(e.ID)
	sev := strings.ToUpper(strings.TrimSpace(e.Severity))
	val := strings.TrimSpace(e.Finding)
	if certNum != "" {
		testsslCertField(t, base, certNum, sev, val)
	}
	switch e.ID {
	case "protocol_negotiated":
		t.tlsVersion = strings.TrimSpace(strings.TrimPrefix(val, "Default protocol"))
	case "cipher_negotiated":
		// "TLS_AES_128_GCM_SHA256, 253 bit ECDH (X25519)": keep the suite.
		t.cipher, _, _ = strings.Cut(val, ",")
	}
	addr := t.host
	if addr == "" {
		addr = t.ip
	}
	matched := net.JoinHostPort(addr, strconv.Itoa(t.port))
	switch sev {
	case "LOW", "MEDIUM", "HIGH", "CRITICAL":
		v := &finding.Vulnerability{
			// testssl ids (BEAST, SWEET32, cert_chain_of_trust, ...) are
			// both the check's name and its stable identifier.
			Name: e.ID, ID: e.ID, Provider: "testssl", MatchedAt: matched, IP: t.ip,
			Severity: strings.ToLower(sev), Description: val,
			CVEs: strings.Fields(e.CVE), CWEs: strings.Fields(e.CWE), Tags: []string{"tls"},
		}
		if e.Hint != "" {
			v.ExtraData = map[string]any{"hint": e.Hint}
		}
		emit(v)
	case "WARN", "FATAL":
		// scanProblem and friends: testssl could not complete a check.
		emit(&finding.Warning{Message: fmt.Sprintf("testssl %s on %s: %s", e.ID, matched, val)})
	}
}

// testsslCertID splits "cert_notAfter <hostCert#2>" into "cert_notAfter"
// and "2". Entries that are not per-certificate give an empty number; a
// server with a single certificate has no "<hostCert#N>" suffix (number 1).
func testsslCertID(id string) (base, num string) {
	if !strings.HasPrefix(id, "cert_") {
		return id, ""
	}
	before, rest, found := strings.Cut(id, " <hostCert#")
	if !found {
		return id, "1"
	}
	n, suffix, ok := strings.Cut(rest, ">")
	if !ok || n == "" {
		return id, ""
	}
	return before + suffix, n
}

func testsslCertField(t *testsslTarget, field, num, sev, val string) {
	c := t.certs[num]
	if c == nil {
		c = &finding.Certificate{Host: t.host, IP: t.ip, Port: t.port}
		t.certs[num] = c
		t.certOrder = append(t.certOrder, num)
	}
	switch field {
	case "cert_commonName":
		c.SubjectCN = val
	case "cert_subjectAltName":
		// A missing SAN is reported as a rated sentence, not a name list.
		if sev == "INFO" || sev == "OK" {
			for _, n := range strings.Fields(val) {
				if n != "--" {
					c.SubjectAN = append(c.SubjectAN, n)
				}
			}
		}
	case "cert_notBefore":
		c.NotBefore = finding.TimePtr(val)
	case "cert_notAfter":
		c.NotAfter = finding.TimePtr(val)
	case "cert_serialNumber":
		c.SerialNumber = val
	case "cert_fingerprintSHA256":
		c.FingerprintSHA256 = val
	case "cert_fingerprintSHA1":
		c.ExtraData = map[string]any{"fingerprint_sha1": val}
	case "cert_caIssuers":
		// "CN (O from C)": the CN comes first, the whole text is the issuer.
		c.Issuer = val
		c.IssuerCN, _, _ = strings.Cut(val, " (")
	case "cert_keySize":
		if m := testsslKeySize.FindStringSubmatch(val); m != nil {
			c.KeySize, _ = strconv.Atoi(m[1])
		}
	case "cert_signatureAlgorithm":
		c.SignatureAlgorithm = val
	case "cert_chain_of_trust":
		c.SelfSigned = strings.Contains(val, "self signed")
		c.Trusted = strings.HasPrefix(val, "passed")
	case "cert_expirationStatus":
		if strings.Contains(strings.ToLower(val), "expired") {
			c.Expired = true
		}
	}
}
