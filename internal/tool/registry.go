package tool

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Registry holds the tools sortie can run: the built-in ones and the user's
// custom ones, by name.
type Registry struct {
	byName map[string]*Definition
	broken []BrokenTool
}

// BrokenTool is a custom tool whose definition does not load: it is
// disabled, and every other tool and command works.
type BrokenTool struct {
	// Name is the tool's name as written in the file, or the file's name
	// without its extension when the file has none.
	Name string
	// File is the definition's path.
	File string
	// Err holds the file's problems (*DefinitionErrors joined, or the error
	// reading the file).
	Err error
}

// BrokenToolError is returned by Get for a tool whose definition does not
// load.
type BrokenToolError struct{ BrokenTool }

func (e *BrokenToolError) Error() string {
	return fmt.Sprintf("tool %q is disabled: its definition does not load:\n  %s", e.Name, strings.ReplaceAll(e.Err.Error(), "\n", "\n  "))
}

func (e *BrokenToolError) Unwrap() error { return e.Err }

// Broken returns the custom tools that did not load, in the order their
// files were read.
func (r *Registry) Broken() []BrokenTool { return slices.Clone(r.broken) }

// builtins lists the built-in tools; each constructor lives in the tool's own
// file.
func builtins() []*Definition {
	return []*Definition{
		httpxTool(), naabuTool(), nmapTool(), katanaTool(), ffufTool(), nucleiTool(),
		dnsxTool(), subfinderTool(), gospiderTool(), gauTool(), mapcidrTool(),
		gitleaksTool(), trivyTool(), testsslTool(), wafw00fTool(), dirsearchTool(),
		sshAuditTool(), fpingTool(), whoisTool(),
	}
}

// NewRegistry returns a registry of the built-in tools.
func NewRegistry() *Registry {
	r := &Registry{byName: map[string]*Definition{}}
	for _, d := range builtins() {
		r.byName[d.Name] = d
	}
	return r
}

// Add registers a definition; a custom tool may not shadow a built-in one
// silently, so a clash is an error.
func (r *Registry) Add(d *Definition) error {
	if old, ok := r.byName[d.Name]; ok {
		return fmt.Errorf("tool %q is already defined (binary %s)", d.Name, old.Binary)
	}
	r.byName[d.Name] = d
	return nil
}

// Lookup returns the tool named name.
func (r *Registry) Lookup(name string) (*Definition, bool) {
	d, ok := r.byName[name]
	return d, ok
}

// All returns every tool, sorted by name.
func (r *Registry) All() []*Definition {
	out := make([]*Definition, 0, len(r.byName))
	for _, d := range r.byName {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// UnknownToolError is returned for a tool name the registry does not know; it
// carries the close names to suggest.
type UnknownToolError struct {
	Name    string
	Similar []string
}

func (e *UnknownToolError) Error() string {
	msg := fmt.Sprintf("unknown tool %q", e.Name)
	if len(e.Similar) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(e.Similar, ", "))
	}
	return msg
}

// Get returns the tool named name or an *UnknownToolError with suggestions.
func (r *Registry) Get(name string) (*Definition, error) {
	if d, ok := r.byName[name]; ok {
		return d, nil
	}
	for _, b := range r.broken {
		if b.Name == name {
			return nil, &BrokenToolError{b}
		}
	}
	return nil, &UnknownToolError{Name: name, Similar: r.Suggest(name)}
}

// Suggest returns tool names close to name, broken tools' included: a
// shared prefix or an edit distance of at most 2.
func (r *Registry) Suggest(name string) []string {
	var out []string
	lname := strings.ToLower(name)
	consider := func(n string) {
		if (levenshtein(lname, n) <= 2 || (len(lname) >= 3 && strings.HasPrefix(n, lname))) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for n := range r.byName {
		consider(n)
	}
	for _, b := range r.broken {
		consider(b.Name)
	}
	sort.Strings(out)
	return out
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
