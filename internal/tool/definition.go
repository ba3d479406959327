// Package tool holds sortie's tool definitions: how to install a tool, how to
// pass it targets and options, which flags it always gets, and how its output
// becomes findings. Built-in tools have one file each; users add their own in
// YAML (see custom.go). Running a tool is the task package's job; this
// package only describes and parses.
package tool

import (
	"strings"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// InputMode says how a tool receives its targets.
type InputMode string

const (
	// InputArg passes each target as a positional argument.
	InputArg InputMode = "arg"
	// InputFlag passes each target after Input.Flag ("-u T"); a tool that
	// takes one target per run sets Definition.SingleTarget.
	InputFlag InputMode = "flag"
	// InputFile writes the targets, one per line, to a file in the task
	// directory and passes its path after Input.Flag.
	InputFile InputMode = "file"
	// InputStdin writes the targets, one per line, to the tool's stdin.
	InputStdin InputMode = "stdin"
)

// Input describes how targets reach the tool.
type Input struct {
	Mode InputMode `yaml:"mode"`
	Flag string    `yaml:"flag,omitempty"`
}

// Format says how a tool's output is read.
type Format string

const (
	// FormatJSONLines: one JSON object per line.
	FormatJSONLines Format = "jsonl"
	// FormatJSON: one JSON document.
	FormatJSON Format = "json"
	// FormatXML: one XML document.
	FormatXML Format = "xml"
	// FormatLines: plain text, one result per line.
	FormatLines Format = "lines"
	// FormatRegex: plain text lines matched by a regular expression
	// (custom tools).
	FormatRegex Format = "regex"
	// FormatText: free text read as a whole (whois).
	FormatText Format = "text"
)

// Output describes where the tool writes its results and in which format.
type Output struct {
	Format Format `yaml:"format"`
	// File, when set, is the argv that makes the tool write its results to a
	// file; "{file}" is replaced by a path in the task directory. The file is
	// parsed once the tool has exited (even when it was stopped early).
	// Otherwise results are read from stdout.
	File []string `yaml:"file,omitempty"`
}

// Install is a pinned install recipe. Exactly one of Go and Apt is set.
type Install struct {
	Go  *GoInstall `yaml:"go,omitempty"`
	Apt []string   `yaml:"apt,omitempty"`
}

// GoInstall builds a Go tool from its module at an exact version: the module
// is downloaded (go mod download), then Package is built inside it with the
// module's own go.mod and go.sum.
type GoInstall struct {
	Module  string   `yaml:"module"`
	Version string   `yaml:"version"`
	Package string   `yaml:"package"`
	LDFlags string   `yaml:"ldflags,omitempty"`
	Env     []string `yaml:"env,omitempty"`
	// AptDeps are Debian packages the build needs (libpcap-dev for naabu).
	AptDeps []string `yaml:"apt_deps,omitempty"`
}

// VersionCommand says how to ask the installed tool its version.
type VersionCommand struct {
	Args []string `yaml:"args"`
	// Regex extracts the version from the combined output; its first group
	// is the version.
	Regex string `yaml:"regex"`
}

// Definition declares one tool.
type Definition struct {
	Name        string
	Description string
	Binary      string
	Install     Install
	Version     VersionCommand
	// Inputs are the target types the tool accepts; other targets are
	// skipped with a warning.
	Inputs []target.Type
	Input  Input
	// SingleTarget: the tool takes one target per run; sortie runs it once
	// per target, one after the other.
	SingleTarget bool
	// ChunkSize is the number of targets per chunk when a run splits the
	// tool's targets ("sortie x --chunk-size" overrides it). Defaults to
	// all targets in one chunk.
	ChunkSize int
	// TargetArg, when set, rewrites each target just before it goes on the
	// command line, in the input file or on stdin (ffuf appends "/FUZZ" to
	// a URL without the keyword). Parsers still see the targets as given.
	TargetArg func(target string) string
	// Options maps unified and tool-specific option names to the tool's
	// flags. Unified options the tool does not map are not offered for it.
	Options map[string]Flag
	// Extra declares the tool-specific options (their names are keys of
	// Options too).
	Extra []Option
	// Fixed flags are always added: machine output, no update checks, no
	// colour, offline.
	Fixed  []string
	Output Output
	Parse  Parser
	// OKExitCodes are non-zero exit codes that are normal for the tool
	// (ssh-audit exits 3 when it has warnings).
	OKExitCodes []int
	// Sensitive lists option names whose values are redacted in displayed
	// commands, in addition to those marked sensitive in the option itself.
	Sensitive []string
}

// Flag maps an option value onto the tool's command line.
type Flag struct {
	// Flag is the tool's flag ("-rl"). For a bool option the flag is added
	// alone when the value is true.
	Flag string
	// Unit converts a duration option: "s" (whole seconds, the default),
	// "ms", or "go" (Go duration syntax: "5s").
	Unit string
	// Join, for a list option, joins the values with this separator after a
	// single flag; empty repeats the flag for every value.
	Join string
	// Args, when set, builds the arguments itself (values a plain flag cannot
	// express, like nmap's "-T4").
	Args func(value string) []string
}

// ParseContext tells a parser what it is parsing.
type ParseContext struct {
	// Targets given to this run of the tool (after filtering).
	Targets []string
}

// Parser turns tool output into findings. Line parsers get every complete
// stdout line as it arrives; document parsers get the whole output (the
// output file, or stdout when the tool writes one document there). A line
// parser returns an error for a line it cannot read: the line is counted and
// skipped. A document parser emits what it could read before returning its
// error.
type Parser struct {
	Line     func(pc *ParseContext, line []byte, emit finding.Emit) error
	Document func(pc *ParseContext, data []byte, emit finding.Emit) error
}

// ErrSkip is returned by a line parser for lines that are valid but carry no
// finding (banners, blank lines): they are not counted as garbage.
var ErrSkip = errSkip{}

type errSkip struct{}

func (errSkip) Error() string { return "line skipped" }

// Accepts reports whether the tool takes targets of type t.
func (d *Definition) Accepts(t target.Type) bool {
	for _, in := range d.Inputs {
		if in == t {
			return true
		}
	}
	return false
}

// InputList names the accepted target types: "url, host, ip".
func (d *Definition) InputList() string {
	s := make([]string, len(d.Inputs))
	for i, t := range d.Inputs {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// OKExit reports whether an exit code is a normal end for the tool.
func (d *Definition) OKExit(code int) bool {
	if code == 0 {
		return true
	}
	for _, c := range d.OKExitCodes {
		if c == code {
			return true
		}
	}
	return false
}
