package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/cli"
	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
)

// TestWrongTargetTypeSkipped gives naabu a URL next to an IP: the URL is
// skipped with a warning, the IP is scanned.
func TestWrongTargetTypeSkipped(t *testing.T) {
	begin(t)
	needTool(t, "naabu")
	tg := startTarget(t)

	r := runTool(t, 3*time.Minute, "naabu", "127.0.0.1", tg.HTTPURL, "--ports", itoa(tg.HTTPPort), "--task-timeout", "2m")
	r.wantState(t, cli.ExitOK, "done", "completed", 0)

	warnings := only[*finding.Warning](r.Findings)
	want := fmt.Sprintf("target %q (url) skipped: naabu accepts ip, cidr, host", tg.HTTPURL)
	if len(warnings) != 1 || warnings[0].Message != want {
		t.Errorf("warnings %+v, want one: %s", warnings, want)
	}
	if tgts := only[*finding.Target](r.Findings); len(tgts) != 1 || tgts[0].Name != "127.0.0.1" || tgts[0].TargetType != "ip" {
		t.Errorf("target findings %+v, want only 127.0.0.1 (ip)", tgts)
	}
	if ports := only[*finding.Port](r.Findings); len(ports) != 1 || ports[0].Port != tg.HTTPPort || ports[0].IP != "127.0.0.1" {
		t.Errorf("port findings %+v, want 127.0.0.1:%d", ports, tg.HTTPPort)
	}
	if !slices.Equal(r.Meta.Targets, []string{"127.0.0.1", tg.HTTPURL}) {
		t.Errorf("run.json targets %q, want both as given", r.Meta.Targets)
	}
}

// TestCancelKeepsFindings cancels a run (as Ctrl-C does) once its first
// result is in findings.jsonl: sortie stops httpx, exits 3, records the run
// as cancelled and keeps what was written.
func TestCancelKeepsFindings(t *testing.T) {
	begin(t)
	needTool(t, "httpx")
	tg := startTarget(t)

	// One page that answers at once, then pages that answer in a minute:
	// httpx is still waiting for them when the run is cancelled.
	fast := tg.HTTPURL + "/about"
	args := []string{"x", "httpx", fast}
	for i := range 10 {
		args = append(args, fmt.Sprintf("%s/slow/p%02d?ms=60000", tg.HTTPURL, i))
	}
	dir := filepath.Join(t.TempDir(), "run")
	args = append(args, "--timeout", "120", "--task-timeout", "5m", "--stop-grace", "2s", "--out", dir, "--json", "-q")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *runResult, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		done <- sortie(t, ctx, nil, args...)
	}()
	// Whatever happens below, the run ends before the test does.
	t.Cleanup(func() { cancel(); <-exited })

	findingsFile := filepath.Join(dir, report.FindingsFile)
	var before []finding.Finding
	var finished *runResult
	waitFor(t, 2*time.Minute, "httpx's first url finding in findings.jsonl", func() bool {
		select {
		case finished = <-done:
			return true
		default:
		}
		_, fs, err := readFindings(findingsFile)
		if err != nil {
			return false // not there yet, or a line being written
		}
		before = fs
		return len(only[*finding.URL](fs)) > 0
	})
	if finished != nil {
		t.Fatalf("sortie ended (exit code %d) before any url finding reached findings.jsonl\nstderr:\n%s", finished.Code, finished.Stderr)
	}

	// Findings parsed from the same httpx line as the url (its technology)
	// reach the file too, though nothing follows them while httpx waits for
	// the slow pages (a minute). The deadline only bounds the wait; the
	// 100 ms figure is not asserted.
	flushed := func() bool {
		_, fs, err := readFindings(findingsFile)
		return err == nil && len(only[*finding.Technology](fs)) > 0
	}
	deadline := time.Now().Add(30 * time.Second)
	for !flushed() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	notFlushed := !flushed()

	cancel()
	var r *runResult
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("sortie did not return within a minute of the cancellation")
	}
	r.Dir = dir
	r.load(t)
	if r.Meta == nil {
		t.Fatalf("no run.json after the cancellation (exit code %d)\nstderr:\n%s", r.Code, r.Stderr)
	}
	checkRun(t, r, "httpx")
	if r.Code != cli.ExitPartial || r.Meta.State != "cancelled" || r.Meta.Reason != "cancelled" {
		t.Fatalf("exit code %d, state %q, reason %q; want %d, cancelled, cancelled\nstderr:\n%s", r.Code, r.Meta.State, r.Meta.Reason, cli.ExitPartial, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "httpx: partial results (cancelled)") {
		t.Errorf("stderr %q, want the partial results line", r.Stderr)
	}

	// Everything on disk before the cancellation is still there.
	after := map[string]bool{}
	for _, f := range r.Findings {
		after[f.Base().ID] = true
	}
	for _, f := range before {
		if !after[f.Base().ID] {
			t.Errorf("finding lost by the cancellation: %+v", f)
		}
	}
	urls := only[*finding.URL](r.Findings)
	if len(urls) != 1 || urls[0].URL != fast || urls[0].StatusCode != 200 || urls[0].Title != "About us" {
		t.Errorf("url findings %+v, want only %s (200, About us): the slow pages never answered", urls, fast)
	}
	if errs := only[*finding.Error](r.Findings); len(errs) > 0 {
		t.Errorf("error findings %+v: a cancellation is not an error", errs)
	}

	if notFlushed && len(only[*finding.Technology](r.Findings)) > 0 {
		t.Errorf("httpx's technology finding, parsed from the same line as the url, was not in findings.jsonl while httpx went quiet: " +
			"buffered findings must be flushed even when no other finding follows")
	}
}

// TestMemoryLimit stops httpx with a memory limit it is always above: the
// task ends partial (exit code 3) with a warning, at the first sample.
func TestMemoryLimit(t *testing.T) {
	begin(t)
	needTool(t, "httpx")
	tg := startTarget(t)

	r := runTool(t, 2*time.Minute, "httpx", tg.HTTPURL+"/slow/m1?ms=60000", tg.HTTPURL+"/slow/m2?ms=60000",
		"--timeout", "120", "--memory-limit", "1MiB", "--stop-grace", "2s")
	if r.Code != cli.ExitPartial || r.Meta.State != "partial" || r.Meta.Reason != "memory" {
		t.Fatalf("exit code %d, state %q, reason %q; want %d, partial, memory\nstderr:\n%s", r.Code, r.Meta.State, r.Meta.Reason, cli.ExitPartial, r.Stderr)
	}
	warnings := only[*finding.Warning](r.Findings)
	if want := "httpx was stopped after reaching its memory limit of 1 MiB; the findings so far are kept"; len(warnings) != 1 || warnings[0].Message != want {
		t.Errorf("warnings %+v, want one: %s", warnings, want)
	}
	if urls := only[*finding.URL](r.Findings); len(urls) != 0 {
		t.Errorf("url findings %+v, want none: the pages had not answered", urls)
	}
}

// TestTargetsFromStdinAndFile reads targets from stdin, and from -i FILE
// next to arguments.
func TestTargetsFromStdinAndFile(t *testing.T) {
	begin(t)
	needTool(t, "mapcidr")

	ipsOf := func(r *runResult) []string {
		var out []string
		for _, ip := range only[*finding.IP](r.Findings) {
			out = append(out, ip.IP)
		}
		slices.Sort(out)
		return out
	}

	t.Run("stdin", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "run")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r := sortie(t, ctx, []byte("# ranges\n127.0.0.0/30\n\n"), "x", "mapcidr", "--out", dir, "--json", "-q")
		r.Dir = dir
		r.load(t)
		if r.Meta == nil {
			t.Fatalf("no run.json (exit code %d)\nstderr:\n%s", r.Code, r.Stderr)
		}
		checkRun(t, r, "mapcidr")
		r.wantDone(t)
		if !slices.Equal(r.Meta.Targets, []string{"127.0.0.0/30"}) {
			t.Errorf("run.json targets %q, want [127.0.0.0/30] (comments and blank lines dropped)", r.Meta.Targets)
		}
		if got, want := ipsOf(r), []string{"127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"}; !slices.Equal(got, want) {
			t.Errorf("ips %q, want %q", got, want)
		}
	})

	t.Run("file", func(t *testing.T) {
		t.Parallel()
		list := filepath.Join(t.TempDir(), "targets.txt")
		if err := os.WriteFile(list, []byte("127.0.0.4/31\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runTool(t, time.Minute, "mapcidr", "127.0.0.0/31", "-i", list)
		r.wantDone(t)
		if !slices.Equal(r.Meta.Targets, []string{"127.0.0.0/31", "127.0.0.4/31"}) {
			t.Errorf("run.json targets %q, want the argument then the file's", r.Meta.Targets)
		}
		if got, want := ipsOf(r), []string{"127.0.0.0", "127.0.0.1", "127.0.0.4", "127.0.0.5"}; !slices.Equal(got, want) {
			t.Errorf("ips %q, want %q", got, want)
		}
	})
}

// TestUsageErrors checks mistakes on the command line: exit code 2, an
// error on stderr, and no run directory (nothing ran).
func TestUsageErrors(t *testing.T) {
	begin(t)
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown tool", []string{"x", "nosuchtool", "127.0.0.1"}, "nosuchtool"},
		{"unknown flag", []string{"x", "httpx", "http://127.0.0.1:1", "--no-such-flag"}, "no-such-flag"},
		{"bad option value", []string{"x", "httpx", "http://127.0.0.1:1", "--rate-limit", "fast"}, `"fast" is not a whole number`},
		{"option value like a flag", []string{"x", "httpx", "http://127.0.0.1:1", "--path", "-oops"}, "option path"},
		{"target like a flag", []string{"x", "httpx", "--", "-oops"}, "-oops"},
		{"no targets", []string{"x", "httpx"}, "no targets"},
		// katana takes URLs only: nothing to run.
		{"no target of the right type", []string{"x", "katana", "127.0.0.1"}, "katana: no target of a type the tool accepts (it accepts url)"},
		{"bad memory limit", []string{"x", "naabu", "127.0.0.1", "--memory-limit", "lots"}, "--memory-limit"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "run")
			args := slices.Clone(c.args)
			at := slices.Index(args, "--") // flags go before "--"
			if at < 0 {
				at = len(args)
			}
			args = slices.Insert(args, at, "--out", dir)
			r := sortie(t, context.Background(), nil, args...)
			if r.Code != cli.ExitUsage || !strings.HasPrefix(r.Stderr, "sortie: error: ") || !strings.Contains(r.Stderr, c.msg) {
				t.Errorf("exit code %d, stderr %q; want %d and an error mentioning %q", r.Code, r.Stderr, cli.ExitUsage, c.msg)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a usage error left a run directory (%v)", err)
			}
		})
	}
}
