package tool

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// ffuf fuzzes one URL with a wordlist: one url finding per response that
// passes its matchers.
//
// ffuf substitutes the FUZZ keyword. A target without it ("http://h/app")
// is meant as "fuzz the paths under it": ffufTarget turns it into
// "http://h/app/FUZZ". That rewrite has to happen where the command line is
// built; until Definition has a per-target hook for it, a target must
// already contain FUZZ, or ffuf exits with "No FUZZ keyword(s) found".
//
// Results are read from stdout (-json -s), one JSON line per result, so they
// stream and survive a stopped run. In that mode ffuf base64-encodes the
// input values; its report file (-of json -o F), which `sortie import`
// accepts too, has them in plain text.
func ffufTool() *Definition {
	return &Definition{
		Name:        "ffuf",
		Description: "Web fuzzer: paths, files and parameters found with a wordlist",
		Binary:      "ffuf",
		Install: Install{Go: &GoInstall{
			Module: "github.com/ffuf/ffuf/v2", Version: "v2.2.1", Package: ".",
			// Without these a build from the module reports "2.1.0-dev".
			LDFlags: "-X github.com/ffuf/ffuf/v2/pkg/ffuf.VERSION=2.2.1 -X github.com/ffuf/ffuf/v2/pkg/ffuf.VERSION_APPENDIX=",
		}},
		Version:      VersionCommand{Args: []string{"-V"}, Regex: `ffuf version: v?([0-9][^\s]*)`},
		Inputs:       []target.Type{target.URL},
		Input:        Input{Mode: InputFlag, Flag: "-u"},
		SingleTarget: true,
		TargetArg:    ffufTarget,
		Options: map[string]Flag{
			"threads":    {Flag: "-t"},
			"rate_limit": {Flag: "-rate"},
			"timeout":    {Flag: "-timeout"},
			// -p takes fractional seconds ("0.1").
			"delay":            {Args: ffufDelayArgs},
			"proxy":            {Flag: "-x"},
			"header":           {Flag: "-H"},
			"user_agent":       {Args: func(v string) []string { return []string{"-H", "User-Agent: " + v} }},
			"wordlist":         {Flag: "-w"},
			"depth":            {Args: ffufDepthArgs},
			"follow_redirect":  {Flag: "-r"},
			"match_codes":      {Flag: "-mc"},
			"filter_codes":     {Flag: "-fc"},
			"extensions":       {Flag: "-e"},
			"method":           {Flag: "-X"},
			"data":             {Flag: "-d"},
			"auto_calibration": {Flag: "-ac"},
			"filter_size":      {Flag: "-fs"},
			"filter_words":     {Flag: "-fw"},
			"filter_lines":     {Flag: "-fl"},
			"filter_regex":     {Flag: "-fr"},
			"match_regex":      {Flag: "-mr"},
			"max_time":         {Flag: "-maxtime"},
		},
		Extra: []Option{
			{Name: "extensions", Kind: KindString, Help: "extensions appended to each word (e.g. .php,.bak)"},
			{Name: "method", Kind: KindString, Help: "HTTP method (default GET)"},
			{Name: "data", Kind: KindString, Help: "request body (may contain FUZZ)", Sensitive: true, NotFile: true},
			{Name: "auto_calibration", Kind: KindBool, Help: "filter responses that look like the site's not-found page"},
			{Name: "filter_size", Kind: KindString, Help: "drop responses of these sizes (e.g. 0,4242)"},
			{Name: "filter_words", Kind: KindString, Help: "drop responses with these word counts"},
			{Name: "filter_lines", Kind: KindString, Help: "drop responses with these line counts"},
			{Name: "filter_regex", Kind: KindString, NotFile: true, Help: "drop responses matching this regex"},
			{Name: "match_regex", Kind: KindString, NotFile: true, Help: "keep only responses matching this regex"},
			{Name: "max_time", Kind: KindDuration, Help: "stop the whole run after this long"},
		},
		Fixed:  []string{"-json", "-s", "-noninteractive"},
		Output: Output{Format: FormatJSONLines},
		Parse:  Parser{Line: parseFfufLine},
	}
}

// ffufTarget returns the URL to give ffuf for a target: the target itself
// when it holds the FUZZ keyword, otherwise the target with "/FUZZ" appended
// to its path (before any query or fragment), so that "http://h:8080" and
// "http://h:8080/" both become "http://h:8080/FUZZ" and "http://h/app?x=1"
// becomes "http://h/app/FUZZ?x=1".
func ffufTarget(u string) string {
	if strings.Contains(u, "FUZZ") {
		return u
	}
	base, tail := u, ""
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexAny(u[i+3:], "?#"); j >= 0 {
			base, tail = u[:i+3+j], u[i+3+j:]
		}
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + "FUZZ" + tail
}

// ffufDelayArgs renders a delay as ffuf's fractional seconds.
func ffufDelayArgs(v string) []string {
	d, err := parseDuration(v)
	if err != nil {
		return []string{"-p", v}
	}
	return []string{"-p", strconv.FormatFloat(d.Seconds(), 'f', -1, 64)}
}

// ffufDepthArgs turns the unified depth into recursion: depth 0 (or less)
// is no recursion.
func ffufDepthArgs(v string) []string {
	if n, err := strconv.Atoi(v); err != nil || n <= 0 {
		return nil
	}
	return []string{"-recursion", "-recursion-depth", v}
}

// ffufResult is one result, from a stdout line or from the report's
// "results" array.
type ffufResult struct {
	Input            map[string]string   `json:"input"`
	Position         int                 `json:"position"`
	Status           int                 `json:"status"`
	Length           int64               `json:"length"`
	Words            int                 `json:"words"`
	Lines            int                 `json:"lines"`
	ContentType      string              `json:"content-type"`
	RedirectLocation string              `json:"redirectlocation"`
	Scraper          map[string][]string `json:"scraper"`
	Duration         int64               `json:"duration"` // nanoseconds
	ResultFile       string              `json:"resultfile"`
	URL              string              `json:"url"`
	Host             string              `json:"host"`
}

// ffufLine is either a result (a stdout line) or a whole report file
// (commandline, time, results, config).
type ffufLine struct {
	ffufResult
	CommandLine string       `json:"commandline"`
	Results     []ffufResult `json:"results"`
	Config      *struct {
		Method string `json:"method"`
	} `json:"config"`
}

func parseFfufLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	var r ffufLine
	if err := decodeLine(line, &r); err != nil {
		return err
	}
	if r.Results != nil || r.CommandLine != "" || r.Config != nil {
		method := ""
		if r.Config != nil {
			method = r.Config.Method
		}
		n := 0
		for i := range r.Results {
			if ffufEmit(&r.Results[i], false, method, emit) {
				n++
			}
		}
		if n == 0 {
			return ErrSkip
		}
		return nil
	}
	if !ffufEmit(&r.ffufResult, true, "", emit) {
		return ErrSkip
	}
	return nil
}

// ffufEmit emits the url finding of one result; b64 says the input values
// are base64 (stdout) rather than plain (report file).
func ffufEmit(r *ffufResult, b64 bool, method string, emit finding.Emit) bool {
	if r.URL == "" {
		return false
	}
	u := &finding.URL{
		URL: r.URL, Method: method, StatusCode: r.Status, ContentType: r.ContentType,
		ContentLength: r.Length, Words: r.Words, Lines: r.Lines, Location: r.RedirectLocation,
		StoredResponsePath: r.ResultFile, TimeMS: float64(r.Duration) / 1e6,
	}
	if r.RedirectLocation != "" {
		// ffuf prints the Location header as sent ("/backup/"): resolve it.
		if base, err := url.Parse(r.URL); err == nil {
			if ref, err := url.Parse(r.RedirectLocation); err == nil {
				u.Location = base.ResolveReference(ref).String()
			}
		}
		// A redirect to the same path with a trailing slash: a directory.
		u.IsDirectory = strings.HasSuffix(u.Location, "/") && u.Location == strings.TrimSuffix(r.URL, "/")+"/"
	}
	extra := map[string]any{}
	input := map[string]string{}
	for k, v := range r.Input {
		if k == "FFUFHASH" {
			continue
		}
		input[k] = ffufInputValue(v, b64, r.URL)
	}
	if len(input) > 0 {
		extra["input"] = input
	}
	if r.Position > 0 {
		extra["position"] = r.Position
	}
	if len(r.Scraper) > 0 {
		extra["scraper"] = r.Scraper
	}
	if len(extra) > 0 {
		u.ExtraData = extra
	}
	emit(u)
	return true
}

// ffufInputValue decodes an input value. On stdout ffuf prints the bytes of
// each value as base64; a value that is not valid base64 of UTF-8 text is
// kept as it is, and so is one that appears in the URL while its decoding
// does not (a plain value that happens to be valid base64).
func ffufInputValue(v string, b64 bool, rawURL string) string {
	if !b64 {
		return v
	}
	dec, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !utf8.Valid(dec) {
		return v
	}
	s := string(dec)
	if rawURL != "" && !strings.Contains(rawURL, s) && strings.Contains(rawURL, v) {
		return v
	}
	return s
}
