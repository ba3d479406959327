package tool

import (
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// dnsx resolves DNS records: one record finding per answer, an ip finding
// per address (so that port scanners can take IPs from it), and a subdomain
// finding per name that resolved and was not itself a target (the names a
// wordlist brute force found).
//
// Targets go to dnsx on stdin rather than with -l, because -l cannot be
// combined with -w: with the wordlist option, "-d -" makes the stdin lines
// the domains to brute-force ("WORD.domain", or a target holding FUZZ).
func dnsxTool() *Definition {
	return &Definition{
		Name:        "dnsx",
		Description: "DNS toolkit: resolve records of hosts, reverse-resolve IPs, brute-force subdomains",
		Binary:      "dnsx",
		Install: Install{Go: &GoInstall{
			Module: "github.com/projectdiscovery/dnsx", Version: "v1.2.3", Package: "./cmd/dnsx",
		}},
		Version: VersionCommand{Args: []string{"-version"}, Regex: `Current Version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.Host, target.IP, target.CIDR},
		Input:   Input{Mode: InputStdin},
		Options: map[string]Flag{
			"threads":    {Flag: "-t"},
			"rate_limit": {Flag: "-rl"},
			"timeout":    {Flag: "-timeout", Unit: "go"},
			"retries":    {Flag: "-retry"},
			"proxy":      {Flag: "-proxy"},
			"wordlist": {Args: func(v string) []string {
				return []string{"-w", v, "-d", "-"}
			}},
			"record_types":    {Args: dnsxRecordTypeArgs},
			"resolvers":       {Flag: "-r"},
			"wildcard_domain": {Flag: "-wd"},
			"rcode":           {Flag: "-rc"},
			"cdn":             {Flag: "-cdn"},
		},
		Extra: []Option{
			{Name: "record_types", Kind: KindList, Default: "a,aaaa,cname,mx,ns,txt",
				Help: "record types to query: a, aaaa, cname, mx, ns, txt, srv, ptr, soa, caa, axfr, any, or all (others are ignored)"},
			{Name: "resolvers", Kind: KindString, Help: "DNS resolvers (comma-separated or file), e.g. 1.1.1.1,8.8.8.8"},
			{Name: "wildcard_domain", Kind: KindString, Help: "drop results that are wildcard answers of this domain"},
			{Name: "rcode", Kind: KindString, Help: "keep only answers with these status codes (e.g. noerror,servfail)"},
			{Name: "cdn", Kind: KindBool, Help: "name the CDN of each address"},
		},
		// -or: no raw DNS messages in the output.
		Fixed:  []string{"-json", "-silent", "-duc", "-nc", "-or"},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseDnsxLine},
	}
}

// dnsxRecordTypes are the record types dnsx has a flag for; the flag is the
// type's name.
var dnsxRecordTypes = map[string]bool{
	"a": true, "aaaa": true, "cname": true, "ns": true, "txt": true, "srv": true, "ptr": true,
	"mx": true, "soa": true, "axfr": true, "caa": true, "any": true,
}

// dnsxRecordTypeArgs turns record types ("a,mx") into dnsx's flags ("-a",
// "-mx"); "all" is -recon. Names dnsx does not know are dropped, never
// passed on as flags.
func dnsxRecordTypeArgs(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "all" || t == "recon":
			out = append(out, "-recon")
		case dnsxRecordTypes[t]:
			out = append(out, "-"+t)
		}
	}
	return out
}

type dnsxRecord struct {
	Host       string          `json:"host"`
	A          []string        `json:"a"`
	AAAA       []string        `json:"aaaa"`
	CNAME      []string        `json:"cname"`
	MX         []string        `json:"mx"`
	PTR        []string        `json:"ptr"`
	NS         []string        `json:"ns"`
	TXT        []string        `json:"txt"`
	SRV        []string        `json:"srv"`
	CAA        []string        `json:"caa"`
	SOA        json.RawMessage `json:"soa"`
	StatusCode string          `json:"status_code"`
	CDN        bool            `json:"cdn"`
	CDNName    string          `json:"cdn-name"`
	AXFR       *struct {
		Chain []dnsxRecord `json:"chain"`
	} `json:"axfr"`
	Timestamp string `json:"timestamp"`
}

// dnsxSOA is an SOA answer: an object since dnsx v1.2, a list of names
// (primary name server, then mailbox) before.
type dnsxSOA struct {
	Name    string `json:"name"`
	NS      string `json:"ns"`
	Mailbox string `json:"mailbox"`
	Serial  uint32 `json:"serial"`
	Refresh uint32 `json:"refresh"`
	Retry   uint32 `json:"retry"`
	Expire  uint32 `json:"expire"`
	MinTTL  uint32 `json:"minttl"`
}

func parseDnsxLine(pc *ParseContext, line []byte, emit finding.Emit) error {
	var r dnsxRecord
	if err := decodeLine(line, &r); err != nil {
		return err
	}
	if r.Host == "" {
		return ErrSkip
	}
	if dnsxEmit(pc, &r, emit) == 0 {
		return ErrSkip
	}
	return nil
}

// dnsxEmit emits the findings of one answer and returns how many.
func dnsxEmit(pc *ParseContext, r *dnsxRecord, emit finding.Emit) int {
	ts, _ := finding.ParseTime(r.Timestamp)
	meta := finding.Meta{TS: ts}
	n := 0
	record := func(typ, name string, extra map[string]any) {
		if name = strings.TrimSpace(name); name == "" {
			return
		}
		emit(&finding.Record{Meta: meta, Host: r.Host, Type: typ, Name: name, ExtraData: extra})
		n++
	}
	for _, set := range []struct {
		typ    string
		values []string
	}{
		{"A", r.A}, {"AAAA", r.AAAA}, {"CNAME", r.CNAME}, {"MX", r.MX}, {"NS", r.NS},
		{"TXT", r.TXT}, {"SRV", r.SRV}, {"CAA", r.CAA}, {"PTR", r.PTR},
	} {
		for _, v := range set.values {
			record(set.typ, v, nil)
		}
	}
	for _, soa := range dnsxSOAs(r.SOA) {
		extra := map[string]any{}
		if soa.Mailbox != "" {
			extra["mailbox"] = soa.Mailbox
		}
		for k, v := range map[string]uint32{"serial": soa.Serial, "refresh": soa.Refresh,
			"retry": soa.Retry, "expire": soa.Expire, "minttl": soa.MinTTL} {
			if v != 0 {
				extra[k] = v
			}
		}
		if len(extra) == 0 {
			extra = nil
		}
		record("SOA", soa.NS, extra)
	}

	var cdn map[string]any
	if r.CDN || r.CDNName != "" {
		cdn = map[string]any{"cdn": true}
		if r.CDNName != "" {
			cdn["cdn_name"] = r.CDNName
		}
	}
	if _, err := netip.ParseAddr(r.Host); err == nil {
		// A reverse lookup: the address is the target, its name the answer.
		if len(r.PTR) > 0 {
			emit(&finding.IP{Meta: meta, IP: r.Host, Host: r.PTR[0], ExtraData: cdn})
			n++
		}
	} else {
		for _, ip := range append(append([]string(nil), r.A...), r.AAAA...) {
			emit(&finding.IP{Meta: meta, IP: ip, Host: r.Host, ExtraData: cdn})
			n++
		}
		if len(r.A)+len(r.AAAA)+len(r.CNAME) > 0 {
			if s := dnsxSubdomain(pc, r.Host); s != nil {
				s.Meta = meta
				emit(s)
				n++
			}
		}
	}
	if r.AXFR != nil {
		for i := range r.AXFR.Chain {
			n += dnsxEmit(pc, &r.AXFR.Chain[i], emit)
		}
	}
	return n
}

// dnsxSubdomain returns the subdomain finding for a name that resolved, or
// nil when the name was one of the targets or is a registrable domain
// itself. The domain is the target the name was brute-forced from, when
// there is one.
func dnsxSubdomain(pc *ParseContext, host string) *finding.Subdomain {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if !strings.Contains(host, ".") || finding.RegistrableDomain(host) == host {
		return nil
	}
	s := &finding.Subdomain{Host: host, Verified: true}
	if pc != nil {
		for _, t := range pc.Targets {
			t = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(t)), ".")
			if t == host {
				return nil
			}
			if strings.HasSuffix(host, "."+t) && len(t) > len(s.Domain) {
				s.Domain = t
			}
		}
	}
	return s
}

func dnsxSOAs(raw json.RawMessage) []dnsxSOA {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var objs []dnsxSOA
	if json.Unmarshal(raw, &objs) == nil {
		for i := range objs {
			if objs[i].NS == "" {
				objs[i].NS = objs[i].Name
			}
		}
		return objs
	}
	var names []string
	if json.Unmarshal(raw, &names) == nil && len(names) > 0 {
		// Older dnsx: [primary name server, mailbox].
		soa := dnsxSOA{NS: names[0]}
		if len(names) > 1 {
			soa.Mailbox = names[1]
		}
		return []dnsxSOA{soa}
	}
	return nil
}
