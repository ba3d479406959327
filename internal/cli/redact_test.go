package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

// A real "sortie x" whose tool echoes the --header it was given into its
// findings (percent-encoded, JSON-escaped), its stderr and a history file
// under its HOME: the secret is nowhere in the run directory but the work
// message (which carries it to the worker by design), nor on the
// terminal (--json findings, logs, errors), nor in the findings read back
// from the engine.
func TestSecretsStayOutOfTheRun(t *testing.T) {
	t.Parallel()
	const token = "s3cr3t-T0K3N-0123456789"
	header := "Authorization: Bearer " + token
	forms := []string{token, url.QueryEscape(token), escapeAll(token)}
	assertClean := func(what, data string) {
		t.Helper()
		for _, f := range forms {
			if strings.Contains(data, f) {
				t.Errorf("%s keeps the secret (%q):\n%s", what, f, data)
			}
		}
	}

	dir := filepath.Join(t.TempDir(), "run")
	p := enginetest.Start(t, "sortie x", "x", "faketool", "127.0.0.1", "--tools-dir", enginetest.ToolsDir(t),
		"--header", header, "--out", dir, "--json", "--log-level", "debug")
	if err := p.Wait(t, 2*time.Minute); err == nil {
		t.Errorf("sortie x succeeded; the fake tool fails when given headers")
	}
	out := p.Output()
	if !strings.Contains(out, `"_type":"url"`) || !strings.Contains(out, `"_type":"error"`) {
		t.Fatalf("want url and error findings on stdout:\n%s", out)
	}
	assertClean("sortie's output", out)

	var checked int
	work := string(filepath.Separator) + filepath.Join("streams", engine.WorkStream) + string(filepath.Separator)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.Contains(path, work) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		assertClean(strings.TrimPrefix(path, dir), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"findings.jsonl", "run.json", "command.txt", "raw/stderr.txt", "raw/stdout.txt", "work/.config/faketool/history.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run directory: %v", err)
		}
	}
	if checked < 8 {
		t.Errorf("only %d files checked", checked)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := engine.Open(ctx, engine.Config{Dir: filepath.Join(dir, "engine")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var n int
	runID := filepath.Base(dir)
	if m, err := os.ReadFile(filepath.Join(dir, "run.json")); err == nil {
		if i := strings.Index(string(m), `"id": "`); i >= 0 {
			runID, _, _ = strings.Cut(string(m)[i+7:], `"`)
		}
	}
	if err := e.ReadFindings(ctx, runID, func(b []byte) { n++; assertClean("stored finding", string(b)) }); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("no finding stored for run %s", runID)
	}
}

func escapeAll(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, `\u%04x`, c)
	}
	return b.String()
}
