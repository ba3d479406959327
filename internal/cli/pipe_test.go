package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A closed stdout (sortie x ... | head) must stop the tool and keep the
// findings, not kill sortie with SIGPIPE and orphan the tool.
func TestClosedStdoutStopsTheRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "sortie")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/sortie").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tools := filepath.Join(dir, "tools")
	os.Mkdir(tools, 0o755)
	// Prints its targets, then would wait a minute.
	os.WriteFile(filepath.Join(tools, "chatty.yaml"), []byte(`name: chatty
binary: sh
fixed: [-c, "cat; exec sleep 60"]
inputs: [ip]
input: {mode: stdin}
output: {format: lines}
findings:
  - type: ip
    fields: {ip: "{line}"}
`), 0o644)
	out := filepath.Join(dir, "run")
	cmd := exec.Command(bin, "x", "chatty", "127.0.0.1", "--out", out, "--tools-dir", tools, "--stop-grace", "5s")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone before sortie writes anything
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitError {
		t.Fatalf("exit: %v, want exit code %d\n%s", err, ExitError, stderr.String())
	}
	if !strings.Contains(stderr.String(), "cannot write to the output") {
		t.Errorf("stderr = %q", stderr.String())
	}
	meta, _ := os.ReadFile(filepath.Join(out, "run.json"))
	if !strings.Contains(string(meta), `"state": "cancelled"`) {
		t.Errorf("run.json = %s", meta)
	}
	findings, _ := os.ReadFile(filepath.Join(out, "findings.jsonl"))
	if !strings.Contains(string(findings), `"ip":"127.0.0.1"`) {
		t.Errorf("findings.jsonl lost the finding: %s", findings)
	}
}
