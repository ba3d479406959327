package task

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/tool"
)

const (
	token  = "s3cr3t-T0K3N-0123456789"
	header = "Authorization: Bearer " + token
)

// secretForms are the ways the fake tool echoes the token: as is, as JSON
// \u escapes, percent-encoded.
var secretForms = []string{token, jsonEscapeAll(token), percentAll(token)}

func jsonEscapeAll(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, `\u%04x`, c)
	}
	return b.String()
}

func percentAll(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// echoSecrets is the fake tool of the redaction tests: given -H HEADER
// (and -o FILE), it echoes the header the way real tools do. It prints a
// real nuclei result line (read from nuclei-line.json in its working
// directory) whose curl-command carries the header, the same line with the
// header JSON-escaped, and a result holding it percent-encoded; it writes
// them to FILE too, keeps the header in a history file under its HOME (as
// ffuf does), prints it on stderr, and fails.
func echoSecrets() {
	var hdr, out string
	for i, a := range os.Args {
		switch {
		case a == "-H" && i+1 < len(os.Args):
			hdr = os.Args[i+1]
		case a == "-o" && i+1 < len(os.Args):
			out = os.Args[i+1]
		}
	}
	line, err := os.ReadFile("nuclei-line.json")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var r map[string]any
	if err := json.Unmarshal(line, &r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// nuclei puts every -H header in its curl command.
	r["curl-command"] = strings.Replace(r["curl-command"].(string), "-d ''", "-d '' -H '"+hdr+"'", 1)
	plain, _ := json.Marshal(r)
	r["matched-at"] = "http://127.0.0.1:8080/escaped"
	escaped, _ := json.Marshal(r)
	escaped = []byte(strings.ReplaceAll(string(escaped), token, jsonEscapeAll(token)))
	r["matched-at"] = "http://127.0.0.1:8080/encoded"
	r["extracted-results"] = []string{"token=" + percentAll(token)}
	encoded, _ := json.Marshal(r)
	lines := string(plain) + "\n" + string(escaped) + "\n" + string(encoded) + "\n"
	fmt.Print(lines)
	if out != "" {
		_ = os.WriteFile(out, []byte(lines), 0o600)
	}
	home := os.Getenv("HOME")
	hist := filepath.Join(home, ".config", "fake", "history", "1")
	_ = os.MkdirAll(hist, 0o700)
	_ = os.WriteFile(filepath.Join(hist, "options"), []byte(`{"headers":{"Authorization":"Bearer `+token+`"},"raw":"`+jsonEscapeAll(hdr)+`"}`+"\n"), 0o600)
	fmt.Fprintln(os.Stderr, "request failed with", hdr)
	fmt.Fprintln(os.Stderr, "retrying with", percentAll(hdr))
	os.Exit(1)
}

// nucleiFake is nuclei's definition (its parser, its option mapping)
// running the echo-secrets fake tool.
func nucleiFake(t *testing.T, file bool) *tool.Definition {
	t.Helper()
	d, ok := tool.NewRegistry().Lookup("nuclei")
	if !ok {
		t.Fatal("no nuclei definition")
	}
	c := *d
	c.Binary = os.Args[0]
	c.Fixed = []string{"-fake=echo-secrets"}
	c.Input = tool.Input{Mode: tool.InputArg}
	c.Output = tool.Output{Format: tool.FormatJSONLines}
	if file {
		c.Output.File = []string{"-o", "{file}"}
	}
	return &c
}

// assertNoSecret fails when data holds the token in any form.
func assertNoSecret(t *testing.T, what string, data []byte) {
	t.Helper()
	for _, f := range secretForms {
		if strings.Contains(string(data), f) {
			t.Errorf("%s keeps the secret (%q):\n%s", what, f, data)
		}
	}
}

// A tool that echoes a sensitive header into finding fields (nuclei's
// curl_command, as is and JSON-escaped; percent-encoded in a result),
// into stderr, into its report file and into a file under its HOME leaves
// it nowhere: not in the findings, the error finding's output tail, the raw
// output, the raw report copy, nor the task directory. A link planted in
// the task directory is not followed.
func TestRunRedactsSecretsEverywhere(t *testing.T) {
	t.Parallel()
	line, err := os.ReadFile(filepath.Join("..", "tool", "testdata", "nuclei.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(line), "\n")
	if !strings.Contains(first, `"curl-command"`) {
		t.Fatal("the nuclei fixture has no curl-command")
	}
	for _, file := range []bool{false, true} {
		t.Run(fmt.Sprintf("output-file=%v", file), func(t *testing.T) {
			t.Parallel()
			c := &collector{}
			s := spec(t, nucleiFake(t, file), c, "http://127.0.0.1:8080")
			s.Options = map[string][]string{"header": {header}}
			if err := os.WriteFile(filepath.Join(s.Dir, "nuclei-line.json"), []byte(first), 0o600); err != nil {
				t.Fatal(err)
			}
			outside := filepath.Join(t.TempDir(), "outside.txt")
			if err := os.WriteFile(outside, []byte(header+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(s.Dir, "planted")); err != nil {
				t.Fatal(err)
			}

			res, err := Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if res.State != StateFailed || res.Reason != "exit-code" {
				t.Errorf("state %s (%s), want failed (exit-code)", res.State, res.Reason)
			}

			vulns := c.of(finding.TypeVulnerability)
			if len(vulns) != 3 {
				t.Fatalf("%d vulnerability findings, want 3", len(vulns))
			}
			for _, v := range vulns {
				curl, _ := v.(*finding.Vulnerability).ExtraData["curl_command"].(string)
				if !strings.Contains(curl, "-H '[REDACTED]'") {
					t.Errorf("curl_command %q: want the header masked", curl)
				}
			}
			errs := c.of(finding.TypeError)
			if len(errs) != 1 || len(errs[0].(*finding.Error).OutputTail) != 2 {
				t.Fatalf("error findings %+v, want one with the stderr tail", errs)
			}
			for _, f := range c.fs {
				b, _ := json.Marshal(f)
				assertNoSecret(t, "finding", b)
			}

			raws := []string{"stdout.txt", "stderr.txt"}
			if file {
				raws = append(raws, "output.jsonl")
			}
			for _, name := range raws {
				b, err := os.ReadFile(filepath.Join(s.RawDir, name))
				if err != nil || len(b) == 0 {
					t.Errorf("raw %s: %v (%d bytes)", name, err, len(b))
				}
				assertNoSecret(t, "raw/"+name, b)
			}
			var files []string
			_ = filepath.WalkDir(s.Dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					b, _ := os.ReadFile(p)
					assertNoSecret(t, p, b)
					files = append(files, strings.TrimPrefix(p, s.Dir))
				}
				return nil
			})
			// Scrubbed, not removed: the history file is still there.
			if !slices.Contains(files, "/.config/fake/history/1/options") {
				t.Errorf("task directory files %v: the history file was removed", files)
			}
			if b, _ := os.ReadFile(outside); string(b) != header+"\n" {
				t.Errorf("the file behind a planted link was changed: %q", b)
			}
			if fi, err := os.Lstat(filepath.Join(s.Dir, "planted")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the planted link was replaced: %v", err)
			}
		})
	}
}

// The real nuclei parser on a real nuclei output line: its curl_command
// carries the header nuclei sends; the task masks it.
func TestNucleiCurlCommandMasked(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("..", "tool", "testdata", "nuclei.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	sc.Scan()
	line := strings.Replace(sc.Text(), `-d ''`, `-d '' -H '`+header+`'`, 1)
	var got []finding.Finding
	r := &run{spec: Spec{Emit: func(f finding.Finding) { got = append(got, f) }}}
	d, _ := tool.NewRegistry().Lookup("nuclei")
	r.red = d.Secrets(map[string][]string{"header": {header}})
	if _, err := tool.ParseOutput(d, &tool.ParseContext{}, strings.NewReader(line), r.emit); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d findings", len(got))
	}
	b, _ := json.Marshal(got[0])
	assertNoSecret(t, "nuclei finding", b)
	if !strings.Contains(string(b), `-H '[REDACTED]'`) {
		t.Errorf("finding %s: want the masked header in curl_command", b)
	}
}

// Errors that carry a secret (a tool's path, an option echoed) are masked;
// errors.As still finds what they wrap.
func TestRedactError(t *testing.T) {
	t.Parallel()
	d, _ := tool.NewRegistry().Lookup("nuclei")
	red := d.Secrets(map[string][]string{"header": {header}})
	err := redactError(&RejectedTargetError{Target: "x", Err: fmt.Errorf("bad %s", token)}, red)
	var rt *RejectedTargetError
	if strings.Contains(err.Error(), token) || !errorsAs(err, &rt) {
		t.Errorf("redactError: %v", err)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
