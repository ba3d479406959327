package tool

import (
	"math"
	"strconv"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// subfinder finds subdomains in passive sources (certificate logs, DNS
// datasets, search engines): one subdomain finding per name, and an ip
// finding when the name was resolved (active mode).
//
// API keys for the sources live in subfinder's provider-config.yaml (the
// provider_config option points at one). subfinder prints a domain's names
// only once every source has answered, and it ignores SIGINT and SIGTERM: a
// stopped run keeps the domains already finished; max_time bounds the wait.
// As the names come at the end anyway, -cs lists every source of each name.
func subfinderTool() *Definition {
	return &Definition{
		Name:        "subfinder",
		Description: "Passive subdomain discovery",
		Binary:      "subfinder",
		Install: Install{Go: &GoInstall{
			Module: "github.com/projectdiscovery/subfinder/v2", Version: "v2.11.0", Package: "./cmd/subfinder",
		}},
		Version: VersionCommand{Args: []string{"-version"}, Regex: `Current Version: v?([0-9][^\s]*)`},
		Inputs:  []target.Type{target.Host},
		Input:   Input{Mode: InputFile, Flag: "-dL"},
		Options: map[string]Flag{
			"threads":         {Flag: "-t"},
			"rate_limit":      {Flag: "-rl"},
			"timeout":         {Flag: "-timeout"},
			"proxy":           {Flag: "-proxy"},
			"sources":         {Flag: "-s", Join: ","},
			"exclude_sources": {Flag: "-es", Join: ","},
			"all_sources":     {Flag: "-all"},
			"recursive":       {Flag: "-recursive"},
			// -oI adds the ip; without -nW it would print nothing at all.
			"active": {Args: func(v string) []string {
				if b, err := strconv.ParseBool(v); err == nil && b {
					return []string{"-nW", "-oI"}
				}
				return nil
			}},
			"resolvers":       {Flag: "-r"},
			"max_time":        {Args: subfinderMaxTimeArgs},
			"provider_config": {Flag: "-pc"},
		},
		Extra: []Option{
			{Name: "sources", Kind: KindList, Help: "use only these sources (e.g. crtsh,hackertarget)"},
			{Name: "exclude_sources", Kind: KindList, Help: "do not use these sources"},
			{Name: "all_sources", Kind: KindBool, Help: "use every source (slow)"},
			{Name: "recursive", Kind: KindBool, Help: "use only sources that can enumerate subdomains of subdomains"},
			{Name: "active", Kind: KindBool, Help: "keep only names that resolve, with their IP (drops wildcard answers)"},
			{Name: "resolvers", Kind: KindString, Help: "DNS resolvers for active mode (comma-separated)"},
			{Name: "max_time", Kind: KindDuration, Help: "stop enumerating after this long (whole minutes; default 10m)"},
			{Name: "provider_config", Kind: KindString, Path: true, Help: "provider-config.yaml with the sources' API keys"},
		},
		Fixed:  []string{"-json", "-silent", "-duc", "-nc", "-cs"},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseSubfinderLine},
	}
}

// subfinderMaxTimeArgs renders a duration as subfinder's whole minutes,
// rounded up so that a short limit is not zero (no limit).
func subfinderMaxTimeArgs(v string) []string {
	d, err := parseDuration(v)
	if err != nil {
		return []string{"-max-time", v}
	}
	m := int64(math.Ceil(d.Minutes()))
	if m < 1 {
		m = 1
	}
	return []string{"-max-time", strconv.FormatInt(m, 10)}
}

type subfinderRecord struct {
	Host     string   `json:"host"`
	Input    string   `json:"input"`
	Source   string   `json:"source"`
	Sources  []string `json:"sources"` // -cs, and older versions
	IP       string   `json:"ip"`
	Wildcard bool     `json:"wildcard_certificate"`
}

func parseSubfinderLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	var r subfinderRecord
	if err := decodeLine(line, &r); err != nil {
		return err
	}
	if r.Host == "" {
		return ErrSkip
	}
	s := &finding.Subdomain{Host: r.Host, Domain: r.Input, Sources: r.Sources, Verified: r.IP != ""}
	if r.Source != "" && len(s.Sources) == 0 {
		s.Sources = []string{r.Source}
	}
	if r.Wildcard {
		s.ExtraData = map[string]any{"wildcard_certificate": true}
	}
	emit(s)
	if r.IP != "" {
		emit(&finding.IP{IP: r.IP, Host: r.Host})
	}
	return nil
}
