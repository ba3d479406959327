package tool

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
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

// nmap scans ports and identifies services: a port finding per open port, a
// technology per identified product, and, from NSE scripts, certificates
// (ssl-cert), vulnerabilities (vulners, vulscan, the vulns library) and
// exploits (vulners).
//
// nmap writes its XML report to a file. nmap killed mid-scan leaves that file
// truncated: the parser reads it token by token and keeps every port whose
// element is complete.
func nmapTool() *Definition {
	return &Definition{
		Name:        "nmap",
		Description: "Port scanner with service and version detection and NSE scripts",
		Binary:      "nmap",
		Install:     Install{Apt: []string{"nmap"}},
		Version:     VersionCommand{Args: []string{"--version"}, Regex: `Nmap version ([0-9][^\s]*)`},
		Inputs:      []target.Type{target.IP, target.Host, target.CIDR},
		Input:       Input{Mode: InputFile, Flag: "-iL"},
		Options: map[string]Flag{
			// nmap has no worker count: --max-parallelism caps the probes in
			// flight, which is what "threads" bounds in other tools.
			"threads":    {Flag: "--max-parallelism"},
			"rate_limit": {Flag: "--max-rate"},
			// timeout is per request in sortie: the probe round-trip timeout,
			// not --host-timeout, which would abandon any host whose scan
			// takes longer (a -sV scan takes seconds). See host_timeout.
			"timeout":      {Args: nmapTime("--max-rtt-timeout")},
			"retries":      {Flag: "--max-retries"},
			"delay":        {Args: nmapTime("--scan-delay")},
			"ports":        {Flag: "-p"},
			"top_ports":    {Flag: "--top-ports"},
			"scan_type":    {Args: nmapScanType},
			"service":      {Flag: "-sV"},
			"scripts":      {Flag: "--script"},
			"script_args":  {Flag: "--script-args"},
			"timing":       {Args: func(v string) []string { return []string{"-T" + v} }},
			"host_timeout": {Args: nmapTime("--host-timeout")},
		},
		Extra: []Option{
			{Name: "scan_type", Kind: KindString, Default: "connect", Allowed: nmapScanTypeNames(),
				Help: "connect (-sT, no privileges), syn (-sS, needs root) or udp (-sU, needs root); also ack, window, maimon, null, fin, xmas, sctp-init, sctp-cookie, or the letter"},
			{Name: "service", Kind: KindBool, Default: "true", Help: "probe open ports for service and version (-sV)"},
			{Name: "scripts", Kind: KindString, fleet: (*Policy).checkNSEScripts,
				Help: "NSE scripts or categories (e.g. default,vuln or ssl-cert,vulners)"},
			{Name: "script_args", Kind: KindString, fleet: (*Policy).checkNSEArgs,
				Help: "arguments for the NSE scripts (e.g. vulners.mincvss=7)"},
			{Name: "timing", Kind: KindInt, Allowed: []string{"0", "1", "2", "3", "4", "5"},
				Help: "timing template 0 (paranoid) to 5 (insane)"},
			{Name: "host_timeout", Kind: KindDuration, Help: "give up on a host after this long (e.g. 15m)"},
		},
		// -Pn: scan every target, even one that does not answer host
		// discovery (without root only a TCP connect to ports 80 and 443,
		// which firewalls often drop). --noninteractive: no keyboard
		// commands read from the terminal.
		Fixed:  []string{"-Pn", "--noninteractive"},
		Output: Output{Format: FormatXML, File: []string{"-oX", "{file}"}},
		Parse:  Parser{Document: parseNmapXML},
	}
}

// nmapTime renders a duration for nmap, whose bare numbers are seconds: the
// value is given in milliseconds with an explicit unit.
func nmapTime(flag string) func(string) []string {
	return func(v string) []string {
		d, _ := parseDuration(v)
		return []string{flag, strconv.FormatInt(d.Milliseconds(), 10) + "ms"}
	}
}

// nmapScanTypes are the port scans nmap runs, by name and by letter ("-s"
// + letter). Nothing else is ever rendered as "-s...": -sC (default
// scripts), -sV, -sL (list only) or -sI (idle scan through a zombie) are
// other features, not scan types.
var nmapScanTypes = []struct{ name, letter string }{
	{"connect", "T"}, {"syn", "S"}, {"udp", "U"}, {"ack", "A"}, {"window", "W"},
	{"maimon", "M"}, {"null", "N"}, {"fin", "F"}, {"xmas", "X"},
	{"sctp-init", "Y"}, {"sctp-cookie", "Z"},
}

// nmapScanTypeNames is the scan_type allow-list: each name and letter.
func nmapScanTypeNames() []string {
	var out []string
	for _, t := range nmapScanTypes {
		out = append(out, t.name, t.letter)
	}
	return out
}

// nmapScanType maps a scan type name or letter onto its flag. The value was
// checked against nmapScanTypeNames; anything else renders nothing.
func nmapScanType(v string) []string {
	for _, t := range nmapScanTypes {
		if strings.EqualFold(v, t.name) || strings.EqualFold(v, t.letter) {
			return []string{"-s" + t.letter}
		}
	}
	return nil
}

type nmapPort struct {
	Protocol string `xml:"protocol,attr"`
	PortID   string `xml:"portid,attr"`
	State    struct {
		State string `xml:"state,attr"`
	} `xml:"state"`
	Service struct {
		Name      string   `xml:"name,attr"`
		Product   string   `xml:"product,attr"`
		Version   string   `xml:"version,attr"`
		ExtraInfo string   `xml:"extrainfo,attr"`
		Tunnel    string   `xml:"tunnel,attr"`
		Method    string   `xml:"method,attr"`
		CPEs      []string `xml:"cpe"`
	} `xml:"service"`
	Scripts []nmapScript `xml:"script"`
}

// nmapScript is an NSE script result: the text output and its structured
// form (nested tables of key/value elements).
type nmapScript struct {
	ID     string `xml:"id,attr"`
	Output string `xml:"output,attr"`
	nmapTable
}

type nmapTable struct {
	Key    string      `xml:"key,attr"`
	Elems  []nmapElem  `xml:"elem"`
	Tables []nmapTable `xml:"table"`
}

type nmapElem struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

// elem returns the value of the element with that key.
func (t *nmapTable) elem(key string) string {
	for _, e := range t.Elems {
		if e.Key == key {
			return strings.TrimSpace(e.Value)
		}
	}
	return ""
}

// table returns the sub-table with that key, or an empty one.
func (t *nmapTable) table(key string) *nmapTable {
	for i := range t.Tables {
		if t.Tables[i].Key == key {
			return &t.Tables[i]
		}
	}
	return &nmapTable{}
}

// nmapHost is what is known of the host being read when its ports arrive:
// nmap writes the status, addresses and names before the ports.
type nmapHost struct {
	ip, userName, ptrName string
	up, open              bool
}

// name is how the user named the host, else its IP: vulnerabilities and
// certificates are matched on it, as the user would write it.
func (h *nmapHost) name() string {
	if h.userName != "" {
		return h.userName
	}
	return h.ip
}

// hostname is the name the user gave, else the PTR name nmap resolved.
func (h *nmapHost) hostname() string {
	if h.userName != "" {
		return h.userName
	}
	return h.ptrName
}

func (h *nmapHost) hostPort(port int) string {
	return net.JoinHostPort(h.name(), strconv.Itoa(port))
}

// parseNmapXML reads nmap's XML report token by token, so that a report cut
// short by a killed nmap still yields every port whose element is complete;
// it then returns an error wrapping io.ErrUnexpectedEOF.
func parseNmapXML(_ *ParseContext, data []byte, emit finding.Emit) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	var h *nmapHost
	seenRun := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if !seenRun {
				return errors.New("nmap XML: no <nmaprun> element")
			}
			return nil
		}
		if err != nil {
			return nmapReadError(d, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "nmaprun":
				seenRun = true
			case "host":
				h = &nmapHost{}
			}
			if h == nil {
				continue
			}
			switch t.Name.Local {
			case "status":
				// -Pn marks every host up ("user-set"): that says nothing.
				h.up = nmapAttr(t, "state") == "up" && nmapAttr(t, "reason") != "user-set"
			case "address":
				addr, typ := nmapAttr(t, "addr"), nmapAttr(t, "addrtype")
				if typ == "ipv4" || typ == "ipv6" {
					h.ip = addr
				}
			case "hostname":
				switch nmapAttr(t, "type") {
				case "user":
					h.userName = nmapAttr(t, "name")
				case "PTR":
					if h.ptrName == "" {
						h.ptrName = nmapAttr(t, "name")
					}
				}
			case "port":
				var p nmapPort
				if err := d.DecodeElement(&p, &t); err != nil {
					return nmapReadError(d, err)
				}
				emitNmapPort(h, &p, emit)
			case "hostscript":
				var s struct {
					Scripts []nmapScript `xml:"script"`
				}
				if err := d.DecodeElement(&s, &t); err != nil {
					return nmapReadError(d, err)
				}
				for i := range s.Scripts {
					if h.ip != "" {
						emitNmapVulns(h, 0, &s.Scripts[i], emit)
					}
				}
			}
		case xml.EndElement:
			if t.Name.Local == "host" && h != nil {
				if h.ip != "" && (h.up || h.open) {
					emit(&finding.IP{IP: h.ip, Host: h.hostname(), Alive: true})
				}
				h = nil
			}
		}
	}
}

func nmapAttr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// nmapReadError says where the XML stopped making sense; a document that
// just ends early (a killed nmap) wraps io.ErrUnexpectedEOF.
func nmapReadError(d *xml.Decoder, err error) error {
	var se *xml.SyntaxError
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &se) && strings.Contains(se.Msg, "unexpected EOF") {
		return fmt.Errorf("nmap XML truncated at byte %d (complete ports kept): %w", d.InputOffset(), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("nmap XML at byte %d: %w", d.InputOffset(), err)
}

func emitNmapPort(h *nmapHost, p *nmapPort, emit finding.Emit) {
	port, err := strconv.Atoi(p.PortID)
	if err != nil || port <= 0 || port > 65535 || h.ip == "" {
		return
	}
	// Only open ports are findings ("open|filtered" too: UDP services that
	// did not answer); closed and filtered ones stay in the XML report.
	if !strings.HasPrefix(p.State.State, "open") {
		return
	}
	h.open = true
	s := &p.Service
	pf := &finding.Port{
		IP: h.ip, Port: port, Protocol: p.Protocol, State: p.State.State, Host: h.hostname(),
		ServiceName: s.Name, Product: s.Product, Version: s.Version, CPEs: s.CPEs,
		TLS: s.Tunnel == "ssl",
	}
	// "probed": the service answered a probe; "table": the name is only
	// the usual service for that port number.
	switch s.Method {
	case "probed":
		pf.Confidence = "high"
	case "table":
		pf.Confidence = "low"
	}
	extra := map[string]any{}
	if s.ExtraInfo != "" {
		extra["extrainfo"] = s.ExtraInfo
	}
	// Script outputs stay with the port, except those of vulners and
	// vulscan: long lists that become vulnerability findings.
	scripts := map[string]string{}
	for _, sc := range p.Scripts {
		if sc.ID != "vulners" && sc.ID != "vulscan" {
			scripts[sc.ID] = sc.Output
		}
	}
	if len(scripts) > 0 {
		extra["scripts"] = scripts
	}
	if len(extra) > 0 {
		pf.ExtraData = extra
	}
	emit(pf)
	if s.Product != "" {
		t := &finding.Technology{Product: s.Product, Version: s.Version, Match: h.hostPort(port)}
		if len(s.CPEs) > 0 {
			t.CPE = s.CPEs[0]
		}
		emit(t)
	}
	for i := range p.Scripts {
		sc := &p.Scripts[i]
		if sc.ID == "ssl-cert" {
			emitNmapCert(h, port, sc, emit)
			continue
		}
		emitNmapVulns(h, port, sc, emit)
	}
}

// emitNmapCert maps ssl-cert onto a certificate. nmap gives MD5 and SHA-1
// fingerprints only: the SHA-256 one is computed from the PEM it prints, so
// the certificate has the same identity as when httpx or testssl sees it.
func emitNmapCert(h *nmapHost, port int, sc *nmapScript, emit finding.Emit) {
	subject, issuer := sc.table("subject"), sc.table("issuer")
	c := &finding.Certificate{
		Host: h.name(), IP: h.ip, Port: port,
		SubjectCN: subject.elem("commonName"), IssuerCN: issuer.elem("commonName"),
		SignatureAlgorithm: sc.elem("sig_algo"),
		NotBefore:          finding.TimePtr(sc.table("validity").elem("notBefore")),
		NotAfter:           finding.TimePtr(sc.table("validity").elem("notAfter")),
	}
	c.KeySize, _ = strconv.Atoi(sc.table("pubkey").elem("bits"))
	for _, line := range strings.Split(sc.Output, "\n") {
		if v, ok := strings.CutPrefix(line, "Issuer: "); ok {
			c.Issuer = strings.TrimSpace(v)
		}
	}
	// Same subject and issuer names: self-signed (nmap does not verify the
	// signature; neither do the other tools that report this flag).
	c.SelfSigned = len(subject.Elems) > 0 && fmt.Sprint(subject.Elems) == fmt.Sprint(issuer.Elems)
	for _, ext := range sc.table("extensions").Tables {
		if ext.elem("name") == "X509v3 Subject Alternative Name" {
			for _, n := range strings.Split(ext.elem("value"), ",") {
				n = strings.TrimSpace(n)
				if i := strings.Index(n, ":"); i > 0 {
					n = n[i+1:]
				}
				if n != "" {
					c.SubjectAN = append(c.SubjectAN, n)
				}
			}
		}
	}
	if b, _ := pem.Decode([]byte(sc.elem("pem"))); b != nil {
		sum := sha256.Sum256(b.Bytes)
		c.FingerprintSHA256 = hex.EncodeToString(sum[:])
		if cert, err := x509.ParseCertificate(b.Bytes); err == nil {
			c.SerialNumber = cert.SerialNumber.Text(16)
		}
	}
	if c.FingerprintSHA256 == "" && c.SerialNumber == "" {
		c.SerialNumber = sc.elem("sha1") // keep distinct certificates apart
	}
	emit(c)
}

// nmapCVELine is one entry of vulscan's text output: "[CVE-2013-0198] text".
var nmapCVELine = regexp.MustCompile(`^\[(CVE-\d{4}-\d+)\]\s*(.*)$`)

// emitNmapVulns maps vulnerability scripts: vulners (CVEs and exploits known
// for the detected CPE), vulscan (an older third-party script: only its CVE
// entries are kept) and any script built on NSE's vulns library (tables with
// a "state" of VULNERABLE). port is 0 for host scripts.
func emitNmapVulns(h *nmapHost, port int, sc *nmapScript, emit finding.Emit) {
	at := h.name()
	if port > 0 {
		at = h.hostPort(port)
	}
	switch sc.ID {
	case "vulners":
		for _, cpe := range sc.Tables {
			for i := range cpe.Tables {
				emitVulners(h, at, cpe.Key, &cpe.Tables[i], emit)
			}
		}
		return
	case "vulscan":
		// vulscan matches on the product name only: low confidence.
		for _, line := range strings.Split(sc.Output, "\n") {
			if m := nmapCVELine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				emit(&finding.Vulnerability{
					Name: m[1], ID: m[1], Provider: "cve.mitre.org", MatchedAt: at, IP: h.ip,
					CVEs: []string{m[1]}, Description: m[2], Confidence: "low", Tags: []string{"vulscan"},
					References: []string{"https://cve.mitre.org/cgi-bin/cvename.cgi?name=" + m[1]},
				})
			}
		}
		return
	}
	for i := range sc.Tables {
		t := &sc.Tables[i]
		state := t.elem("state")
		if !strings.HasPrefix(state, "VULNERABLE") && !strings.HasPrefix(state, "LIKELY VULNERABLE") {
			continue
		}
		v := &finding.Vulnerability{
			Name: t.elem("title"), ID: t.Key, Provider: "nmap", MatchedAt: at, IP: h.ip,
			Tags: []string{sc.ID}, Confidence: "high", ExtraData: map[string]any{"state": state},
		}
		if strings.HasPrefix(state, "LIKELY") {
			v.Confidence = "medium"
		}
		if v.Name == "" {
			v.Name = t.Key
		}
		for _, e := range t.table("ids").Elems {
			if id, ok := strings.CutPrefix(strings.TrimSpace(e.Value), "CVE:"); ok {
				v.CVEs = append(v.CVEs, id)
			}
		}
		if len(v.CVEs) > 0 {
			v.ID = v.CVEs[0]
		}
		for _, e := range t.table("scores").Elems {
			if f, err := strconv.ParseFloat(strings.TrimSpace(e.Value), 64); err == nil && f > v.CVSSScore {
				v.CVSSScore = f
			}
		}
		v.Description = t.elem("description")
		if v.Description == "" {
			var parts []string
			for _, e := range t.table("description").Elems {
				parts = append(parts, strings.TrimSpace(e.Value))
			}
			v.Description = strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
		}
		for _, e := range t.table("refs").Elems {
			v.References = append(v.References, strings.TrimSpace(e.Value))
		}
		emit(v)
	}
}

// emitVulners maps one vulners entry: known exploits become exploit
// findings, the rest vulnerabilities. vulners matches on the CPE's version,
// not on a test of the service: confidence is low.
func emitVulners(h *nmapHost, at, cpe string, t *nmapTable, emit finding.Emit) {
	id, typ := t.elem("id"), t.elem("type")
	if id == "" {
		return
	}
	ref := "https://vulners.com/" + typ + "/" + id
	var cves []string
	if strings.HasPrefix(strings.ToUpper(id), "CVE-") {
		cves = []string{id}
	}
	extra := map[string]any{"cpe": cpe, "type": typ}
	if t.elem("is_exploit") == "true" {
		emit(&finding.Exploit{
			Name: id, ID: id, Provider: "vulners.com", MatchedAt: at, IP: h.ip, Reference: ref,
			CVEs: cves, Confidence: "low", ExtraData: extra,
		})
		return
	}
	cvss, _ := strconv.ParseFloat(t.elem("cvss"), 64)
	emit(&finding.Vulnerability{
		Name: id, ID: id, Provider: "vulners.com", MatchedAt: at, IP: h.ip, CVSSScore: cvss,
		CVEs: cves, References: []string{ref}, Confidence: "low", Tags: []string{"vulners"}, ExtraData: extra,
	})
}
