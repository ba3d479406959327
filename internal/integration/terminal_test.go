package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/testtarget"
)

// ownEscapes are the sequences sortie itself writes to a terminal: its
// status line ("\r" ESC[K) and colours (ESC[31m ... ESC[0m).
var ownEscapes = regexp.MustCompile("\r|\x1b\\[K|\x1b\\[[0-9;]*m")

// TestTerminalEscapesInTitle: a page whose <title> holds escape sequences
// (clear screen, OSC 8, OSC 52, a C1 CSI, a right-to-left override), probed
// by the real httpx through "sortie x httpx" running on a terminal (a pty,
// from script(1)), reaches the terminal with every one of them shown as a
// visible escape; the findings file keeps the title as it was (issue 7).
func TestTerminalEscapesInTitle(t *testing.T) {
	begin(t)
	needTool(t, "httpx")
	script := needCommand(t, "script", "bsdutils")
	tg := startTarget(t)

	bin := filepath.Join(t.TempDir(), "sortie")
	build := exec.Command("go", "build", "-o", bin, "github.com/sortie-sec/sortie/cmd/sortie")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build sortie: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "run")
	cmdline := strings.Join([]string{shellQuote(bin), "x", "httpx", shellQuote(tg.HTTPURL + "/escapes"), "--out", shellQuote(dir)}, " ")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// script runs the command on a new pty (stdout and stderr both
	// terminals: the live view is on) and copies what it printed.
	cmd := exec.CommandContext(ctx, script, "-qec", cmdline, "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "NO_COLOR=")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sortie x httpx on a pty: %v\n%q", err, out)
	}
	shown := string(out)
	if !strings.Contains(shown, `[Esc\x1b[2Japes`) || !strings.Contains(shown, `exe\u202egnp.txt`) {
		t.Fatalf("the title is not on the terminal with visible escapes:\n%q", shown)
	}
	rest := ownEscapes.ReplaceAllString(shown, "")
	for _, r := range rest {
		if r == '\n' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u202e' {
			t.Fatalf("the terminal got the raw character %U from the page:\n%q", r, shown)
		}
	}

	// The findings file keeps the truth, JSON-escaped.
	_, fs, err := readFindings(filepath.Join(dir, report.FindingsFile))
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, u := range only[*finding.URL](fs) {
		titles = append(titles, u.Title)
	}
	if len(titles) != 1 || titles[0] != testtarget.EscapesTitle {
		t.Errorf("titles in findings.jsonl %q, want %q", titles, testtarget.EscapesTitle)
	}
}

// shellQuote quotes s for sh -c.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
