package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ffuf keeps every run's options, headers included, in a history file
// under its HOME (.config/ffuf/history/<hash>/options). The run directory
// keeps no copy of a sensitive header: the history file is rewritten with
// it masked, and nothing else holds it but the engine's work queue, which
// carries it to the worker (and is empty once the run is done).
func TestFFUFHistoryKeepsNoSecret(t *testing.T) {
	begin(t)
	needTool(t, "ffuf")
	tg := startTarget(t)
	const token = "s3cr3t-T0K3N-0123456789"

	r := runTool(t, 3*time.Minute, "ffuf", tg.HTTPURL, "--wordlist", testdata(t, "wordlist.txt"),
		"--threads", "5", "--task-timeout", "2m", "--header", "Authorization: Bearer "+token)
	r.wantDone(t)
	if strings.Contains(r.Stdout+r.Stderr, token) {
		t.Errorf("sortie's output shows the header")
	}
	var history []string
	err := filepath.WalkDir(r.Dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), token) {
			t.Errorf("%s keeps the header in clear", strings.TrimPrefix(path, r.Dir))
		}
		if strings.Contains(path, filepath.Join(".config", "ffuf", "history")) {
			history = append(history, path)
			if !strings.Contains(string(b), `"headers":["[REDACTED]"]`) {
				t.Errorf("ffuf history %s: want the header masked:\n%s", path, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(history) == 0 {
		t.Errorf("ffuf wrote no history file under work/ (did its layout change?)")
	}
}
