package tool

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sortie-sec/sortie/internal/termsafe"
)

// Kind is the type of an option's value.
type Kind string

const (
	KindInt      Kind = "int"
	KindFloat    Kind = "float"
	KindString   Kind = "string"
	KindBool     Kind = "bool"
	KindDuration Kind = "duration"
	// KindList is a list of strings; on the command line it is given by
	// repeating the option.
	KindList Kind = "list"
)

// Option declares an option a user can set.
type Option struct {
	Name      string `yaml:"name"`
	Kind      Kind   `yaml:"kind"`
	Help      string `yaml:"help"`
	Default   string `yaml:"default,omitempty"`
	Sensitive bool   `yaml:"sensitive,omitempty"`
	// Path marks values that are files or directories: the CLI makes
	// relative ones absolute, since the tool runs in its task directory.
	Path bool `yaml:"path,omitempty"`
	// Allowed, when set, lists the only values the option accepts, matched
	// without regard to case; the tool gets the value as spelled here. For
	// options whose value the tool turns into behaviour (a scan type, a
	// subcommand). Defaults to any value of the option's kind.
	Allowed []string `yaml:"allowed,omitempty"`
	// NotFile declares that the option's values never name local files (a
	// regular expression, a request body): a worker does not refuse them
	// for naming an existing file (see Policy). Defaults to false.
	NotFile bool `yaml:"not_file,omitempty"`
	// fleet, when set, is the option's own check on a worker (NSE script
	// choices and arguments): see Policy.
	fleet func(p *Policy, v string) error
}

// Unified are the options every tool understands the same way, whatever its
// own flags are called.
var Unified = []Option{
	{Name: "threads", Kind: KindInt, Help: "concurrent workers inside the tool"},
	{Name: "rate_limit", Kind: KindInt, Help: "maximum requests per second"},
	{Name: "timeout", Kind: KindDuration, Help: "per-request timeout (e.g. 5s)"},
	{Name: "retries", Kind: KindInt, Help: "retries per request"},
	{Name: "delay", Kind: KindDuration, Help: "delay between requests (e.g. 100ms)"},
	{Name: "proxy", Kind: KindString, Help: "HTTP or SOCKS proxy URL", Sensitive: true},
	{Name: "header", Kind: KindList, Help: "extra HTTP header 'Name: value' (repeatable)", Sensitive: true},
	{Name: "user_agent", Kind: KindString, Help: "User-Agent header"},
	{Name: "ports", Kind: KindString, Help: "ports to scan (e.g. 80,443,8000-8100)"},
	{Name: "top_ports", Kind: KindInt, Help: "scan the N most common ports"},
	{Name: "wordlist", Kind: KindString, Help: "wordlist file", Path: true},
	{Name: "depth", Kind: KindInt, Help: "maximum crawl depth"},
	{Name: "follow_redirect", Kind: KindBool, Help: "follow HTTP redirects"},
	{Name: "match_codes", Kind: KindString, Help: "HTTP status codes to keep (e.g. 200,301)"},
	{Name: "filter_codes", Kind: KindString, Help: "HTTP status codes to drop (e.g. 404)"},
}

// UnifiedOption returns the unified option with that name.
func UnifiedOption(name string) (Option, bool) {
	for _, o := range Unified {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

// OptionSet lists the options a definition offers: the unified options it
// maps, then its own, in declaration order.
func (d *Definition) OptionSet() []Option {
	var out []Option
	for _, o := range Unified {
		if _, ok := d.Options[o.Name]; ok {
			out = append(out, o)
		}
	}
	return append(out, d.Extra...)
}

// Option returns the option named name, if the tool offers it.
func (d *Definition) Option(name string) (Option, bool) {
	for _, o := range d.OptionSet() {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

// CheckValue validates a value for an option of this kind.
func (o Option) CheckValue(v string) error {
	// Control and invisible format characters ("\u200b-v" shows as "-v"):
	// C0, DEL, C1, Unicode Cf, U+2028 and U+2029.
	for _, r := range v {
		if termsafe.Escaped(r) {
			return fmt.Errorf("option %s: value contains the control or invisible character %s", o.Name, termsafe.Name(r))
		}
	}
	switch o.Kind {
	case KindInt:
		if n, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("option %s: %q is not a whole number", o.Name, v)
		} else if n < 0 {
			return fmt.Errorf("option %s: %d is negative", o.Name, n)
		}
	case KindFloat:
		if n, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("option %s: %q is not a number", o.Name, v)
		} else if n < 0 {
			return fmt.Errorf("option %s: %q is negative", o.Name, v)
		}
	case KindBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("option %s: %q is not true or false", o.Name, v)
		}
	case KindDuration:
		if _, err := parseDuration(v); err != nil {
			return fmt.Errorf("option %s: %q is not a duration (try 5s or 500ms)", o.Name, v)
		}
	}
	if strings.HasPrefix(v, "-") {
		return fmt.Errorf("option %s: a value starting with \"-\" could be read as a flag", o.Name)
	}
	return o.checkAllowed(v)
}

// maxDuration bounds option durations: far beyond any useful value, and
// far from overflowing when converted to seconds or milliseconds.
const maxDuration = 365 * 24 * time.Hour

// parseDuration accepts Go durations and bare numbers of seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || math.IsNaN(n) || n > maxDuration.Seconds() {
			return 0, fmt.Errorf("duration out of range")
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err == nil && (d < 0 || d > maxDuration) {
		return 0, fmt.Errorf("duration out of range")
	}
	return d, err
}

// args renders one option value with its flag mapping.
func (f Flag) args(o Option, values []string) []string {
	if f.Args != nil && o.Kind != KindList {
		return f.Args(values[len(values)-1]) // the last value wins, as for plain flags
	}
	if f.Args != nil {
		var out []string
		for _, v := range values {
			out = append(out, f.Args(v)...)
		}
		return out
	}
	switch o.Kind {
	case KindBool:
		if b, _ := strconv.ParseBool(values[len(values)-1]); b {
			return []string{f.Flag}
		}
		return nil
	case KindDuration:
		d, _ := parseDuration(values[len(values)-1])
		return []string{f.Flag, formatDuration(d, f.Unit)}
	case KindList:
		if f.Join != "" {
			return []string{f.Flag, strings.Join(values, f.Join)}
		}
		var out []string
		for _, v := range values {
			out = append(out, f.Flag, v)
		}
		return out
	}
	return []string{f.Flag, values[len(values)-1]}
}

func formatDuration(d time.Duration, unit string) string {
	switch unit {
	case "ms":
		return strconv.FormatInt(d.Milliseconds(), 10)
	case "go":
		return d.String()
	}
	s := int64(d.Round(time.Second) / time.Second)
	if s == 0 && d > 0 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
