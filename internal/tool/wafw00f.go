package tool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// wafw00f fingerprints web application firewalls: a tag (category "waf")
// per WAF detected in front of a URL, an info when none is.
func wafw00fTool() *Definition {
	return &Definition{
		Name:        "wafw00f",
		Description: "Web application firewall detection and fingerprinting",
		Binary:      "wafw00f",
		Install:     Install{Apt: []string{"wafw00f"}},
		Version: VersionCommand{Args: []string{"--version"},
			Regex: `WAFW00F you have is (?:\x1b\[[0-9;]*m)?v?([0-9][0-9.]*)`},
		// A target without a scheme is tried as https:// by wafw00f.
		Inputs: []target.Type{target.URL, target.Host, target.IP},
		Input:  Input{Mode: InputArg},
		Options: map[string]Flag{
			"proxy": {Flag: "-p"},
			// wafw00f follows redirects unless told not to.
			"follow_redirect": {Args: func(v string) []string {
				if b, _ := strconv.ParseBool(v); !b {
					return []string{"-r"}
				}
				return nil
			}},
			"find_all": {Flag: "-a"},
			"test":     {Flag: "-t"},
		},
		Extra: []Option{
			{Name: "find_all", Kind: KindBool, Help: "report every matching WAF instead of stopping at the first"},
			{Name: "test", Kind: KindString, Help: "test for this one WAF only (a name from wafw00f -l)"},
		},
		Output: Output{Format: FormatJSON, File: []string{"-f", "json", "-o", "{file}"}},
		Parse:  Parser{Document: parseWafw00f},
	}
}

type wafw00fRecord struct {
	URL          string `json:"url"`
	Detected     bool   `json:"detected"`
	Firewall     string `json:"firewall"`
	Manufacturer string `json:"manufacturer"`
	TriggerURL   string `json:"trigger_url"` // newer versions only
}

// parseWafw00f reads wafw00f's JSON report: an array with one record per
// (URL, WAF), and a detected=false record for a URL where nothing matched.
func parseWafw00f(_ *ParseContext, data []byte, emit finding.Emit) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		data = append(append([]byte{'['}, data...), ']')
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return fmt.Errorf("wafw00f report: %w", err)
	}
	var errs []error
	var records []wafw00fRecord
	for i, raw := range raws {
		var r wafw00fRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			errs = append(errs, fmt.Errorf("wafw00f record %d: %w", i, err))
			continue
		}
		if r.URL == "" {
			errs = append(errs, fmt.Errorf("wafw00f record %d: no url", i))
			continue
		}
		records = append(records, r)
	}
	detected := map[string]bool{}
	for _, r := range records {
		if r.Detected && wafw00fValue(r.Firewall) != "" {
			detected[r.URL] = true
			t := &finding.Tag{Name: r.Firewall, Match: r.URL, Category: "waf", Value: wafw00fValue(r.Manufacturer)}
			if r.TriggerURL != "" {
				t.ExtraData = map[string]any{"trigger_url": r.TriggerURL}
			}
			emit(t)
		}
	}
	// With -a, a URL can have WAF records and a "nothing generic" record:
	// only a URL without any detection is reported as unprotected.
	reported := map[string]bool{}
	for _, r := range records {
		if !detected[r.URL] && !reported[r.URL] {
			reported[r.URL] = true
			emit(&finding.Info{Message: "wafw00f: no WAF detected on " + r.URL})
		}
	}
	return errors.Join(errs...)
}

// wafw00fValue drops the placeholders wafw00f writes for unknown values.
func wafw00fValue(s string) string {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "none", "unknown":
		return ""
	}
	return s
}
