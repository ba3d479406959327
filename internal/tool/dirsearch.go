package tool

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// dirsearch brute-forces paths on web servers: a url finding per path that
// answered with a status it keeps.
//
// Debian's /usr/bin/dirsearch changes directory before starting, so every
// path it is given (output file, targets file, wordlist) must be absolute.
func dirsearchTool() *Definition {
	return &Definition{
		Name:        "dirsearch",
		Description: "Web path brute-forcing",
		Binary:      "dirsearch",
		Install:     Install{Apt: []string{"dirsearch"}},
		Version:     VersionCommand{Args: []string{"--version"}, Regex: `dirsearch v([0-9][^\s]*)`},
		Inputs:      []target.Type{target.URL},
		Input:       Input{Mode: InputFile, Flag: "-l"},
		Options: map[string]Flag{
			"threads":    {Flag: "-t"},
			"rate_limit": {Flag: "--max-rate"},
			// dirsearch takes fractional seconds: keep "500ms" as 0.5.
			"timeout":    {Args: fracSecondsFlag("--timeout")},
			"retries":    {Flag: "--retries"},
			"delay":      {Args: fracSecondsFlag("--delay")},
			"proxy":      {Flag: "--proxy"},
			"header":     {Flag: "-H"},
			"user_agent": {Flag: "--user-agent"},
			"wordlist":   {Flag: "-w"},
			// The depth only matters with recursion on.
			"depth":            {Args: func(v string) []string { return []string{"-r", "-R", v} }},
			"follow_redirect":  {Flag: "-F"},
			"match_codes":      {Flag: "-i"},
			"filter_codes":     {Flag: "-x"},
			"extensions":       {Flag: "-e"},
			"force_extensions": {Flag: "-f"},
			"method":           {Flag: "-m"},
			"max_time":         {Flag: "--max-time"},
			"exclude_sizes":    {Flag: "--exclude-sizes"},
		},
		Extra: []Option{
			{Name: "extensions", Kind: KindString, Help: "extensions for %EXT% entries, comma-separated (php,aspx)"},
			{Name: "force_extensions", Kind: KindBool, Help: "append the extensions to every wordlist entry"},
			{Name: "method", Kind: KindString, Help: "HTTP method (default GET)"},
			{Name: "max_time", Kind: KindDuration, Help: "stop the scan after this long"},
			{Name: "exclude_sizes", Kind: KindString, Help: "drop responses of these sizes, comma-separated (0B,4KB)"},
		},
		Fixed:  []string{"-q", "--no-color"},
		Output: Output{Format: FormatJSON, File: []string{"--format=json", "-o", "{file}"}},
		Parse:  Parser{Document: parseDirsearch},
	}
}

// fracSecondsFlag renders a duration as fractional seconds after flag.
func fracSecondsFlag(flag string) func(string) []string {
	return func(v string) []string {
		d, _ := parseDuration(v)
		return []string{flag, strconv.FormatFloat(d.Seconds(), 'f', -1, 64)}
	}
}

// dirsearchEntry is one result. dirsearch 0.4.2 gives a path under its base
// URL; later versions give the full url and the content type.
type dirsearchEntry struct {
	URL           string  `json:"url"`
	Path          string  `json:"path"`
	Status        flexInt `json:"status"`
	ContentLength int64   `json:"content-length"`
	ContentType   string  `json:"content-type"`
	Redirect      *string `json:"redirect"`
}

// parseDirsearch reads dirsearch's JSON report. "results" holds, in 0.4.2,
// one object per target mapping the base URL to its entries, and in later
// versions the entries themselves.
func parseDirsearch(_ *ParseContext, data []byte, emit finding.Emit) error {
	var doc struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("dirsearch report: %w", err)
	}
	var errs []error
	for i, raw := range doc.Results {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(raw, &probe); err != nil {
			errs = append(errs, fmt.Errorf("dirsearch result %d: %w", i, err))
			continue
		}
		if _, flat := probe["url"]; flat {
			var e dirsearchEntry
			if err := json.Unmarshal(raw, &e); err != nil {
				errs = append(errs, fmt.Errorf("dirsearch result %d: %w", i, err))
				continue
			}
			if err := dirsearchEmit(e.URL, &e, emit); err != nil {
				errs = append(errs, fmt.Errorf("dirsearch result %d: %w", i, err))
			}
			continue
		}
		bases := make([]string, 0, len(probe))
		for base := range probe {
			bases = append(bases, base)
		}
		sort.Strings(bases)
		for _, base := range bases {
			var entries []dirsearchEntry
			if err := json.Unmarshal(probe[base], &entries); err != nil {
				errs = append(errs, fmt.Errorf("dirsearch results for %s: %w", base, err))
				continue
			}
			for j := range entries {
				e := &entries[j]
				if err := dirsearchEmit(dirsearchJoin(base, e.Path), e, emit); err != nil {
					errs = append(errs, fmt.Errorf("dirsearch result %s %d: %w", base, j, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// dirsearchJoin appends a result path to the base URL it was found under.
func dirsearchJoin(base, path string) string {
	if path == "" {
		return base
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}

func dirsearchEmit(raw string, e *dirsearchEntry, emit finding.Emit) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("bad url %q", raw)
	}
	f := &finding.URL{URL: raw, StatusCode: int(e.Status), ContentLength: e.ContentLength, ContentType: e.ContentType}
	if e.Redirect != nil && *e.Redirect != "" {
		// 0.4.2 prints the Location header as sent, often relative.
		loc := *e.Redirect
		if r, err := u.Parse(loc); err == nil {
			loc = r.String()
		}
		f.Location = loc
		// A redirect to the same path plus "/" is how servers answer for a
		// directory.
		f.IsDirectory = loc == strings.TrimSuffix(u.String(), "/")+"/" && !strings.HasSuffix(u.Path, "/")
	}
	if strings.HasSuffix(u.Path, "/") && u.Path != "/" {
		f.IsDirectory = true
	}
	emit(f)
	return nil
}
