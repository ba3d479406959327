package tool

import (
	"strconv"
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// katana crawls web sites: one url finding per endpoint it visits or finds,
// and a technology per product it detects (with tech_detect).
func katanaTool() *Definition {
	return &Definition{
		Name:        "katana",
		Description: "Web crawler: endpoints, forms and JavaScript links of web sites",
		Binary:      "katana",
		Install: Install{Go: &GoInstall{
			Module: "github.com/projectdiscovery/katana", Version: "v1.2.2", Package: "./cmd/katana",
		}},
		Version: VersionCommand{Args: []string{"-version"}, Regex: `(?i)current version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.URL},
		// -list (alias -u) reads a file when its value is a path.
		Input: Input{Mode: InputFile, Flag: "-list"},
		Options: map[string]Flag{
			"threads":    {Flag: "-c"},
			"rate_limit": {Flag: "-rl"},
			"timeout":    {Flag: "-timeout"},
			"retries":    {Flag: "-retry"},
			// -rd is whole seconds: a shorter delay becomes one second.
			"delay":      {Flag: "-rd"},
			"proxy":      {Flag: "-proxy"},
			"header":     {Flag: "-H"},
			"user_agent": {Args: func(v string) []string { return []string{"-H", "User-Agent: " + v} }},
			"depth":      {Flag: "-d"},
			// katana follows redirects unless told not to.
			"follow_redirect": {Args: func(v string) []string {
				if b, err := strconv.ParseBool(v); err == nil && !b {
					return []string{"-dr"}
				}
				return nil
			}},
			"js_crawl":       {Flag: "-jc"},
			"known_files":    {Flag: "-kf"},
			"crawl_duration": {Flag: "-ct", Unit: "go"},
			"tech_detect":    {Flag: "-td"},
			"headless":       {Flag: "-hl"},
			"field_scope":    {Flag: "-fs"},
			"no_scope":       {Flag: "-ns"},
			"parallelism":    {Flag: "-p"},
		},
		Extra: []Option{
			{Name: "js_crawl", Kind: KindBool, Default: "true", Help: "find endpoints in JavaScript files"},
			{Name: "known_files", Kind: KindString, Allowed: []string{"all", "robotstxt", "sitemapxml"}, Help: "also crawl known files: all, robotstxt or sitemapxml (needs depth >= 3)"},
			{Name: "crawl_duration", Kind: KindDuration, Help: "stop crawling a target after this long (e.g. 10m)"},
			{Name: "tech_detect", Kind: KindBool, Help: "detect technologies (one technology finding per product)"},
			{Name: "headless", Kind: KindBool, Help: "crawl with a headless browser (needs Chrome)"},
			{Name: "field_scope", Kind: KindString, NotFile: true, Help: "scope of the crawl: dn, rdn (katana's default), fqdn or a regex"},
			{Name: "no_scope", Kind: KindBool, Help: "do not limit the crawl to the target's domain"},
			{Name: "parallelism", Kind: KindInt, Help: "targets crawled at once"},
		},
		// -or -ob: raw requests, responses and bodies stay out of the
		// output (they would fill memory and the findings store); -fx adds
		// the forms of each page.
		Fixed:  []string{"-jsonl", "-silent", "-duc", "-nc", "-or", "-ob", "-fx"},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseKatanaLine},
	}
}

type katanaForm struct {
	Method     string   `json:"method"`
	Action     string   `json:"action"`
	Enctype    string   `json:"enctype"`
	Parameters []string `json:"parameters"`
}

type katanaRecord struct {
	Timestamp string `json:"timestamp"`
	Request   *struct {
		Method    string `json:"method"`
		Endpoint  string `json:"endpoint"`
		Tag       string `json:"tag"`
		Attribute string `json:"attribute"`
		Source    string `json:"source"`
	} `json:"request"`
	Response *struct {
		StatusCode    int               `json:"status_code"`
		Headers       map[string]string `json:"headers"`
		ContentLength int64             `json:"content_length"`
		Technologies  []string          `json:"technologies"`
		Forms         []katanaForm      `json:"forms"`
		XHR           []struct {
			Method   string `json:"method"`
			Endpoint string `json:"endpoint"`
		} `json:"xhr_requests"`
		StoredPath string `json:"stored_response_path"`
	} `json:"response"`
	Error string `json:"error"`
}

func parseKatanaLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	var r katanaRecord
	if err := decodeLine(line, &r); err != nil {
		return err
	}
	if r.Request == nil || r.Request.Endpoint == "" {
		return ErrSkip
	}
	u := &finding.URL{URL: r.Request.Endpoint, Method: r.Request.Method}
	extra := map[string]any{}
	for k, v := range map[string]string{"source": r.Request.Source, "tag": r.Request.Tag,
		"attribute": r.Request.Attribute, "error": r.Error} {
		if v != "" {
			extra[k] = v
		}
	}
	if resp := r.Response; resp != nil {
		u.StatusCode = resp.StatusCode
		u.ContentLength = resp.ContentLength
		u.Tech = resp.Technologies
		u.StoredResponsePath = resp.StoredPath
		if len(resp.Headers) > 0 {
			u.ResponseHeaders = resp.Headers
			u.ContentType = katanaHeader(resp.Headers, "content-type")
			u.Webserver = katanaHeader(resp.Headers, "server")
			u.Location = katanaHeader(resp.Headers, "location")
			if u.ContentLength == 0 {
				u.ContentLength, _ = strconv.ParseInt(katanaHeader(resp.Headers, "content-length"), 10, 64)
			}
		}
		if len(resp.Forms) > 0 {
			extra["forms"] = resp.Forms
		}
		if len(resp.XHR) > 0 {
			extra["xhr_requests"] = resp.XHR
		}
	}
	if len(extra) > 0 {
		u.ExtraData = extra
	}
	if t, ok := finding.ParseTime(r.Timestamp); ok {
		u.TS = t
	}
	u.Normalize() // technologies match the canonical URL
	emit(u)
	for _, tech := range u.Tech {
		product, version := finding.SplitTechnology(tech)
		emit(&finding.Technology{Product: product, Version: version, Match: u.URL, Meta: finding.Meta{TS: u.TS}})
	}
	return nil
}

// katanaHeader reads a response header; katana lower-cases header names, a
// capitalised name is accepted too.
func katanaHeader(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
