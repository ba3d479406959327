package tool

// Custom tools: a user adds a tool by dropping a YAML file in the tools
// directory ($XDG_CONFIG_HOME/sortie/tools, or --tools-dir). The file is
// compiled into an ordinary *Definition: option flags, fixed flags, and a line
// parser built from the declared output format and finding mappings. Custom
// tools never get Go code. The format is documented in docs/custom-tools.md.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/target"
)

// maxDefinitionSize bounds a custom tool file.
const maxDefinitionSize = 1 << 20

// DefinitionError is one problem in a custom tool file, with its position.
// Loading reports every problem of a file at once, as DefinitionErrors joined
// with errors.Join; use errors.As to get the first one.
type DefinitionError struct {
	// File is the path (or name) of the file.
	File string
	// Line and Column are 1-based; 0 when the problem has no position.
	Line, Column int
	Msg          string
}

func (e *DefinitionError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// LoadDir loads every *.yaml and *.yml file in dir (one tool per file, files
// whose name starts with "." are ignored) and adds the tools to r. A file
// that does not load (a syntax error, a bad definition, a name that is a
// built-in tool's or another file's) disables that tool only: it is recorded
// in r.Broken with every problem of the file, positioned, and the other
// files' tools are added. LoadDir returns an error only when dir cannot be
// read.
func LoadDir(r *Registry, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read tools directory: %w", err)
	}
	builtin := map[string]bool{}
	for _, d := range builtins() {
		builtin[d.Name] = true
	}
	seen := map[string]string{}
	for _, e := range entries {
		base := e.Name()
		ext := filepath.Ext(base)
		if strings.HasPrefix(base, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, base)
		broken := func(name string, err error) {
			if name == "" {
				name = strings.TrimSuffix(base, ext)
			}
			r.broken = append(r.broken, BrokenTool{Name: name, File: path, Err: err})
		}
		if st, err := os.Stat(path); err != nil {
			broken("", err)
			continue
		} else if st.IsDir() {
			continue
		}
		d, pos, err := loadFile(path)
		if err != nil {
			broken(nameInFile(path), err)
			continue
		}
		clash := func(msg string) {
			broken(d.Name, &DefinitionError{File: path, Line: pos.Line, Column: pos.Column, Msg: msg})
		}
		if first, ok := seen[d.Name]; ok {
			clash(fmt.Sprintf("tool %q is already defined in %s", d.Name, first))
			continue
		}
		if builtin[d.Name] {
			clash(fmt.Sprintf("tool name %q clashes with the built-in tool %s; choose another name", d.Name, d.Name))
			continue
		}
		if old, ok := r.Lookup(d.Name); ok {
			clash(fmt.Sprintf("tool %q is already defined (binary %s); choose another name", d.Name, old.Binary))
			continue
		}
		seen[d.Name] = path
		r.byName[d.Name] = d
	}
	return nil
}

// nameInFile is the top-level "name" of a definition that does not load,
// when the file says it: "sortie x NAME" then tells why NAME is disabled.
func nameInFile(path string) (name string) {
	defer func() {
		if recover() != nil {
			name = ""
		}
	}()
	data, err := os.ReadFile(path)
	if err != nil || len(data) > maxDefinitionSize {
		return ""
	}
	var doc struct {
		Name string `yaml:"name"`
	}
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Name) > 64 || !toolNameRE.MatchString(doc.Name) {
		return ""
	}
	return doc.Name
}

// LoadFile loads the custom tool defined in the YAML file at path. Problems
// in the definition are *DefinitionErrors positioned with path; a file that
// cannot be read returns the os error.
func LoadFile(path string) (*Definition, error) {
	d, _, err := loadFile(path)
	return d, err
}

// filePos is where the tool's name is written, for registry clashes.
type filePos struct{ Line, Column int }

func loadFile(path string) (*Definition, filePos, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, filePos{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, filePos{}, err
	}
	if !st.Mode().IsRegular() {
		return nil, filePos{}, &DefinitionError{File: path, Msg: "not a regular file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDefinitionSize+1))
	if err != nil {
		return nil, filePos{}, fmt.Errorf("read %s: %w", path, err)
	}
	return parseDefinition(path, data)
}

// ParseDefinition compiles the YAML definition of a custom tool. file names
// the source in error messages ("mytool.yaml:12:5: ...").
func ParseDefinition(file string, data []byte) (*Definition, error) {
	d, _, err := parseDefinition(file, data)
	return d, err
}

func parseDefinition(file string, data []byte) (*Definition, filePos, error) {
	if len(data) > maxDefinitionSize {
		return nil, filePos{}, &DefinitionError{File: file, Msg: fmt.Sprintf("file is larger than %d bytes", maxDefinitionSize)}
	}
	root, err := decodeYAML(file, data)
	if err != nil {
		return nil, filePos{}, err
	}
	l := &customLoader{file: file}
	d := l.definition(root)
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i], l.errs[j]
			return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
		})
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, filePos{}, errors.Join(errs...)
	}
	return d, l.namePos, nil
}

// decodeYAML returns the root node of the single document in data.
func decodeYAML(file string, data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &DefinitionError{File: file, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			return nil, yamlError(file, err)
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isYAMLNull(doc.Content[0]) {
			continue // an empty document: "---" alone, or only comments
		}
		if root != nil {
			return nil, &DefinitionError{File: file, Line: doc.Line, Column: doc.Column,
				Msg: "only one tool per file (found a second YAML document)"}
		}
		root = doc.Content[0]
	}
	if root == nil {
		return nil, &DefinitionError{File: file, Msg: "empty file: no tool definition"}
	}
	return root, nil
}

func isYAMLNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError positions a yaml.v3 syntax error ("yaml: line 3: ...").
func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &DefinitionError{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &DefinitionError{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// customLoader walks the YAML tree of one file, collecting every problem.
type customLoader struct {
	file    string
	errs    []*DefinitionError
	namePos filePos
}

func (l *customLoader) errorf(n *yaml.Node, format string, args ...any) {
	e := &DefinitionError{File: l.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
}

// yamlEntry is one key of a mapping.
type yamlEntry struct{ key, value *yaml.Node }

// mapping checks that n is a mapping whose keys are all in known, and returns
// its entries by key. what names the mapping in messages ("" for the root).
// It returns nil when n is not a mapping.
func (l *customLoader) mapping(n *yaml.Node, what string, known []string) map[string]yamlEntry {
	if !l.kind(n, yaml.MappingNode, what) {
		return nil
	}
	out := map[string]yamlEntry{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, "%s: keys must be plain strings", orDefinition(what))
			continue
		}
		if first, ok := out[k.Value]; ok {
			l.errorf(k, "duplicate key %q (first at line %d)", k.Value, first.key.Line)
			continue
		}
		if known != nil && !slices.Contains(known, k.Value) {
			in := ""
			if what != "" {
				in = " in " + what
			}
			if s := closestName(k.Value, known); s != "" {
				l.errorf(k, "unknown key %q%s (did you mean %s?)", k.Value, in, s)
			} else {
				l.errorf(k, "unknown key %q%s (valid keys: %s)", k.Value, in, strings.Join(known, ", "))
			}
			continue
		}
		out[k.Value] = yamlEntry{k, v}
	}
	return out
}

func orDefinition(what string) string {
	if what == "" {
		return "definition"
	}
	return what
}

// require reports the keys of want missing from m, positioned at n.
func (l *customLoader) require(n *yaml.Node, m map[string]yamlEntry, what string, want ...string) {
	for _, k := range want {
		if _, ok := m[k]; !ok {
			if what == "" {
				l.errorf(n, "missing required key %q", k)
			} else {
				l.errorf(n, "%s: missing required key %q", what, k)
			}
		}
	}
}

// kind checks a node's kind; aliases are refused (they would let a small
// file expand into a huge definition).
func (l *customLoader) kind(n *yaml.Node, want yaml.Kind, what string) bool {
	if n.Kind == yaml.AliasNode {
		l.errorf(n, "%s: YAML aliases are not supported", orDefinition(what))
		return false
	}
	if n.Kind == want {
		return true
	}
	l.errorf(n, "%s: want %s, got %s", orDefinition(what), yamlKindName(want, ""), yamlKindName(n.Kind, n.ShortTag()))
	return false
}

func yamlKindName(k yaml.Kind, tag string) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag {
		case "!!null":
			return "nothing"
		case "", "!!str":
			return "a string"
		}
		return "a value"
	}
	return "something else"
}

// str reads a scalar as a string; null reads as "".
func (l *customLoader) str(n *yaml.Node, what string) (string, bool) {
	if !l.kind(n, yaml.ScalarNode, what) {
		return "", false
	}
	if n.ShortTag() == "!!null" {
		return "", true
	}
	return n.Value, true
}

func (l *customLoader) boolean(n *yaml.Node, what string) (bool, bool) {
	if !l.kind(n, yaml.ScalarNode, what) {
		return false, false
	}
	var b bool
	if n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		l.errorf(n, "%s: want true or false, got %q", what, n.Value)
		return false, false
	}
	return b, true
}

// list returns the items of a sequence; null reads as an empty list.
func (l *customLoader) list(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, true
	}
	if !l.kind(n, yaml.SequenceNode, what) {
		return nil, false
	}
	return n.Content, true
}

// argv reads a sequence of strings that become argv elements, with the
// node of each.
func (l *customLoader) argv(n *yaml.Node, what string) ([]string, []*yaml.Node) {
	items, _ := l.list(n, what)
	var (
		out   []string
		nodes []*yaml.Node
	)
	for i, it := range items {
		s, ok := l.str(it, fmt.Sprintf("%s[%d]", what, i))
		if !ok {
			continue
		}
		if strings.ContainsRune(s, 0) {
			l.errorf(it, "%s[%d]: contains a NUL byte", what, i)
			continue
		}
		out = append(out, s)
		nodes = append(nodes, it)
	}
	return out, nodes
}

var (
	toolNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	optionNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	aptNameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	goVersionRE  = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
	envRE        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
)

var customTopKeys = []string{"name", "description", "binary", "inputs", "input", "single_target", "chunk_size", "fixed",
	"options", "extra_options", "output", "findings", "ok_exit_codes", "version", "install"}

// definition compiles the root mapping.
func (l *customLoader) definition(root *yaml.Node) *Definition {
	if root.Kind != yaml.MappingNode && root.Kind != yaml.AliasNode {
		l.errorf(root, "a tool definition is a mapping (name: ..., binary: ...), got %s", yamlKindName(root.Kind, root.ShortTag()))
		return nil
	}
	m := l.mapping(root, "", customTopKeys)
	if m == nil {
		return nil
	}
	l.require(root, m, "", "name", "binary", "inputs", "output", "findings")
	d := &Definition{Input: Input{Mode: InputArg}, Options: map[string]Flag{}}
	if e, ok := m["name"]; ok {
		l.namePos = filePos{e.value.Line, e.value.Column}
		if s, ok := l.str(e.value, "name"); ok {
			switch {
			case s == "":
				l.errorf(e.value, "name is empty")
			case len(s) > 64 || !toolNameRE.MatchString(s):
				l.errorf(e.value, "invalid name %q: use lower-case letters, digits, \"_\" and \"-\", starting with a letter or digit (at most 64)", s)
			default:
				d.Name = s
			}
		}
	}
	if e, ok := m["description"]; ok {
		d.Description, _ = l.str(e.value, "description")
	}
	if e, ok := m["binary"]; ok {
		if s, ok := l.str(e.value, "binary"); ok {
			switch {
			case s == "":
				l.errorf(e.value, "binary is empty")
			case strings.HasPrefix(s, "-"):
				l.errorf(e.value, "binary %q starts with \"-\"", s)
			case strings.ContainsFunc(s, isControlRune):
				l.errorf(e.value, "binary %q contains control characters", s)
			case strings.Contains(s, "/") && !filepath.IsAbs(s):
				l.errorf(e.value, "binary %q must be a name on PATH or an absolute path", s)
			default:
				d.Binary = s
			}
		}
	}
	if e, ok := m["inputs"]; ok {
		d.Inputs = l.inputs(e.value)
	}
	if e, ok := m["input"]; ok {
		d.Input = l.input(e.value)
	}
	if e, ok := m["single_target"]; ok {
		d.SingleTarget, _ = l.boolean(e.value, "single_target")
	}
	if e, ok := m["chunk_size"]; ok {
		if s, ok := l.str(e.value, "chunk_size"); ok {
			if n, err := strconv.Atoi(s); err != nil || n < 1 {
				l.errorf(e.value, "chunk_size %q: want a whole number of targets, 1 or more", s)
			} else {
				d.ChunkSize = n
			}
		}
	}
	if e, ok := m["fixed"]; ok {
		var nodes []*yaml.Node
		d.Fixed, nodes = l.argv(e.value, "fixed")
		for i, a := range d.Fixed {
			if strings.Contains(a, "{file}") {
				l.errorf(nodes[i], "fixed: \"{file}\" is only replaced in output.file")
			}
		}
	}
	if e, ok := m["options"]; ok {
		l.unifiedOptions(e.value, d)
	}
	if e, ok := m["extra_options"]; ok {
		l.extraOptions(e.value, d)
	}
	var out *customOutput
	if e, ok := m["output"]; ok {
		out = l.output(e.value)
		if out != nil {
			d.Output = Output{Format: out.format, File: out.file}
		}
	}
	if e, ok := m["findings"]; ok {
		if p := l.findings(e.value, out); p != nil {
			d.Parse = Parser{Line: p.parseLine}
		}
	}
	if e, ok := m["ok_exit_codes"]; ok {
		d.OKExitCodes = l.exitCodes(e.value)
	}
	if e, ok := m["version"]; ok {
		d.Version = l.version(e.value)
	}
	if e, ok := m["install"]; ok {
		d.Install = l.install(e.value)
	}
	return d
}

func isControlRune(r rune) bool { return r < 0x20 || r == 0x7f }

func (l *customLoader) inputs(n *yaml.Node) []target.Type {
	items, ok := l.list(n, "inputs")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		l.errorf(n, "inputs is empty: list the target types the tool accepts")
		return nil
	}
	valid := target.Types()
	names := make([]string, len(valid))
	for i, t := range valid {
		names[i] = string(t)
	}
	var out []target.Type
	for i, it := range items {
		s, ok := l.str(it, fmt.Sprintf("inputs[%d]", i))
		if !ok {
			continue
		}
		t := target.Type(s)
		switch {
		case !slices.Contains(valid, t):
			l.errorf(it, "unknown input type %q%s", s, didYouMean(s, names, "valid: "+strings.Join(names, ", ")))
		case slices.Contains(out, t):
			l.errorf(it, "duplicate input type %q", s)
		default:
			out = append(out, t)
		}
	}
	return out
}

// didYouMean returns " (did you mean X?)" when a candidate is close to s, or
// " (fallback)" otherwise (nothing when fallback is empty).
func didYouMean(s string, candidates []string, fallback string) string {
	if best := closestName(s, candidates); best != "" {
		return " (did you mean " + best + "?)"
	}
	if fallback != "" {
		return " (" + fallback + ")"
	}
	return ""
}

func (l *customLoader) input(n *yaml.Node) Input {
	m := l.mapping(n, "input", []string{"mode", "flag"})
	if m == nil {
		return Input{Mode: InputArg}
	}
	l.require(n, m, "input", "mode")
	var in Input
	if e, ok := m["mode"]; ok {
		if s, ok := l.str(e.value, "input.mode"); ok {
			modes := []string{"arg", "flag", "file", "stdin"}
			if slices.Contains(modes, s) {
				in.Mode = InputMode(s)
			} else {
				l.errorf(e.value, "invalid input mode %q%s", s, didYouMean(s, modes, "want arg, flag, file or stdin"))
			}
		}
	}
	if e, ok := m["flag"]; ok {
		if s, ok := l.str(e.value, "input.flag"); ok {
			in.Flag = s
			if in.Mode == InputArg || in.Mode == InputStdin {
				l.errorf(e.key, "input.flag is only used with mode flag or file")
			}
			if strings.ContainsRune(s, 0) {
				l.errorf(e.value, "input.flag contains a NUL byte")
			}
		}
	}
	if (in.Mode == InputFlag || in.Mode == InputFile) && in.Flag == "" {
		l.errorf(n, "input mode %s needs a flag", in.Mode)
	}
	return in
}

// flagSpec reads an option's flag mapping from m (keys flag, unit, join);
// a missing flag key is reported by the caller.
func (l *customLoader) flagSpec(m map[string]yamlEntry, o Option, what string) Flag {
	var f Flag
	if e, ok := m["flag"]; ok {
		f.Flag, _ = l.str(e.value, what+".flag")
		switch {
		case f.Flag == "":
			l.errorf(e.value, "%s: flag is empty", what)
		case strings.ContainsRune(f.Flag, 0):
			l.errorf(e.value, "%s: flag contains a NUL byte", what)
		}
	}
	if e, ok := m["unit"]; ok {
		if s, ok := l.str(e.value, what+".unit"); ok {
			switch {
			case o.Kind != KindDuration:
				l.errorf(e.key, "%s: unit applies only to duration options", what)
			case s != "s" && s != "ms" && s != "go":
				l.errorf(e.value, "invalid unit %q for option %s (want s, ms or go)", s, o.Name)
			default:
				f.Unit = s
			}
		}
	}
	if e, ok := m["join"]; ok {
		if s, ok := l.str(e.value, what+".join"); ok {
			if o.Kind != KindList {
				l.errorf(e.key, "%s: join applies only to list options", what)
			} else {
				f.Join = s
			}
		}
	}
	return f
}

func (l *customLoader) unifiedOptions(n *yaml.Node, d *Definition) {
	m := l.mapping(n, "options", nil)
	names := make([]string, len(Unified))
	for i, o := range Unified {
		names[i] = o.Name
	}
	for _, k := range entriesInOrder(m) {
		o, ok := UnifiedOption(k.key.Value)
		if !ok {
			l.errorf(k.key, "unknown unified option %q%s", k.key.Value,
				didYouMean(k.key.Value, names, "declare tool-specific options under extra_options"))
			continue
		}
		what := "options." + o.Name
		if k.value.Kind == yaml.ScalarNode { // shorthand: "threads: -t"
			d.Options[o.Name] = l.flagSpec(map[string]yamlEntry{"flag": k}, o, what)
			continue
		}
		m := l.mapping(k.value, what, []string{"flag", "unit", "join"})
		if m == nil {
			continue
		}
		l.require(k.value, m, what, "flag")
		d.Options[o.Name] = l.flagSpec(m, o, what)
	}
}

// entriesInOrder returns a mapping's entries in file order.
func entriesInOrder(m map[string]yamlEntry) []yamlEntry {
	out := make([]yamlEntry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].key, out[j].key
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	return out
}

// reservedOptionNames are sortie's own flags on "sortie x TOOL": a tool
// option with one of these names could not be given on the command line.
var reservedOptionNames = []string{"help", "input", "out", "task-timeout", "memory-limit", "stop-grace", "json", "quiet", "tools-dir", "version",
	"config", "server", "server-token", "creds", "nkey", "tls-ca", "tls-cert", "tls-key", "detach", "chunk-size", "pool", "concurrency"}

var optionKinds = []string{"string", "int", "float", "bool", "duration", "list"}

func (l *customLoader) extraOptions(n *yaml.Node, d *Definition) {
	items, _ := l.list(n, "extra_options")
	for i, it := range items {
		what := fmt.Sprintf("extra_options[%d]", i)
		m := l.mapping(it, what, []string{"name", "kind", "flag", "unit", "join", "help", "default", "sensitive", "path", "allowed", "not_file"})
		if m == nil {
			continue
		}
		l.require(it, m, what, "name", "flag")
		o := Option{Kind: KindString}
		if e, ok := m["kind"]; ok {
			if s, ok := l.str(e.value, what+".kind"); ok {
				if slices.Contains(optionKinds, s) {
					o.Kind = Kind(s)
				} else {
					l.errorf(e.value, "invalid option kind %q%s", s, didYouMean(s, optionKinds, "want "+strings.Join(optionKinds, ", ")))
				}
			}
		}
		e, ok := m["name"]
		if !ok {
			continue
		}
		name, ok := l.str(e.value, what+".name")
		if !ok {
			continue
		}
		switch _, unified := UnifiedOption(name); {
		case !optionNameRE.MatchString(name) || len(name) > 64:
			l.errorf(e.value, "invalid option name %q: use lower-case letters, digits, \"_\" and \"-\", starting with a letter", name)
			continue
		case unified:
			l.errorf(e.value, "extra option %q is a unified option: map it under options", name)
			continue
		case slices.Contains(reservedOptionNames, strings.ReplaceAll(name, "_", "-")):
			l.errorf(e.value, "extra option %q clashes with sortie's own flag --%s; choose another name", name, strings.ReplaceAll(name, "_", "-"))
			continue
		case slices.ContainsFunc(d.Extra, func(x Option) bool { return x.Name == name }):
			l.errorf(e.value, "duplicate extra option %q", name)
			continue
		}
		o.Name = name
		if e, ok := m["help"]; ok {
			o.Help, _ = l.str(e.value, what+".help")
		}
		if e, ok := m["sensitive"]; ok {
			o.Sensitive, _ = l.boolean(e.value, what+".sensitive")
		}
		if e, ok := m["path"]; ok {
			o.Path, _ = l.boolean(e.value, what+".path")
		}
		if e, ok := m["not_file"]; ok {
			o.NotFile, _ = l.boolean(e.value, what+".not_file")
		}
		if e, ok := m["allowed"]; ok {
			o.Allowed = l.allowed(e.value, o, what+".allowed")
		}
		if e, ok := m["default"]; ok {
			if s, ok := l.str(e.value, what+".default"); ok && s != "" {
				if err := o.CheckValue(s); err != nil {
					l.errorf(e.value, "invalid default: %v", err)
				} else {
					o.Default = s
				}
			}
		}
		d.Options[name] = l.flagSpec(m, o, what)
		d.Extra = append(d.Extra, o)
	}
}

// allowed reads an option's allow-list: values valid for its kind.
func (l *customLoader) allowed(n *yaml.Node, o Option, what string) []string {
	items, ok := l.list(n, what)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		l.errorf(n, "%s: an empty list would allow no value; leave it out to allow any", what)
		return nil
	}
	var out []string
	for i, it := range items {
		v, ok := l.str(it, fmt.Sprintf("%s[%d]", what, i))
		if !ok {
			continue
		}
		if err := o.CheckValue(v); err != nil {
			l.errorf(it, "%s[%d]: %v", what, i, err)
			continue
		}
		out = append(out, v)
	}
	return out
}

// customOutput is the compiled output section.
type customOutput struct {
	format Format
	file   []string
	regex  *regexp.Regexp
	groups []string // named groups of regex
}

func (l *customLoader) output(n *yaml.Node) *customOutput {
	m := l.mapping(n, "output", []string{"format", "file", "regex"})
	if m == nil {
		return nil
	}
	l.require(n, m, "output", "format")
	out := &customOutput{}
	if e, ok := m["format"]; ok {
		if s, ok := l.str(e.value, "output.format"); ok {
			formats := []string{"jsonl", "regex", "lines"}
			switch {
			case slices.Contains(formats, s):
				out.format = Format(s)
			case s == "json" || s == "xml" || s == "text":
				l.errorf(e.value, "output format %q is not supported for custom tools (want jsonl, regex or lines)", s)
			default:
				l.errorf(e.value, "invalid output format %q%s", s, didYouMean(s, formats, "want jsonl, regex or lines"))
			}
		}
	}
	if e, ok := m["file"]; ok {
		out.file, _ = l.argv(e.value, "output.file")
		if len(out.file) == 0 {
			l.errorf(e.value, "output.file is empty")
		} else if !slices.ContainsFunc(out.file, func(a string) bool { return strings.Contains(a, "{file}") }) {
			l.errorf(e.value, "output.file must contain \"{file}\" where the tool gets the output path")
		}
	}
	e, hasRegex := m["regex"]
	switch {
	case out.format == FormatRegex && !hasRegex:
		l.errorf(n, "output: format regex needs a regex")
	case hasRegex && out.format != FormatRegex && out.format != "":
		l.errorf(e.key, "output.regex is only used with format regex")
	case hasRegex:
		s, ok := l.str(e.value, "output.regex")
		if !ok {
			break
		}
		re, err := regexp.Compile(s)
		if err != nil {
			l.errorf(e.value, "invalid output regex: %v", err)
			return nil
		}
		for _, g := range re.SubexpNames() {
			if g != "" && !slices.Contains(out.groups, g) {
				out.groups = append(out.groups, g)
			}
		}
		if len(out.groups) == 0 {
			l.errorf(e.value, "output regex has no named groups: name what you capture, as in (?P<url>\\S+)")
			return nil
		}
		out.regex = re
	}
	if out.format == "" || out.format == FormatRegex && out.regex == nil {
		return nil
	}
	return out
}

func (l *customLoader) exitCodes(n *yaml.Node) []int {
	items, _ := l.list(n, "ok_exit_codes")
	var out []int
	for i, it := range items {
		if !l.kind(it, yaml.ScalarNode, fmt.Sprintf("ok_exit_codes[%d]", i)) {
			continue
		}
		var c int
		if it.ShortTag() != "!!int" || it.Decode(&c) != nil || c < 1 || c > 255 {
			l.errorf(it, "ok_exit_codes: %q is not an exit code (1 to 255)", it.Value)
			continue
		}
		out = append(out, c)
	}
	return out
}

func (l *customLoader) version(n *yaml.Node) VersionCommand {
	var v VersionCommand
	m := l.mapping(n, "version", []string{"args", "regex"})
	if m == nil {
		return v
	}
	l.require(n, m, "version", "args", "regex")
	if e, ok := m["args"]; ok {
		v.Args, _ = l.argv(e.value, "version.args")
	}
	if e, ok := m["regex"]; ok {
		if s, ok := l.str(e.value, "version.regex"); ok {
			re, err := regexp.Compile(s)
			switch {
			case err != nil:
				l.errorf(e.value, "invalid version regex: %v", err)
			case re.NumSubexp() == 0:
				l.errorf(e.value, "version regex needs a group around the version, as in v([0-9.]+)")
			default:
				v.Regex = s
			}
		}
	}
	return v
}

func (l *customLoader) install(n *yaml.Node) Install {
	var in Install
	m := l.mapping(n, "install", []string{"go", "apt"})
	if m == nil {
		return in
	}
	_, hasGo := m["go"]
	_, hasApt := m["apt"]
	if hasGo == hasApt {
		l.errorf(n, "install needs exactly one of go or apt")
	}
	if e, ok := m["apt"]; ok {
		pkgs, nodes := l.argv(e.value, "install.apt")
		for i, p := range pkgs {
			if !aptNameRE.MatchString(p) {
				l.errorf(nodes[i], "install.apt: invalid Debian package name %q", p)
				continue
			}
			in.Apt = append(in.Apt, p)
		}
		if len(nodes) == 0 && len(e.value.Content) == 0 {
			l.errorf(e.value, "install.apt is empty")
		}
	}
	if e, ok := m["go"]; ok {
		in.Go = l.goInstall(e.value)
	}
	return in
}

func (l *customLoader) goInstall(n *yaml.Node) *GoInstall {
	m := l.mapping(n, "install.go", []string{"module", "version", "package", "ldflags", "env", "apt_deps"})
	if m == nil {
		return nil
	}
	l.require(n, m, "install.go", "module", "version")
	g := &GoInstall{Package: "."}
	if e, ok := m["module"]; ok {
		if s, ok := l.str(e.value, "install.go.module"); ok {
			if s == "" || strings.HasPrefix(s, "-") || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '@' }) {
				l.errorf(e.value, "install.go: invalid module path %q", s)
			}
			g.Module = s
		}
	}
	if e, ok := m["version"]; ok {
		if s, ok := l.str(e.value, "install.go.version"); ok {
			if !goVersionRE.MatchString(s) {
				l.errorf(e.value, "install.go: version %q is not an exact version like v1.2.3 (installs are pinned)", s)
			}
			g.Version = s
		}
	}
	if e, ok := m["package"]; ok {
		if s, ok := l.str(e.value, "install.go.package"); ok {
			if s == "" || strings.HasPrefix(s, "-") || strings.ContainsFunc(s, isControlRune) {
				l.errorf(e.value, "install.go: invalid package %q (use . or ./cmd/name)", s)
			}
			g.Package = s
		}
	}
	if e, ok := m["ldflags"]; ok {
		g.LDFlags, _ = l.str(e.value, "install.go.ldflags")
	}
	if e, ok := m["env"]; ok {
		env, nodes := l.argv(e.value, "install.go.env")
		for i, v := range env {
			if !envRE.MatchString(v) {
				l.errorf(nodes[i], "install.go.env: %q is not NAME=value", v)
				continue
			}
			g.Env = append(g.Env, v)
		}
	}
	if e, ok := m["apt_deps"]; ok {
		pkgs, nodes := l.argv(e.value, "install.go.apt_deps")
		for i, p := range pkgs {
			if !aptNameRE.MatchString(p) {
				l.errorf(nodes[i], "install.go.apt_deps: invalid Debian package name %q", p)
				continue
			}
			g.AptDeps = append(g.AptDeps, p)
		}
	}
	return g
}

// ---- findings mapping ----

// customFindingTypes are the finding types a custom tool may produce.
var customFindingTypes = []finding.Type{
	finding.TypeURL, finding.TypePort, finding.TypeIP, finding.TypeSubdomain, finding.TypeDomain,
	finding.TypeRecord, finding.TypeVulnerability, finding.TypeTechnology, finding.TypeTag,
	finding.TypeExploit, finding.TypeCertificate, finding.TypeUserAccount,
}

// customRequiredFields lists, per type, the fields a mapping must set: each inner
// list is a set of alternatives of which one must be mapped (and non-empty in
// every finding).
var customRequiredFields = map[finding.Type][][]string{
	finding.TypeURL:           {{"url"}},
	finding.TypePort:          {{"port"}, {"ip", "host"}},
	finding.TypeIP:            {{"ip"}},
	finding.TypeSubdomain:     {{"host"}},
	finding.TypeDomain:        {{"domain"}},
	finding.TypeRecord:        {{"host"}, {"type"}, {"name"}},
	finding.TypeVulnerability: {{"name"}},
	finding.TypeTechnology:    {{"product"}},
	finding.TypeTag:           {{"name"}},
	finding.TypeExploit:       {{"name", "id"}},
	finding.TypeCertificate:   {{"host"}},
	finding.TypeUserAccount:   {{"username"}, {"site_name"}},
}

// findingField is a finding struct field a template can set.
type findingField struct {
	name  string // json name
	index int
	typ   reflect.Type
}

var timePtrType = reflect.TypeOf((*time.Time)(nil))

// customFindingFields returns, per result type, the fields settable from a
// template (by json name) and the ones that are not (maps).
var customFindingFields = sync.OnceValue(func() map[finding.Type]map[string]*findingField {
	out := map[finding.Type]map[string]*findingField{}
	for _, t := range customFindingTypes {
		st := reflect.TypeOf(finding.New(t)).Elem()
		fields := map[string]*findingField{}
		for i := range st.NumField() {
			f := st.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous || name == "" || name == "-" || strings.HasPrefix(name, "_") {
				continue
			}
			var fi *findingField
			if templateSettable(f.Type) {
				fi = &findingField{name: name, index: i, typ: f.Type}
			}
			fields[name] = fi // nil: exists but cannot be set from a template
		}
		out[t] = fields
	}
	return out
})

func templateSettable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
		reflect.Int64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return t == timePtrType
}

// placeholder is a template reference: a JSON path, a regex group, or the whole line.
type placeholder struct {
	key   string
	path  []string // jsonl
	group int      // regex: the group index; 0 is the whole line
}

// tmplSegment is a literal piece of a template, or a placeholder when
// placeholder is set.
type tmplSegment struct {
	lit         string
	placeholder *placeholder
}

type fieldTmpl struct {
	raw  string
	segs []tmplSegment
}

// parseFieldTemplate splits "{a} and {b.c}" into literals and placeholders;
// "{{" and "}}" are literal braces.
func parseFieldTemplate(s string) (fieldTmpl, error) {
	t := fieldTmpl{raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, tmplSegment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '}':
			return t, errors.New(`unmatched "}" (write "}}" for a literal brace)`)
		case c == '{':
			end := strings.IndexAny(s[i+1:], "{}")
			if end < 0 || s[i+1+end] == '{' {
				return t, errors.New(`unclosed "{" (write "{{" for a literal brace)`)
			}
			key := strings.TrimSpace(s[i+1 : i+1+end])
			if key == "" {
				return t, errors.New(`empty placeholder "{}"`)
			}
			flush()
			t.segs = append(t.segs, tmplSegment{placeholder: &placeholder{key: key}})
			i += end + 1
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return t, nil
}

// single reports whether the template is exactly one placeholder.
func (t fieldTmpl) single() *placeholder {
	if len(t.segs) == 1 {
		return t.segs[0].placeholder
	}
	return nil
}

// fieldTemplate sets one finding field from a template.
type fieldTemplate struct {
	field     *findingField
	fieldTmpl fieldTmpl
}

// findingMapping is one entry of findings:.
type findingMapping struct {
	typ      finding.Type
	when     *placeholder
	fields   []fieldTemplate
	required [][]*findingField
}

// customParser is the line parser of a custom tool.
type customParser struct {
	out  *customOutput
	maps []findingMapping
}

// resolve checks a placeholder key against the output format and fills r.
// It returns a description of the problem, or "".
func (out *customOutput) resolve(r *placeholder) string {
	switch out.format {
	case FormatJSONLines:
		r.path = strings.Split(r.key, ".")
		if slices.Contains(r.path, "") {
			return fmt.Sprintf("invalid key %q (use name or parent.child)", r.key)
		}
	case FormatRegex:
		if i := out.regex.SubexpIndex(r.key); i > 0 {
			r.group = i
			return ""
		}
		if r.key == "line" {
			r.group = 0
			return ""
		}
		return fmt.Sprintf("the output regex has no group %q%s", r.key,
			didYouMean(r.key, out.groups, "groups: "+strings.Join(out.groups, ", ")))
	case FormatLines:
		if r.key != "line" {
			return fmt.Sprintf("format lines has only {line}, not {%s}", r.key)
		}
	}
	return ""
}

func (l *customLoader) findings(n *yaml.Node, out *customOutput) *customParser {
	items, ok := l.list(n, "findings")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		l.errorf(n, "findings is empty: map the output to at least one finding")
		return nil
	}
	p := &customParser{out: out}
	nerr := len(l.errs)
	typeNames := make([]string, len(customFindingTypes))
	for i, t := range customFindingTypes {
		typeNames[i] = string(t)
	}
	for i, it := range items {
		what := fmt.Sprintf("findings[%d]", i)
		m := l.mapping(it, what, []string{"type", "when", "fields"})
		if m == nil {
			continue
		}
		l.require(it, m, what, "type", "fields")
		fm := findingMapping{}
		if e, ok := m["type"]; ok {
			if s, ok := l.str(e.value, what+".type"); ok {
				if slices.Contains(typeNames, s) {
					fm.typ = finding.Type(s)
				} else {
					l.errorf(e.value, "unknown finding type %q%s", s,
						didYouMean(s, typeNames, "valid: "+strings.Join(typeNames, ", ")))
				}
			}
		}
		if e, ok := m["when"]; ok {
			if s, ok := l.str(e.value, what+".when"); ok {
				switch {
				case strings.ContainsAny(s, "{}"):
					l.errorf(e.value, "when: write the key without braces (%q)", strings.Trim(s, "{} "))
				case s == "":
					l.errorf(e.value, "when is empty")
				case out != nil:
					r := &placeholder{key: s}
					if msg := out.resolve(r); msg != "" {
						l.errorf(e.value, "when %q: %s", s, msg)
					}
					fm.when = r
				}
			}
		}
		e, ok := m["fields"]
		if !ok || fm.typ == "" {
			continue
		}
		fields := customFindingFields()[fm.typ]
		fieldNames := make([]string, 0, len(fields))
		for name := range fields {
			fieldNames = append(fieldNames, name)
		}
		sort.Strings(fieldNames)
		fmm := l.mapping(e.value, what+".fields", nil)
		if fmm != nil && len(fmm) == 0 && len(e.value.Content) == 0 {
			l.errorf(e.value, "fields is empty")
		}
		for _, f := range entriesInOrder(fmm) {
			name := f.key.Value
			fi, exists := fields[name]
			switch {
			case !exists:
				l.errorf(f.key, "unknown finding field %q for type %s%s", name, fm.typ,
					didYouMean(name, fieldNames, "fields: "+strings.Join(fieldNames, ", ")))
				continue
			case fi == nil:
				l.errorf(f.key, "finding field %q of type %s cannot be set from a template", name, fm.typ)
				continue
			}
			s, ok := l.str(f.value, what+".fields."+name)
			if !ok {
				continue
			}
			t, err := parseFieldTemplate(s)
			if err != nil {
				l.errorf(f.value, "field %s: template %q: %v", name, s, err)
				continue
			}
			if out != nil {
				for _, sg := range t.segs {
					if sg.placeholder == nil {
						continue
					}
					if msg := out.resolve(sg.placeholder); msg != "" {
						l.errorf(f.value, "field %s: template %q: %s", name, s, msg)
					}
				}
			}
			fm.fields = append(fm.fields, fieldTemplate{field: fi, fieldTmpl: t})
		}
		if len(fmm) == 0 {
			continue
		}
		for _, alts := range customRequiredFields[fm.typ] {
			var set []*findingField
			for _, a := range alts {
				if _, ok := fmm[a]; ok && fields[a] != nil {
					set = append(set, fields[a])
				}
			}
			if len(set) == 0 {
				l.errorf(e.key, "finding type %s needs field %s", fm.typ, strings.Join(alts, " or "))
			}
			fm.required = append(fm.required, set)
		}
		p.maps = append(p.maps, fm)
	}
	if out == nil || len(l.errs) > nerr {
		return nil
	}
	return p
}

// ---- parsing output ----

// lookupPlaceholder resolves a placeholder in the current record: to a JSON
// value (string, json.Number, bool, []any, map[string]any, nil) or the text
// of a regex group or line. The bool is false when the value is absent.
type lookupPlaceholder func(r *placeholder) (any, bool)

func (p *customParser) parseLine(_ *ParseContext, line []byte, emit finding.Emit) error {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return ErrSkip
	}
	var look lookupPlaceholder
	switch p.out.format {
	case FormatJSONLines:
		rec, err := decodeJSONRecord(line)
		if err != nil {
			return err
		}
		look = func(r *placeholder) (any, bool) { return lookupJSON(rec, r.path) }
	case FormatRegex:
		s := string(line)
		m := p.out.regex.FindStringSubmatchIndex(s)
		if m == nil {
			return ErrSkip
		}
		look = func(r *placeholder) (any, bool) {
			a, b := m[2*r.group], m[2*r.group+1]
			if a < 0 {
				return nil, false
			}
			return s[a:b], true
		}
	case FormatLines:
		s := string(bytes.TrimSpace(line))
		look = func(*placeholder) (any, bool) { return s, true }
	default:
		return fmt.Errorf("unsupported format %q", p.out.format)
	}
	var out []finding.Finding
	for i := range p.maps {
		f, err := p.maps[i].build(look)
		if err != nil {
			return err
		}
		if f != nil {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return ErrSkip
	}
	for _, f := range out {
		emit(f)
	}
	return nil
}

// decodeJSONRecord decodes one JSON object, keeping numbers exact.
func decodeJSONRecord(line []byte) (map[string]any, error) {
	line = bytes.TrimSpace(line)
	if line[0] != '{' {
		return nil, errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return rec, nil
}

// lookupJSON walks a decoded JSON value: object keys and array indexes.
func lookupJSON(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, v != nil
}

// hasValue reports whether a value counts for when: present, not null, not an
// empty string, array or object.
func hasValue(v any, ok bool) bool {
	if !ok || v == nil {
		return false
	}
	switch x := v.(type) {
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// renderValue renders a value for a template.
func renderValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = renderValue(e)
		}
		return strings.Join(parts, ",")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (t fieldTmpl) render(look lookupPlaceholder) string {
	if r := t.single(); r != nil {
		v, _ := look(r)
		return renderValue(v)
	}
	var b strings.Builder
	for _, s := range t.segs {
		if s.placeholder == nil {
			b.WriteString(s.lit)
			continue
		}
		v, _ := look(s.placeholder)
		b.WriteString(renderValue(v))
	}
	return b.String()
}

// build creates the finding of one mapping for one record; nil when its
// when condition does not hold.
func (fm *findingMapping) build(look lookupPlaceholder) (finding.Finding, error) {
	if fm.when != nil && !hasValue(look(fm.when)) {
		return nil, nil
	}
	f := finding.New(fm.typ)
	rv := reflect.ValueOf(f).Elem()
	for _, m := range fm.fields {
		if err := m.set(rv.Field(m.field.index), look); err != nil {
			return nil, fmt.Errorf("%s finding: field %s: %w", fm.typ, m.field.name, err)
		}
	}
	for _, alts := range fm.required {
		if !slices.ContainsFunc(alts, func(fi *findingField) bool { return !rv.Field(fi.index).IsZero() }) {
			names := make([]string, len(alts))
			for i, fi := range alts {
				names[i] = fi.name
			}
			return nil, fmt.Errorf("%s finding: no value for %s", fm.typ, strings.Join(names, " or "))
		}
	}
	return f, nil
}

// set converts the template's result to the field's type.
func (m fieldTemplate) set(dst reflect.Value, look lookupPlaceholder) error {
	t := m.field.typ
	if t.Kind() == reflect.Slice {
		var items []string
		if r := m.fieldTmpl.single(); r != nil {
			if v, _ := look(r); v != nil {
				if arr, ok := v.([]any); ok {
					for _, e := range arr {
						if s := strings.TrimSpace(renderValue(e)); s != "" {
							items = append(items, s)
						}
					}
					dst.Set(reflect.ValueOf(items))
					return nil
				}
			}
		}
		for _, s := range strings.Split(m.fieldTmpl.render(look), ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		dst.Set(reflect.ValueOf(items))
		return nil
	}
	s := m.fieldTmpl.render(look)
	if t.Kind() == reflect.String {
		dst.SetString(s)
		return nil
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil // zero value
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return fmt.Errorf("%q is not a whole number", s)
			}
			n = int64(f)
		}
		if dst.OverflowInt(n) {
			return fmt.Errorf("%q is out of range", s)
		}
		dst.SetInt(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || dst.OverflowFloat(f) {
			return fmt.Errorf("%q is not a number", s)
		}
		dst.SetFloat(f)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		dst.SetBool(b)
	case reflect.Pointer: // *time.Time
		tm, ok := finding.ParseTime(s)
		if !ok {
			return fmt.Errorf("%q is not a date", s)
		}
		dst.Set(reflect.ValueOf(&tm))
	default:
		return fmt.Errorf("unsupported field type %s", t)
	}
	return nil
}

// closestName returns the candidate closest to s (edit distance with
// transpositions, compared with the whole candidate and with each of its
// "_"-separated parts), or "" when none is close.
func closestName(s string, candidates []string) string {
	if len(s) > 64 {
		return ""
	}
	s = strings.ToLower(s)
	best, bestD := "", 0
	for _, c := range candidates {
		d := osaDistance(s, c)
		for _, part := range strings.FieldsFunc(c, func(r rune) bool { return r == '_' || r == '-' }) {
			d = min(d, osaDistance(s, part))
		}
		if best == "" || d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	limit := max(1, min(len(s), 9)/3)
	if best == "" || bestD > limit {
		return ""
	}
	return best
}

// osaDistance is the optimal string alignment distance: Levenshtein plus adjacent
// transpositions.
func osaDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return levenshtein(a, b)
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
