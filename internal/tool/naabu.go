package tool

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// naabu is a fast port scanner: one port finding per open port.
//
// naabu prints every open port twice (once when found, once when verified):
// both lines give the same finding id, so the duplicate is dropped when the
// finding is stored.
func naabuTool() *Definition {
	return &Definition{
		Name:        "naabu",
		Description: "Port scanner: open TCP ports of hosts, IPs and CIDR ranges",
		Binary:      "naabu",
		Install: Install{Go: &GoInstall{
			Module: "github.com/projectdiscovery/naabu/v2", Version: "v2.6.1", Package: "./cmd/naabu",
			Env: []string{"CGO_ENABLED=1"}, AptDeps: []string{"libpcap-dev"},
		}},
		Version: VersionCommand{Args: []string{"-version"}, Regex: `Current Version: v?([0-9][^\s]*)`},
		// naabu resolves host names itself (through public resolvers unless
		// -r is given): IPs are the reliable input.
		Inputs: []target.Type{target.IP, target.CIDR, target.Host},
		Input:  Input{Mode: InputFile, Flag: "-l"},
		Options: map[string]Flag{
			"threads":    {Flag: "-c"},
			"rate_limit": {Flag: "-rate"},
			// -timeout is a duration since v2.6 ("500" would be 500 s).
			"timeout":       {Flag: "-timeout", Unit: "go"},
			"retries":       {Flag: "-retries"},
			"proxy":         {Args: naabuProxyArgs},
			"ports":         {Flag: "-p"},
			"top_ports":     {Flag: "-tp"},
			"scan_type":     {Flag: "-s"},
			"exclude_ports": {Flag: "-ep"},
			"resolvers":     {Flag: "-r"},
			"exclude_cdn":   {Flag: "-ec"},
		},
		Extra: []Option{
			{Name: "scan_type", Kind: KindString, Default: "c", Allowed: []string{"c", "s"},
				Help: "scan type: c (TCP connect, no privileges) or s (SYN, needs root)"},
			{Name: "exclude_ports", Kind: KindString, Help: "ports to leave out (e.g. 22,3306)"},
			{Name: "resolvers", Kind: KindString, Help: "DNS resolvers to resolve host names with (comma-separated or file)"},
			{Name: "exclude_cdn", Kind: KindBool, Help: "scan only ports 80 and 443 of CDN/WAF addresses"},
		},
		// -no-stdin: targets come from the -l file, never from an inherited
		// stdin.
		Fixed:  []string{"-json", "-silent", "-duc", "-nc", "-no-stdin"},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseNaabuLine},
	}
}

// naabuProxyArgs maps the unified proxy option, a URL, onto naabu's SOCKS5
// flags: -proxy takes host:port and -proxy-auth the credentials.
func naabuProxyArgs(v string) []string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || !strings.Contains(v, "://") {
		return []string{"-proxy", v}
	}
	args := []string{"-proxy", u.Host}
	if u.User != nil {
		pass, _ := u.User.Password()
		args = append(args, "-proxy-auth", u.User.Username()+":"+pass)
	}
	return args
}

// naabuRecord is one line of naabu -json. The service fields are set with
// -sV; older versions printed the protocol as a number.
type naabuRecord struct {
	Host      string          `json:"host"`
	IP        string          `json:"ip"`
	Port      flexInt         `json:"port"`
	Protocol  json.RawMessage `json:"protocol"`
	TLS       bool            `json:"tls"`
	CDN       bool            `json:"cdn"`
	CDNName   string          `json:"cdn-name"`
	Timestamp string          `json:"timestamp"`
	MAC       string          `json:"mac_address"`
	Name      string          `json:"name"`
	Product   string          `json:"product"`
	Version   string          `json:"version"`
	Low       string          `json:"low_version"`
	ExtraInfo string          `json:"extra_info"`
	Hostname  string          `json:"hostname"`
	OSType    string          `json:"os_type"`
	DeviceTyp string          `json:"device_type"`
	Conf      flexInt         `json:"confidence"`
	CPEs      []string        `json:"cpes"`
}

func parseNaabuLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	var r naabuRecord
	if err := decodeLine(line, &r); err != nil {
		return err
	}
	if r.Port <= 0 || (r.IP == "" && r.Host == "") {
		return ErrSkip
	}
	p := &finding.Port{
		IP: r.IP, Port: int(r.Port), Protocol: naabuProtocol(r.Protocol), State: "open",
		Host: r.Host, TLS: r.TLS, ServiceName: r.Name, Product: r.Product, Version: r.Version,
		CPEs: r.CPEs,
	}
	if p.Host == p.IP {
		p.Host = ""
	}
	if p.Version == "" {
		p.Version = r.Low
	}
	if r.Conf > 0 {
		p.Confidence = strconv.Itoa(int(r.Conf))
	}
	extra := map[string]any{}
	if r.CDN || r.CDNName != "" {
		extra["cdn"] = true
		if r.CDNName != "" {
			extra["cdn_name"] = r.CDNName
		}
	}
	for k, v := range map[string]string{"mac_address": r.MAC, "extra_info": r.ExtraInfo,
		"hostname": r.Hostname, "os_type": r.OSType, "device_type": r.DeviceTyp} {
		if v != "" {
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		p.ExtraData = extra
	}
	if t, ok := finding.ParseTime(r.Timestamp); ok {
		p.TS = t
	}
	emit(p)
	return nil
}

// naabuProtocol reads "tcp" or, from older versions, 0 (tcp) / 1 (udp).
func naabuProtocol(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		switch n {
		case 1:
			return "udp"
		case 2:
			return "arp"
		}
	}
	return "tcp"
}
