package finding

import (
	"strconv"
	"strings"
	"time"
)

// URL is an HTTP(S) endpoint that answered, or was found. Identity: url.
type URL struct {
	Meta
	URL                string            `json:"url"`
	Host               string            `json:"host,omitempty"`
	Scheme             string            `json:"scheme,omitempty"`
	Port               int               `json:"port,omitempty"`
	Path               string            `json:"path,omitempty"`
	IP                 string            `json:"ip,omitempty"`
	Verified           bool              `json:"verified,omitempty"`
	Method             string            `json:"method,omitempty"`
	StatusCode         int               `json:"status_code,omitempty"`
	Title              string            `json:"title,omitempty"`
	Webserver          string            `json:"webserver,omitempty"`
	Tech               []string          `json:"tech,omitempty"`
	ContentType        string            `json:"content_type,omitempty"`
	ContentLength      int64             `json:"content_length,omitempty"`
	Words              int               `json:"words,omitempty"`
	Lines              int               `json:"lines,omitempty"`
	TimeMS             float64           `json:"time_ms,omitempty"`
	Location           string            `json:"location,omitempty"`
	IsDirectory        bool              `json:"is_directory,omitempty"`
	ResponseHeaders    map[string]string `json:"response_headers,omitempty"`
	StoredResponsePath string            `json:"stored_response_path,omitempty"`
	Tags               []string          `json:"tags,omitempty"`
	ExtraData          map[string]any    `json:"extra_data,omitempty"`
}

func (*URL) Kind() Type           { return TypeURL }
func (u *URL) Identity() []string { return []string{u.URL} }
func (u *URL) Normalize() {
	u.URL, u.Scheme, u.Host, u.Port, u.Path = normalizeURL(u.URL, u.Scheme, u.Host, u.Port, u.Path)
	u.Method = strings.ToUpper(u.Method)
	if u.StatusCode > 0 {
		u.Verified = true
	}
}

// Port is a network port seen on a host. Identity: ip (or host when the ip
// is unknown), port, protocol.
type Port struct {
	Meta
	IP          string         `json:"ip"`
	Port        int            `json:"port"`
	Protocol    string         `json:"protocol"`
	State       string         `json:"state"`
	Host        string         `json:"host,omitempty"`
	ServiceName string         `json:"service_name,omitempty"`
	Product     string         `json:"product,omitempty"`
	Version     string         `json:"version,omitempty"`
	CPEs        []string       `json:"cpes,omitempty"`
	TLS         bool           `json:"tls,omitempty"`
	Confidence  string         `json:"confidence,omitempty"`
	ExtraData   map[string]any `json:"extra_data,omitempty"`
}

func (*Port) Kind() Type { return TypePort }
func (p *Port) Identity() []string {
	addr := p.IP
	if addr == "" {
		addr = p.Host
	}
	return []string{addr, strconv.Itoa(p.Port), p.Protocol}
}
func (p *Port) Normalize() {
	p.Host = normalizeHost(p.Host)
	p.IP = normalizeIP(p.IP)
	p.Protocol = strings.ToLower(strings.TrimSpace(p.Protocol))
	if p.Protocol == "" {
		p.Protocol = "tcp"
	}
	p.State = NormalizePortState(p.State)
}

// NormalizePortState lower-cases a port state and defaults it to "open":
// tools that print only open ports do not say so.
func NormalizePortState(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "open"
	}
	return s
}

// IP is an address that was resolved or found alive. Identity: ip.
type IP struct {
	Meta
	IP        string         `json:"ip"`
	Host      string         `json:"host,omitempty"`
	Alive     bool           `json:"alive,omitempty"`
	Protocol  string         `json:"protocol,omitempty"`
	ExtraData map[string]any `json:"extra_data,omitempty"`
}

func (*IP) Kind() Type           { return TypeIP }
func (i *IP) Identity() []string { return []string{i.IP} }
func (i *IP) Normalize() {
	i.IP = normalizeIP(i.IP)
	i.Host = normalizeHost(i.Host)
	if i.Protocol == "" {
		i.Protocol = ipProtocol(i.IP)
	}
}

// Subdomain is a name found under a domain. Identity: host.
type Subdomain struct {
	Meta
	Host      string         `json:"host"`
	Domain    string         `json:"domain,omitempty"`
	Sources   []string       `json:"sources,omitempty"`
	Verified  bool           `json:"verified,omitempty"`
	ExtraData map[string]any `json:"extra_data,omitempty"`
}

func (*Subdomain) Kind() Type           { return TypeSubdomain }
func (s *Subdomain) Identity() []string { return []string{s.Host} }
func (s *Subdomain) Normalize() {
	s.Host = normalizeHost(s.Host)
	s.Domain = normalizeHost(s.Domain)
	if s.Domain == "" {
		s.Domain = RegistrableDomain(s.Host)
	}
}

// Domain is a registered domain with its registration data. Identity: domain.
type Domain struct {
	Meta
	Domain         string         `json:"domain"`
	Registrar      string         `json:"registrar,omitempty"`
	Registrant     string         `json:"registrant,omitempty"`
	CreationDate   *time.Time     `json:"creation_date,omitempty"`
	UpdatedDate    *time.Time     `json:"updated_date,omitempty"`
	ExpirationDate *time.Time     `json:"expiration_date,omitempty"`
	NameServers    []string       `json:"name_servers,omitempty"`
	Status         []string       `json:"status,omitempty"`
	Emails         []string       `json:"emails,omitempty"`
	ExtraData      map[string]any `json:"extra_data,omitempty"`
}

func (*Domain) Kind() Type           { return TypeDomain }
func (d *Domain) Identity() []string { return []string{d.Domain} }
func (d *Domain) Normalize() {
	d.Domain = normalizeHost(d.Domain)
	for i, ns := range d.NameServers {
		d.NameServers[i] = normalizeHost(ns)
	}
}

// Record is a DNS record: host is the name queried, name the record's value.
// Identity: host, type, name.
type Record struct {
	Meta
	Host      string         `json:"host"`
	Type      string         `json:"type"`
	Name      string         `json:"name"`
	ExtraData map[string]any `json:"extra_data,omitempty"`
}

func (*Record) Kind() Type           { return TypeRecord }
func (r *Record) Identity() []string { return []string{r.Host, r.Type, r.Name} }
func (r *Record) Normalize() {
	r.Host = normalizeHost(r.Host)
	r.Type = strings.ToUpper(strings.TrimSpace(r.Type))
	switch r.Type {
	case "A", "AAAA", "CNAME", "NS", "PTR", "MX":
		r.Name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(r.Name)), ".")
	}
}

// Vulnerability is a weakness matched on a target. Identity: name,
// matched_at, id.
type Vulnerability struct {
	Meta
	Name         string         `json:"name"`
	ID           string         `json:"id,omitempty"`
	Provider     string         `json:"provider,omitempty"`
	MatchedAt    string         `json:"matched_at"`
	IP           string         `json:"ip,omitempty"`
	Severity     string         `json:"severity"`
	SeverityRank int            `json:"severity_rank"`
	Confidence   string         `json:"confidence,omitempty"`
	CVSSScore    float64        `json:"cvss_score,omitempty"`
	CVSSVector   string         `json:"cvss_vector,omitempty"`
	EPSSScore    float64        `json:"epss_score,omitempty"`
	CVEs         []string       `json:"cves,omitempty"`
	CWEs         []string       `json:"cwes,omitempty"`
	Tags         []string       `json:"tags,omitempty"`
	Description  string         `json:"description,omitempty"`
	References   []string       `json:"references,omitempty"`
	Extracted    []string       `json:"extracted_results,omitempty"`
	ExtraData    map[string]any `json:"extra_data,omitempty"`
}

func (*Vulnerability) Kind() Type           { return TypeVulnerability }
func (v *Vulnerability) Identity() []string { return []string{v.Name, v.MatchedAt, v.ID} }
func (v *Vulnerability) Normalize() {
	v.IP = normalizeIP(v.IP)
	v.Severity = NormalizeSeverity(v.Severity, v.CVSSScore)
	v.SeverityRank = SeverityRank(v.Severity)
	v.Confidence = strings.ToLower(strings.TrimSpace(v.Confidence))
	for i, c := range v.CVEs {
		v.CVEs[i] = strings.ToUpper(strings.TrimSpace(c))
	}
	for i, c := range v.CWEs {
		v.CWEs[i] = strings.ToUpper(strings.TrimSpace(c))
	}
}

// Technology is a product seen on a target, with its version when known.
// Identity: match, product, version.
type Technology struct {
	Meta
	Product    string         `json:"product"`
	Version    string         `json:"version,omitempty"`
	Match      string         `json:"match"`
	Categories []string       `json:"categories,omitempty"`
	CPE        string         `json:"cpe,omitempty"`
	ExtraData  map[string]any `json:"extra_data,omitempty"`
}

func (*Technology) Kind() Type { return TypeTechnology }
func (t *Technology) Identity() []string {
	return []string{t.Match, strings.ToLower(t.Product), t.Version}
}
func (t *Technology) Normalize() {
	if t.Version == "" {
		t.Product, t.Version = SplitTechnology(t.Product)
	}
	t.Product = strings.TrimSpace(t.Product)
	t.Version = strings.TrimSpace(t.Version)
}

// SplitTechnology splits "Nginx:1.18.0" or "nginx/1.18.0" into product and
// version. A string without a version comes back as the product.
func SplitTechnology(s string) (product, version string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexAny(s, ":/"); i > 0 && i < len(s)-1 {
		v := s[i+1:]
		if v[0] >= '0' && v[0] <= '9' {
			return strings.TrimSpace(s[:i]), v
		}
	}
	return s, ""
}

// Tag is a labelled observation: a secret in a file, a WAF, an interesting
// parameter. Identity: name, match, value.
type Tag struct {
	Meta
	Name      string         `json:"name"`
	Match     string         `json:"match"`
	Category  string         `json:"category,omitempty"`
	Value     string         `json:"value,omitempty"`
	ExtraData map[string]any `json:"extra_data,omitempty"`
}

func (*Tag) Kind() Type           { return TypeTag }
func (t *Tag) Identity() []string { return []string{t.Name, t.Match, t.Value} }
func (t *Tag) Normalize()         { t.Category = strings.ToLower(strings.TrimSpace(t.Category)) }

// Exploit is a known exploit that applies to a target. Identity: id,
// matched_at, name.
type Exploit struct {
	Meta
	Name       string         `json:"name"`
	ID         string         `json:"id,omitempty"`
	Provider   string         `json:"provider,omitempty"`
	MatchedAt  string         `json:"matched_at,omitempty"`
	IP         string         `json:"ip,omitempty"`
	Reference  string         `json:"reference,omitempty"`
	CVEs       []string       `json:"cves,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
	Confidence string         `json:"confidence,omitempty"`
	ExtraData  map[string]any `json:"extra_data,omitempty"`
}

func (*Exploit) Kind() Type           { return TypeExploit }
func (e *Exploit) Identity() []string { return []string{e.ID, e.MatchedAt, e.Name} }
func (e *Exploit) Normalize() {
	e.IP = normalizeIP(e.IP)
	for i, c := range e.CVEs {
		e.CVEs[i] = strings.ToUpper(strings.TrimSpace(c))
	}
}

// Certificate is a TLS certificate served by a host. Identity: host, port,
// fingerprint_sha256 (serial_number when the fingerprint is unknown).
type Certificate struct {
	Meta
	Host               string         `json:"host"`
	IP                 string         `json:"ip,omitempty"`
	Port               int            `json:"port,omitempty"`
	FingerprintSHA256  string         `json:"fingerprint_sha256,omitempty"`
	SerialNumber       string         `json:"serial_number,omitempty"`
	SubjectCN          string         `json:"subject_cn,omitempty"`
	SubjectAN          []string       `json:"subject_an,omitempty"`
	IssuerCN           string         `json:"issuer_cn,omitempty"`
	Issuer             string         `json:"issuer,omitempty"`
	NotBefore          *time.Time     `json:"not_before,omitempty"`
	NotAfter           *time.Time     `json:"not_after,omitempty"`
	SelfSigned         bool           `json:"self_signed,omitempty"`
	Trusted            bool           `json:"trusted,omitempty"`
	Expired            bool           `json:"expired,omitempty"`
	KeySize            int            `json:"keysize,omitempty"`
	SignatureAlgorithm string         `json:"signature_algorithm,omitempty"`
	TLSVersion         string         `json:"tls_version,omitempty"`
	Cipher             string         `json:"cipher,omitempty"`
	ExtraData          map[string]any `json:"extra_data,omitempty"`
}

func (*Certificate) Kind() Type { return TypeCertificate }
func (c *Certificate) Identity() []string {
	fp := c.FingerprintSHA256
	if fp == "" {
		fp = c.SerialNumber
	}
	return []string{c.Host, strconv.Itoa(c.Port), fp}
}
func (c *Certificate) Normalize() {
	c.Host = normalizeHost(c.Host)
	c.IP = normalizeIP(c.IP)
	c.FingerprintSHA256 = strings.ToLower(strings.ReplaceAll(c.FingerprintSHA256, ":", ""))
	c.SerialNumber = strings.ToLower(strings.ReplaceAll(c.SerialNumber, ":", ""))
	if c.NotAfter != nil && !c.NotAfter.IsZero() && c.NotAfter.Before(time.Now()) {
		c.Expired = true
	}
}

// UserAccount is an account found on a site. Identity: site_name, username.
type UserAccount struct {
	Meta
	Username  string         `json:"username"`
	SiteName  string         `json:"site_name"`
	URL       string         `json:"url,omitempty"`
	Email     string         `json:"email,omitempty"`
	ExtraData map[string]any `json:"extra_data,omitempty"`
}

func (*UserAccount) Kind() Type           { return TypeUserAccount }
func (a *UserAccount) Identity() []string { return []string{a.SiteName, a.Username} }
func (a *UserAccount) Normalize()         { a.Email = strings.ToLower(strings.TrimSpace(a.Email)) }

// Target is an input of the run, with its detected type. Identity: name.
type Target struct {
	Meta
	Name       string `json:"name"`
	TargetType string `json:"type"`
}

func (*Target) Kind() Type           { return TypeTarget }
func (t *Target) Identity() []string { return []string{t.Name} }
func (*Target) Normalize()           {}

// Info is an informational message from the run. Identity: message.
type Info struct {
	Meta
	Message string `json:"message"`
}

func (*Info) Kind() Type           { return TypeInfo }
func (i *Info) Identity() []string { return []string{i.Message} }
func (*Info) Normalize()           {}

// Warning is something the user should know: a skipped target, a limit that
// stopped a tool, lines a parser could not read. Identity: message.
type Warning struct {
	Meta
	Message string `json:"message"`
}

func (*Warning) Kind() Type           { return TypeWarning }
func (w *Warning) Identity() []string { return []string{w.Message} }
func (*Warning) Normalize()           {}

// Error is a failure: a tool that exited non-zero, crashed or was missing.
// output_tail carries the last lines the tool printed. Identity: message.
type Error struct {
	Meta
	Message    string   `json:"message"`
	ExitCode   int      `json:"exit_code,omitempty"`
	OutputTail []string `json:"output_tail,omitempty"`
	Hint       string   `json:"hint,omitempty"`
}

func (*Error) Kind() Type           { return TypeError }
func (e *Error) Identity() []string { return []string{e.Message} }
func (*Error) Normalize()           {}

// Progress reports how far a task is. Identity: percent.
type Progress struct {
	Meta
	Percent   int            `json:"percent"`
	ExtraData map[string]any `json:"extra_data,omitempty"`
}

func (*Progress) Kind() Type           { return TypeProgress }
func (p *Progress) Identity() []string { return []string{strconv.Itoa(p.Percent)} }
func (*Progress) Normalize()           {}

// Stat is a resource sample of a running tool. Identity: name, pid, _ts.
type Stat struct {
	Meta
	Name      string         `json:"name"`
	PID       int            `json:"pid,omitempty"`
	CPU       float64        `json:"cpu,omitempty"`
	Memory    int64          `json:"memory,omitempty"`
	ExtraData map[string]any `json:"extra_data,omitempty"`
}

func (*Stat) Kind() Type { return TypeStat }
func (s *Stat) Identity() []string {
	return []string{s.Name, strconv.Itoa(s.PID), s.TS.UTC().Format(time.RFC3339Nano)}
}
func (*Stat) Normalize() {}

var (
	_ Finding = (*URL)(nil)
	_ Finding = (*Port)(nil)
	_ Finding = (*IP)(nil)
	_ Finding = (*Subdomain)(nil)
	_ Finding = (*Domain)(nil)
	_ Finding = (*Record)(nil)
	_ Finding = (*Vulnerability)(nil)
	_ Finding = (*Technology)(nil)
	_ Finding = (*Tag)(nil)
	_ Finding = (*Exploit)(nil)
	_ Finding = (*Certificate)(nil)
	_ Finding = (*UserAccount)(nil)
	_ Finding = (*Target)(nil)
	_ Finding = (*Info)(nil)
	_ Finding = (*Warning)(nil)
	_ Finding = (*Error)(nil)
	_ Finding = (*Progress)(nil)
	_ Finding = (*Stat)(nil)
)
