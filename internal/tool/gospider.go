package tool

import (
	"bytes"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// gospider crawls web sites: a url finding per link, form, script or path
// found (with its status code when gospider fetched it), subdomains seen in
// pages, and a tag per AWS S3 bucket referenced.
//
// gospider stops on neither SIGINT nor SIGTERM: the runner's escalation to
// SIGKILL ends it, and every line it printed before is complete.
func gospiderTool() *Definition {
	return &Definition{
		Name:        "gospider",
		Description: "Web crawler: links, forms, scripts, robots.txt, sitemap and JavaScript paths",
		Binary:      "gospider",
		Install: Install{Go: &GoInstall{
			Module: "github.com/jaeles-project/gospider", Version: "v1.1.6", Package: ".",
		}},
		Version: VersionCommand{Args: []string{"--version"}, Regex: `Version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.URL},
		Input:   Input{Mode: InputFile, Flag: "-S"},
		Options: map[string]Flag{
			// -c is the number of requests in flight per site; -t (sites
			// crawled in parallel) is left at its default of 1.
			"threads":         {Flag: "-c"},
			"timeout":         {Flag: "-m"},
			"delay":           {Flag: "-k"},
			"proxy":           {Flag: "-p"},
			"header":          {Flag: "-H"},
			"user_agent":      {Flag: "-u"},
			"depth":           {Flag: "-d"},
			"follow_redirect": {Args: gospiderRedirect},
			"sitemap":         {Flag: "--sitemap"},
			"other_sources":   {Flag: "-a"},
			"subs":            {Flag: "--subs"},
			"blacklist":       {Flag: "--blacklist"},
			"cookie":          {Flag: "--cookie"},
		},
		Extra: []Option{
			{Name: "sitemap", Kind: KindBool, Help: "also crawl sitemap.xml"},
			{Name: "other_sources", Kind: KindBool,
				Help: "add URLs from third parties (Archive.org, CommonCrawl, VirusTotal, AlienVault)"},
			{Name: "subs", Kind: KindBool, Help: "crawl subdomains of the site too"},
			{Name: "blacklist", Kind: KindString, NotFile: true, Help: "regular expression of URLs not to crawl"},
			{Name: "cookie", Kind: KindString, Sensitive: true, Help: "cookies to send (a=1; b=2)"},
		},
		// -q drops gospider's log lines; --json makes the results JSON.
		Fixed:  []string{"--json", "-q"},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseGospiderLine},
	}
}

// gospiderRedirect: gospider follows redirects unless told not to.
func gospiderRedirect(v string) []string {
	if b, err := strconv.ParseBool(v); err == nil && !b {
		return []string{"--no-redirect"}
	}
	return nil
}

type gospiderRecord struct {
	Input  string `json:"input"`
	Source string `json:"source"`
	Type   string `json:"type"`
	Output string `json:"output"`
	Status int    `json:"status"`
	Length int    `json:"length"`
}

// gospiderFetched is the line gospider prints, even with --json, for every
// JavaScript file its link finder fetched: "[url] - [code-200] - URL", with
// "[len_N] - " before the URL under --length.
var gospiderFetched = regexp.MustCompile(`^\[url\] - \[code-(\d+)\] - (?:\[len_(\d+)\] - )?(\S+)$`)

func parseGospiderLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	line = bytes.TrimSpace(line)
	// The plain-text line is a real result (a fetched URL and its status),
	// printed outside JSON by a gospider bug: read it rather than count it
	// as garbage. Any other non-JSON line is garbage.
	if m := gospiderFetched.FindSubmatch(line); m != nil {
		u := &finding.URL{URL: string(m[3])}
		u.StatusCode, _ = strconv.Atoi(string(m[1]))
		if len(m[2]) > 0 {
			u.ContentLength, _ = strconv.ParseInt(string(m[2]), 10, 64)
		}
		if !absHTTPURL(u.URL) {
			return errNotJSON
		}
		emit(u)
		return nil
	}
	var r gospiderRecord
	if err := decodeLine(line, &r); err != nil {
		return err
	}
	out := strings.TrimSpace(r.Output)
	if out == "" {
		return ErrSkip
	}
	switch r.Type {
	case "subdomain":
		host := out
		if u, err := url.Parse(out); err == nil && u.Host != "" {
			host = u.Hostname()
		}
		emit(&finding.Subdomain{Host: host, Sources: []string{"gospider"}})
		return nil
	case "aws":
		emit(&finding.Tag{Name: "aws-s3-bucket", Category: "cloud", Match: r.Input, Value: out})
		return nil
	}
	// The link finder prints a relative path, then the absolute URL it
	// makes of it when that URL is new: the relative line adds nothing (and
	// is often not a path at all: "text/javascript").
	if !absHTTPURL(out) {
		return ErrSkip
	}
	u := &finding.URL{URL: out, StatusCode: r.Status}
	// length is the number of lines of the body in gospider 1.1.6 (it
	// counts "\n"), not a byte count: it is not a content length.
	if r.Status > 0 && r.Length > 0 {
		u.Lines = r.Length
	}
	// type says how the URL was found: form, upload-form, javascript,
	// linkfinder; "url" (a link or a fetched page) is the default.
	if r.Type != "" && r.Type != "url" {
		u.Tags = []string{r.Type}
	}
	if r.Source != "" && r.Source != "body" {
		u.ExtraData = map[string]any{"source": r.Source}
	}
	emit(u)
	return nil
}

// absHTTPURL reports whether s is an absolute http(s) URL with a host.
func absHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
