package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/testtarget"
)

// hostile is text a page, a tool or a server controls: escape sequences
// (clear screen, OSC 8 link, OSC 52 clipboard), a C1 CSI, DEL, a
// right-to-left override, a zero-width space and a line break that would
// forge a line of its own.
const hostile = testtarget.EscapesTitle + " \u009b31mred \x7f zw\u200bsp\n[vulnerability] forged"

// raw reports the first character in s that must not reach a terminal.
func raw(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r == '\n':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == '\u202e', r == '\u200b', r == '\u2028':
			return r, true
		}
	}
	return 0, false
}

func stampedFinding(f finding.Finding) finding.Finding {
	finding.Stamp(f, finding.Scope{Run: "r", Source: finding.Source{Tool: "httpx"}}, time.Now())
	return f
}

// TestHumanPrinterNeutralisesEscapes: a finding's fields, a command, a
// warning and the summary never reach the terminal with control or format
// characters in them (issue 7). The printer writes to fake terminal
// writers (buffers) with its live view and colours off, so that every ESC
// in the output would be the hostile text's.
func TestHumanPrinterNeutralisesEscapes(t *testing.T) {
	t.Parallel()
	var out, errw bytes.Buffer
	p := &humanPrinter{out: &out, errw: &errw}
	p.Start("running", "httpx"+hostile, "run"+hostile)
	p.Command("httpx -u " + hostile)
	for _, f := range []finding.Finding{
		&finding.URL{URL: "http://127.0.0.1/escapes", StatusCode: 200, Title: hostile, Webserver: hostile},
		&finding.Vulnerability{Name: hostile, Severity: "high", MatchedAt: "http://127.0.0.1/"},
		&finding.Technology{Product: hostile, Match: "http://127.0.0.1/"},
		&finding.Warning{Message: hostile},
		&finding.Error{Message: hostile, OutputTail: []string{hostile, "plain"}},
		&finding.Domain{Domain: "example.test", Registrar: hostile},
	} {
		if err := p.Finding(stampedFinding(f), nil); err != nil {
			t.Fatal(err)
		}
	}
	p.Summary(summary{State: "done", Reason: hostile, Dir: "/tmp/" + hostile})
	for name, s := range map[string]string{"stdout": out.String(), "stderr": errw.String()} {
		if r, ok := raw(s); ok {
			t.Errorf("%s holds the raw character %U:\n%q", name, r, s)
		}
		if strings.Contains(s, "\n[vulnerability] forged") {
			t.Errorf("%s holds a line forged by a field:\n%s", name, s)
		}
	}
	if !strings.Contains(out.String(), `[Esc\x1b[2Japes \x1b]8;;http://127.0.0.1/\x1b\link`) {
		t.Errorf("the title is not shown with visible escapes:\n%s", out.String())
	}
	// The error's own lines (message, then its output tail) stay lines.
	if !strings.Contains(errw.String(), "\n    | plain\n") {
		t.Errorf("the error's output tail lost its lines:\n%s", errw.String())
	}
}

// TestJSONPrinterEscapesFormatCharacters: --json stays JSON, with the same
// values, and carries no raw bidi override, C1 control or DEL.
func TestJSONPrinterEscapesFormatCharacters(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := &jsonPrinter{out: &out, errw: &bytes.Buffer{}, quiet: true}
	f := stampedFinding(&finding.URL{URL: "http://127.0.0.1/", Title: hostile + " \u2028 \u2029"})
	line, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Finding(f, append(line, '\n')); err != nil {
		t.Fatal(err)
	}
	if r, ok := raw(out.String()); ok {
		t.Errorf("--json output holds the raw character %U: %q", r, out.String())
	}
	back, err := finding.Decode(bytes.TrimSpace(out.Bytes()))
	if err != nil {
		t.Fatalf("--json output is not a finding: %v\n%s", err, out.String())
	}
	if got := back.(*finding.URL).Title; got != hostile+" \u2028 \u2029" {
		t.Errorf("title changed on the way: %q", got)
	}
}

// TestErrorsNeutraliseEscapes: error messages and hints quote targets,
// tool output and server data; printed, they carry no control sequence.
func TestErrorsNeutraliseEscapes(t *testing.T) {
	t.Parallel()
	var errw bytes.Buffer
	code := reportError(&errw, withHint(errors.New("worker said "+hostile), "ask "+hostile))
	if code != ExitError {
		t.Errorf("exit code %d", code)
	}
	if r, ok := raw(errw.String()); ok {
		t.Errorf("error output holds the raw character %U: %q", r, errw.String())
	}
	errw.Reset()
	reportError(&errw, partialError{"partial " + hostile})
	if r, ok := raw(errw.String()); ok {
		t.Errorf("partial output holds the raw character %U: %q", r, errw.String())
	}
}

// TestRunDetailNeutralisesEscapes: "runs show" prints what the server (or a
// worker) recorded: reasons, worker ids, origins.
func TestRunDetailNeutralisesEscapes(t *testing.T) {
	t.Parallel()
	var det runDetail
	det.Run.ID, det.Run.Tool, det.Run.Origin = "r1", "httpx", hostile
	var out bytes.Buffer
	printRunDetail(&out, det)
	if r, ok := raw(out.String()); ok {
		t.Errorf("runs show holds the raw character %U: %q", r, out.String())
	}
}
