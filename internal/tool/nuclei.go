package tool

import (
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// nuclei runs vulnerability templates: one vulnerability finding per match.
//
// A template with several named matchers (http-missing-security-headers has
// one per header) reports each one separately: the matcher name is appended
// to the finding's name, "HTTP Missing Security Headers (x-frame-options)",
// so that the matches keep distinct ids while the id field stays the
// template id.
func nucleiTool() *Definition {
	return &Definition{
		Name:        "nuclei",
		Description: "Template-based vulnerability scanner",
		Binary:      "nuclei",
		Install: Install{Go: &GoInstall{
			Module: "github.com/projectdiscovery/nuclei/v3", Version: "v3.10.0", Package: "./cmd/nuclei",
		}},
		Version: VersionCommand{Args: []string{"-version"}, Regex: `Nuclei Engine Version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.URL, target.Host, target.IP, target.HostPort, target.CIDR},
		Input:   Input{Mode: InputFile, Flag: "-l"},
		Options: map[string]Flag{
			"threads":          {Flag: "-c"},
			"rate_limit":       {Flag: "-rl"},
			"timeout":          {Flag: "-timeout"},
			"retries":          {Flag: "-retries"},
			"proxy":            {Flag: "-proxy"},
			"header":           {Flag: "-H"},
			"user_agent":       {Args: func(v string) []string { return []string{"-H", "User-Agent: " + v} }},
			"follow_redirect":  {Flag: "-fr"},
			"templates":        {Flag: "-t"},
			"tags":             {Flag: "-tags", Join: ","},
			"exclude_tags":     {Flag: "-etags", Join: ","},
			"severity":         {Flag: "-s"},
			"exclude_severity": {Flag: "-es"},
			"template_id":      {Flag: "-id", Join: ","},
			"bulk_size":        {Flag: "-bs"},
			"no_interactsh":    {Flag: "-ni"},
			"headless":         {Flag: "-headless"},
		},
		Extra: []Option{
			{Name: "templates", Kind: KindList, Path: true, Help: "template files or directories to run (default: nuclei's own templates)"},
			{Name: "tags", Kind: KindList, Help: "run only templates with these tags"},
			{Name: "exclude_tags", Kind: KindList, Help: "skip templates with these tags"},
			{Name: "severity", Kind: KindString, Help: "run only templates of these severities (e.g. high,critical)"},
			{Name: "exclude_severity", Kind: KindString, Help: "skip templates of these severities"},
			{Name: "template_id", Kind: KindList, Help: "run only the templates with these ids"},
			{Name: "bulk_size", Kind: KindInt, Help: "targets scanned in parallel per template"},
			{Name: "no_interactsh", Kind: KindBool, Default: "true",
				Help: "do not use an interactsh server for out-of-band templates (set false to allow them)"},
			{Name: "headless", Kind: KindBool, Help: "run templates that need a headless browser"},
		},
		// -or -ot: requests, responses and the encoded template stay out of
		// the output. -no-stdin: targets come from the -l file only.
		Fixed:  []string{"-jsonl", "-silent", "-duc", "-nc", "-or", "-ot", "-no-stdin"},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseNucleiLine},
	}
}

type nucleiRecord struct {
	TemplateID   string `json:"template-id"`
	Template     string `json:"template"`
	TemplateURL  string `json:"template-url"`
	TemplatePath string `json:"template-path"`
	Info         struct {
		Name           string          `json:"name"`
		Author         flexStrings     `json:"author"`
		Tags           flexStrings     `json:"tags"`
		Description    string          `json:"description"`
		Impact         string          `json:"impact"`
		Remediation    string          `json:"remediation"`
		Reference      flexStrings     `json:"reference"`
		Severity       string          `json:"severity"`
		Metadata       map[string]any  `json:"metadata"`
		Classification *nucleiClassify `json:"classification"`
	} `json:"info"`
	MatcherName   string         `json:"matcher-name"`
	ExtractorName string         `json:"extractor-name"`
	Type          string         `json:"type"`
	Host          string         `json:"host"`
	Port          string         `json:"port"`
	Scheme        string         `json:"scheme"`
	URL           string         `json:"url"`
	Path          string         `json:"path"`
	MatchedAt     string         `json:"matched-at"`
	Extracted     []string       `json:"extracted-results"`
	IP            string         `json:"ip"`
	Timestamp     string         `json:"timestamp"`
	CurlCommand   string         `json:"curl-command"`
	MatcherStatus *bool          `json:"matcher-status"`
	Meta          map[string]any `json:"meta"`
	FuzzParam     string         `json:"fuzzing_parameter"`
	FuzzMethod    string         `json:"fuzzing_method"`
	Error         string         `json:"error"`
}

type nucleiClassify struct {
	CVEID          flexStrings `json:"cve-id"`
	CWEID          flexStrings `json:"cwe-id"`
	CVSSMetrics    string      `json:"cvss-metrics"`
	CVSSScore      flexFloat   `json:"cvss-score"`
	EPSSScore      flexFloat   `json:"epss-score"`
	EPSSPercentile flexFloat   `json:"epss-percentile"`
	CPE            string      `json:"cpe"`
}

func parseNucleiLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	var r nucleiRecord
	if err := decodeLine(line, &r); err != nil {
		return err
	}
	if r.TemplateID == "" || (r.MatcherStatus != nil && !*r.MatcherStatus) {
		// No template (a stats or error line), or a failed match printed
		// because of -ms.
		return ErrSkip
	}
	if r.TemplatePath == "" {
		r.TemplatePath = r.Template // nuclei v2
	}
	matched := r.MatchedAt
	if matched == "" {
		matched = r.URL
	}
	if matched == "" {
		matched = r.Host
	}
	name := r.Info.Name
	if name == "" {
		name = r.TemplateID
	}
	if r.MatcherName != "" {
		name += " (" + r.MatcherName + ")"
	}
	v := &finding.Vulnerability{
		Name: name, ID: r.TemplateID, Provider: "nuclei", MatchedAt: matched, IP: r.IP,
		Severity: r.Info.Severity, Tags: r.Info.Tags, Description: strings.TrimSpace(r.Info.Description),
		References: r.Info.Reference, Extracted: r.Extracted,
	}
	extra := map[string]any{}
	if c := r.Info.Classification; c != nil {
		v.CVEs, v.CWEs = c.CVEID, c.CWEID
		v.CVSSScore, v.CVSSVector, v.EPSSScore = float64(c.CVSSScore), c.CVSSMetrics, float64(c.EPSSScore)
		if c.EPSSPercentile > 0 {
			extra["epss_percentile"] = float64(c.EPSSPercentile)
		}
		if c.CPE != "" {
			extra["cpe"] = c.CPE
		}
	}
	for k, s := range map[string]string{
		"matcher_name": r.MatcherName, "extractor_name": r.ExtractorName, "template_path": r.TemplatePath,
		"template_url": r.TemplateURL, "type": r.Type, "host": r.Host, "port": r.Port, "scheme": r.Scheme,
		"url": r.URL, "curl_command": r.CurlCommand, "impact": strings.TrimSpace(r.Info.Impact),
		"remediation": strings.TrimSpace(r.Info.Remediation), "fuzzing_parameter": r.FuzzParam,
		"fuzzing_method": r.FuzzMethod,
	} {
		if s != "" {
			extra[k] = s
		}
	}
	if len(r.Info.Author) > 0 {
		extra["authors"] = []string(r.Info.Author)
	}
	if len(r.Info.Metadata) > 0 {
		extra["metadata"] = r.Info.Metadata
	}
	if len(r.Meta) > 0 {
		extra["meta"] = r.Meta
	}
	if len(extra) > 0 {
		v.ExtraData = extra
	}
	if t, ok := finding.ParseTime(r.Timestamp); ok {
		v.TS = t
	}
	emit(v)
	return nil
}
