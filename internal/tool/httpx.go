package tool

import (
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// httpx probes HTTP(S) services: one url finding per answer, a technology per
// detected product, a certificate for TLS services.
func httpxTool() *Definition {
	return &Definition{
		Name:        "httpx",
		Description: "HTTP probe: status, title, server, technologies, TLS",
		Binary:      "httpx",
		Install: Install{Go: &GoInstall{
			Module: "github.com/projectdiscovery/httpx", Version: "v1.9.0", Package: "./cmd/httpx",
		}},
		Version: VersionCommand{Args: []string{"-version"}, Regex: `Current Version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.URL, target.Host, target.IP, target.HostPort},
		Input:   Input{Mode: InputFile, Flag: "-l"},
		Options: map[string]Flag{
			"threads":         {Flag: "-threads"},
			"rate_limit":      {Flag: "-rl"},
			"timeout":         {Flag: "-timeout"},
			"retries":         {Flag: "-retries"},
			"delay":           {Flag: "-delay", Unit: "go"},
			"proxy":           {Flag: "-http-proxy"},
			"header":          {Flag: "-H"},
			"ports":           {Flag: "-ports"},
			"follow_redirect": {Flag: "-fr"},
			"match_codes":     {Flag: "-mc"},
			"filter_codes":    {Flag: "-fc"},
			"user_agent":      {Args: func(v string) []string { return []string{"-H", "User-Agent: " + v} }},
			"path":            {Flag: "-path"},
			"screenshot":      {Flag: "-screenshot"},
		},
		Extra: []Option{
			{Name: "path", Kind: KindString, Help: "path or paths (comma-separated) to probe on every target"},
			{Name: "screenshot", Kind: KindBool, Help: "take screenshots (needs a browser)"},
		},
		Fixed: []string{"-json", "-silent", "-duc", "-nc", "-sc", "-cl", "-ct", "-title", "-server", "-td",
			"-ip", "-tls-grab", "-rt", "-lc", "-wc"},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseHttpxLine},
	}
}

type httpxRecord struct {
	URL           string   `json:"url"`
	Input         string   `json:"input"`
	Host          string   `json:"host"`
	HostIP        string   `json:"host_ip"`
	A             []string `json:"a"`
	Port          flexInt  `json:"port"`
	Scheme        string   `json:"scheme"`
	Path          string   `json:"path"`
	Title         string   `json:"title"`
	Webserver     string   `json:"webserver"`
	ContentType   string   `json:"content_type"`
	ContentLength int64    `json:"content_length"`
	Method        string   `json:"method"`
	StatusCode    int      `json:"status_code"`
	Words         int      `json:"words"`
	Lines         int      `json:"lines"`
	Time          string   `json:"time"`
	Tech          []string `json:"tech"`
	Location      string   `json:"location"`
	FinalURL      string   `json:"final_url"`
	Failed        bool     `json:"failed"`
	Timestamp     string   `json:"timestamp"`
	StoredPath    string   `json:"stored_response_path"`
	TLS           *struct {
		Host        string   `json:"host"`
		Port        flexInt  `json:"port"`
		TLSVersion  string   `json:"tls_version"`
		Cipher      string   `json:"cipher"`
		SelfSigned  bool     `json:"self_signed"`
		NotBefore   string   `json:"not_before"`
		NotAfter    string   `json:"not_after"`
		SubjectCN   string   `json:"subject_cn"`
		SubjectAN   []string `json:"subject_an"`
		Serial      string   `json:"serial"`
		IssuerDN    string   `json:"issuer_dn"`
		IssuerCN    string   `json:"issuer_cn"`
		Fingerprint struct {
			SHA256 string `json:"sha256"`
		} `json:"fingerprint_hash"`
	} `json:"tls"`
}

func parseHttpxLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	var r httpxRecord
	if err := decodeLine(line, &r); err != nil {
		return err
	}
	if r.URL == "" || r.Failed {
		return ErrSkip
	}
	ip := r.HostIP
	if ip == "" && len(r.A) > 0 {
		ip = r.A[0]
	}
	u := &finding.URL{
		URL: r.URL, Host: r.Host, Scheme: r.Scheme, Port: int(r.Port), Path: r.Path, IP: ip,
		Method: r.Method, StatusCode: r.StatusCode, Title: r.Title, Webserver: r.Webserver,
		Tech: r.Tech, ContentType: r.ContentType, ContentLength: r.ContentLength,
		Words: r.Words, Lines: r.Lines, Location: r.Location, StoredResponsePath: r.StoredPath,
	}
	if r.FinalURL != "" {
		u.Location = r.FinalURL
	}
	if d, err := time.ParseDuration(r.Time); err == nil {
		u.TimeMS = float64(d.Microseconds()) / 1000
	}
	if t, ok := finding.ParseTime(r.Timestamp); ok {
		u.TS = t
	}
	emit(u)
	for _, tech := range r.Tech {
		product, version := finding.SplitTechnology(tech)
		emit(&finding.Technology{Product: product, Version: version, Match: u.URL, Meta: finding.Meta{TS: u.TS}})
	}
	if t := r.TLS; t != nil && (t.Fingerprint.SHA256 != "" || t.Serial != "") {
		port := int(t.Port)
		if port == 0 {
			port = int(r.Port)
		}
		emit(&finding.Certificate{
			Host: t.Host, IP: ip, Port: port, FingerprintSHA256: t.Fingerprint.SHA256,
			SerialNumber: t.Serial, SubjectCN: t.SubjectCN, SubjectAN: t.SubjectAN,
			IssuerCN: t.IssuerCN, Issuer: t.IssuerDN, NotBefore: finding.TimePtr(t.NotBefore),
			NotAfter: finding.TimePtr(t.NotAfter), SelfSigned: t.SelfSigned,
			TLSVersion: t.TLSVersion, Cipher: t.Cipher,
		})
	}
	return nil
}
