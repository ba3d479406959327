package worker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/tool"
	"github.com/sortie-sec/sortie/internal/worker"
)

// A fleet worker refuses, before anything runs, the chunks the security
// review turned against it: an NSE script by path, a script argument that
// writes files, a scan type that is not one (-sC), a wordlist outside the
// allowed directories, an httpx path naming a local file, a symlink in an
// allowed directory pointing out of it, a path target outside. Each is
// dead-lettered with its reason; the tool is never started (nmap, ffuf,
// httpx and gitleaks are recorders that log every start) and nothing is
// written. The same options naming files inside the allowed directory run.
func TestPolicyRefusesBeforeRunning(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	allowed, outside, scripts, bin := filepath.Join(root, "allowed"), filepath.Join(root, "outside"), filepath.Join(root, "scripts"), filepath.Join(root, "bin")
	dest := filepath.Join(outside, "fetched")
	for _, d := range []string{allowed, outside, scripts, bin, dest} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret, words := filepath.Join(outside, "secret.txt"), filepath.Join(allowed, "words.txt")
	for f, content := range map[string]string{
		secret: "s3cret\n", words: "admin\n", filepath.Join(outside, "evil.nse"): "os.execute('touch pwned')\n",
		filepath.Join(scripts, "http-title.nse"): "", filepath.Join(scripts, "http-fetch.nse"): "",
	} {
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(allowed, "link.txt")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	// Each tool is a recorder: a real process that logs its directory (the
	// attempt's, which names the run) and its arguments.
	calls := filepath.Join(root, "calls.log")
	for _, name := range []string{"nmap", "ffuf", "httpx", "gitleaks"} {
		script := fmt.Sprintf("#!/bin/sh\necho \"$PWD $*\" >> %s\n", calls)
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	policy, err := tool.NewPolicy([]string{allowed})
	if err != nil {
		t.Fatal(err)
	}
	policy.ScriptDirs = []string{scripts}
	e := enginetest.Embedded(t)
	enginetest.StartWorker(t, e, worker.Config{Concurrency: 2, Policy: policy,
		Locate: func(d *tool.Definition) (string, error) { return filepath.Join(bin, d.Binary), nil }})

	type chunk struct {
		run, tool, target string
		opts              map[string][]string
		refused           string // a part of the reason, or "" for a chunk that runs
		argv              string // for a chunk that runs: a part of its arguments
	}
	chunks := []chunk{
		{run: "nse-path", tool: "nmap", target: "127.0.0.1", opts: map[string][]string{"scripts": {filepath.Join(outside, "evil.nse")}},
			refused: "scripts are chosen by name"},
		{run: "nse-write", tool: "nmap", target: "127.0.0.1", opts: map[string][]string{"scripts": {"http-fetch"}, "script_args": {"http-fetch.destination=" + dest}},
			refused: `script argument "http-fetch.destination"`},
		{run: "scan-c", tool: "nmap", target: "127.0.0.1", opts: map[string][]string{"scan_type": {"C"}},
			refused: `option scan_type: "C" is not one of`},
		{run: "wordlist-out", tool: "ffuf", target: "http://127.0.0.1/FUZZ", opts: map[string][]string{"wordlist": {secret}},
			refused: "outside the worker's allowed directories"},
		{run: "httpx-path", tool: "httpx", target: "http://127.0.0.1", opts: map[string][]string{"path": {secret}},
			refused: "names a file on the worker"},
		{run: "symlink-out", tool: "ffuf", target: "http://127.0.0.1/FUZZ", opts: map[string][]string{"wordlist": {link}},
			refused: "outside the worker's allowed directories"},
		{run: "target-out", tool: "gitleaks", target: outside,
			refused: "outside the worker's allowed directories"},
		{run: "target-in", tool: "gitleaks", target: allowed, argv: "dir "},
		{run: "wordlist-in", tool: "ffuf", target: "http://127.0.0.1/FUZZ", opts: map[string][]string{"wordlist": {words}}, argv: "-w " + words},
		{run: "httpx-in", tool: "httpx", target: "http://127.0.0.1", opts: map[string][]string{"path": {words}}, argv: "-path " + words},
		{run: "nse-name", tool: "nmap", target: "127.0.0.1", opts: map[string][]string{"scripts": {"http-title"}, "scan_type": {"S"}}, argv: "-sS"},
	}
	ctx := context.Background()
	for _, c := range chunks {
		err := e.Submit(ctx, engine.Plan{
			Run:   engine.RunRecord{ID: c.run, Kind: "task", Tool: c.tool, Targets: 1},
			Tasks: []engine.TaskPlan{{ID: "1", Tool: c.tool, Targets: []string{c.target}, Options: c.opts}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range chunks {
		wait(t, e, c.run)
	}
	log, err := os.ReadFile(calls)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	started := func(run string) string {
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, string(filepath.Separator)+run+string(filepath.Separator)) {
				return line
			}
		}
		return ""
	}
	for _, c := range chunks {
		cs, err := e.Chunks(ctx, c.run)
		if err != nil || len(cs) != 1 {
			t.Fatalf("%s: chunks %+v %v", c.run, cs, err)
		}
		dls, err := e.DeadLetters(ctx, c.run)
		if err != nil {
			t.Fatal(err)
		}
		line := started(c.run)
		if c.refused == "" {
			if line == "" || !strings.Contains(line, c.argv) {
				t.Errorf("%s: not run as expected (started: %q, want %q in its arguments)", c.run, line, c.argv)
			}
			if len(dls) != 0 {
				t.Errorf("%s: dead-lettered: %+v", c.run, dls)
			}
			continue
		}
		if line != "" {
			t.Errorf("%s: the tool was started: %s", c.run, line)
		}
		if cs[0].State != engine.ChunkAbandoned || !strings.Contains(cs[0].Reason, c.refused) {
			t.Errorf("%s: chunk %s (%q), want abandoned with %q", c.run, cs[0].State, cs[0].Reason, c.refused)
		}
		if len(dls) != 1 || !strings.Contains(dls[0].Reason, "refused") && c.run != "scan-c" || !strings.Contains(dls[0].Reason, c.refused) {
			t.Errorf("%s: dead letters %+v, want one with %q", c.run, dls, c.refused)
		}
	}
	if entries, err := os.ReadDir(dest); err != nil || len(entries) != 0 {
		t.Errorf("http-fetch destination: %v %v, want it empty", entries, err)
	}
}
