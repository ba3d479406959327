package tool

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
)

// parseFixture parses testdata/file with the named tool's parser, as
// `sortie import` does, and returns the stamped findings in order. It fails
// the test when the parse reports an error or garbage, unless allowGarbage.
func parseFixture(t *testing.T, tool, file string, targets ...string) ([]finding.Finding, ParseStats) {
	t.Helper()
	d, ok := NewRegistry().Lookup(tool)
	if !ok {
		t.Fatalf("no tool %q", tool)
	}
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []finding.Finding
	scope := finding.Scope{Run: "test-run", Source: finding.Source{Tool: tool}}
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	st, err := ParseOutput(d, &ParseContext{Targets: targets}, f, func(fd finding.Finding) {
		finding.Stamp(fd, scope, now)
		out = append(out, fd)
	})
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return out, st
}

// only returns the findings of type T.
func only[T finding.Finding](fs []finding.Finding) []T {
	var out []T
	for _, f := range fs {
		if v, ok := f.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// uniqueIDs counts distinct finding ids.
func uniqueIDs(fs []finding.Finding) int {
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.Base().ID] = true
	}
	return len(seen)
}
