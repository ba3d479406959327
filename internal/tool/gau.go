package tool

import (
	"bytes"
	"errors"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// gau (getallurls) fetches the URLs archives know for a domain (Wayback
// Machine, Common Crawl, AlienVault OTX, URLScan): one url finding per URL.
// They are not verified: gau never contacts the target.
//
// gau is run with its plain text output: its --json mode drops URLs without
// an extension (a gau 2.2.4 bug). The parser also reads {"url": ...} lines,
// so saved --json output and older captures import too; that is why the
// format is declared as JSON lines.
func gauTool() *Definition {
	return &Definition{
		Name:        "gau",
		Description: "Known URLs of a domain from web archives (Wayback, Common Crawl, OTX, URLScan)",
		Binary:      "gau",
		Install: Install{Go: &GoInstall{
			Module: "github.com/lc/gau/v2", Version: "v2.2.4", Package: "./cmd/gau",
		}},
		Version: VersionCommand{Args: []string{"--version"}, Regex: `gau version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.Host},
		// Without arguments gau reads domains from stdin.
		Input: Input{Mode: InputStdin},
		Options: map[string]Flag{
			"threads":      {Flag: "--threads"},
			"timeout":      {Flag: "--timeout"},
			"retries":      {Flag: "--retries"},
			"proxy":        {Flag: "--proxy"},
			"match_codes":  {Flag: "--mc"},
			"filter_codes": {Flag: "--fc"},
			"providers":    {Flag: "--providers", Join: ","},
			"subs":         {Flag: "--subs"},
			"blacklist":    {Flag: "--blacklist", Join: ","},
			"from":         {Flag: "--from"},
			"to":           {Flag: "--to"},
			"fp":           {Flag: "--fp"},
		},
		Extra: []Option{
			{Name: "providers", Kind: KindList, Help: "archives to ask: wayback, commoncrawl, otx, urlscan (default all)"},
			{Name: "subs", Kind: KindBool, Help: "include URLs of subdomains"},
			{Name: "blacklist", Kind: KindList, Help: "extensions to leave out (e.g. png,jpg,css)"},
			{Name: "from", Kind: KindString, Help: "only URLs archived from this month (YYYYMM)"},
			{Name: "to", Kind: KindString, Help: "only URLs archived up to this month (YYYYMM)"},
			{Name: "fp", Kind: KindBool, Help: "keep one URL per endpoint, whatever its parameters"},
		},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseGauLine},
	}
}

// errGauNotURL: the line is neither a URL nor a JSON record.
var errGauNotURL = errors.New("not an http(s) URL")

func parseGauLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return ErrSkip
	}
	raw := string(line)
	if line[0] == '{' {
		var r struct {
			URL string `json:"url"`
		}
		if err := decodeLine(line, &r); err != nil {
			return err
		}
		if r.URL == "" {
			return ErrSkip
		}
		raw = r.URL
	}
	if !absHTTPURL(raw) {
		return errGauNotURL
	}
	emit(&finding.URL{URL: raw})
	return nil
}
