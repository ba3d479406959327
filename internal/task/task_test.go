package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/runner"
	"github.com/sortie-sec/sortie/internal/target"
	"github.com/sortie-sec/sortie/internal/tool"
)

// The test binary doubles as a fake tool: the task runs it with "-fake=MODE"
// as its first argument, followed by the targets.
func TestMain(m *testing.M) {
	for i, a := range os.Args[1:] {
		if mode, ok := strings.CutPrefix(a, "-fake="); ok {
			fakeTool(mode, os.Args[i+2:])
			return
		}
	}
	goleak.VerifyTestMain(m)
}

func httpxLine(u string) string {
	return fmt.Sprintf(`{"url":%q,"host":"127.0.0.1","port":"8080","scheme":"http","status_code":200,"title":"T","tech":["Nginx:1.18.0"]}`, u)
}

func fakeTool(mode string, targets []string) {
	if fakeBoundsTool(mode) {
		os.Exit(0)
	}
	switch mode {
	case "lines":
		for _, t := range targets {
			fmt.Println(httpxLine(t))
		}
		fmt.Println("this is not json")
		fmt.Println(httpxLine(targets[0])) // a duplicate: same id
	case "hang":
		fmt.Println(httpxLine(targets[0]))
		os.Stdout.Sync()
		// The line is in the pipe: tests wait for this file, not for time.
		_ = os.WriteFile(printedMarker, nil, 0o600)
		select {} // until stopped
	case "c1-title":
		// httpx writes a page title's C1 control raw (valid UTF-8).
		fmt.Println(strings.Replace(httpxLine(targets[0]), `"title":"T"`, "\"title\":\"a\u009b[2Jb\"", 1))
	case "fail":
		fmt.Fprintln(os.Stderr, "fatal: boom")
		os.Exit(2)
	case "fail-second":
		if strings.HasSuffix(targets[0], ".2") {
			os.Exit(4)
		}
	case "echo-args":
		fmt.Fprintln(os.Stderr, "bad arguments:", strings.Join(os.Args[1:], " "))
		os.Exit(1)
	case "echo-secrets":
		echoSecrets()
	case "pwd":
		wd, _ := os.Getwd()
		fmt.Println(httpxLine("http://127.0.0.1/" + filepath.Base(wd) + "?home=" + filepath.Base(os.Getenv("HOME"))))
	}
	os.Exit(0)
}

// fakeDef is httpx's definition (its parser) running the fake tool.
func fakeDef(t *testing.T, mode string) *tool.Definition {
	t.Helper()
	d, ok := tool.NewRegistry().Lookup("httpx")
	if !ok {
		t.Fatal("no httpx definition")
	}
	c := *d
	c.Binary = os.Args[0]
	c.Fixed = []string{"-fake=" + mode}
	c.Input = tool.Input{Mode: tool.InputArg}
	c.Output = tool.Output{Format: tool.FormatJSONLines}
	return &c
}

type collector struct {
	mu sync.Mutex
	fs []finding.Finding
	ch chan finding.Finding
}

func (c *collector) emit(f finding.Finding) {
	c.mu.Lock()
	c.fs = append(c.fs, f)
	c.mu.Unlock()
	if c.ch != nil {
		select {
		case c.ch <- f:
		default:
		}
	}
}

func (c *collector) of(t finding.Type) []finding.Finding {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []finding.Finding
	for _, f := range c.fs {
		if f.Kind() == t {
			out = append(out, f)
		}
	}
	return out
}

func spec(t *testing.T, d *tool.Definition, c *collector, targets ...string) Spec {
	return Spec{
		Tool: d, Binary: d.Binary, Targets: targets, Dir: t.TempDir(), RawDir: t.TempDir(),
		Scope:          finding.Scope{Run: "run-1", Source: finding.Source{Tool: d.Name}},
		InterruptGrace: time.Minute, TerminateGrace: time.Minute, Emit: c.emit,
	}
}

func TestRunParsesAndCountsGarbage(t *testing.T) {
	t.Parallel()
	c := &collector{}
	s := spec(t, fakeDef(t, "lines"), c, "http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b", "/etc/passwd")
	res, err := Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != StateDone || res.Reason != "completed" {
		t.Errorf("state = %s (%s), want done (completed)", res.State, res.Reason)
	}
	urls := c.of(finding.TypeURL)
	if len(urls) != 3 { // two targets plus the duplicate line; ids dedupe later
		t.Fatalf("urls = %d, want 3", len(urls))
	}
	if urls[0].Base().ID != urls[2].Base().ID {
		t.Error("the duplicate line got a different id")
	}
	if got := urls[0].(*finding.URL); got.URL != "http://127.0.0.1:8080/a" || got.Base().Run != "run-1" || got.Base().Source.Tool != "httpx" {
		t.Errorf("first url = %+v", got)
	}
	if res.Parse.Garbage != 1 {
		t.Errorf("garbage = %d, want 1", res.Parse.Garbage)
	}
	var warnings []string
	for _, w := range c.of(finding.TypeWarning) {
		warnings = append(warnings, w.(*finding.Warning).Message)
	}
	joined := strings.Join(warnings, "\n")
	if !strings.Contains(joined, `"/etc/passwd" (path) skipped`) || !strings.Contains(joined, "1 lines of httpx output could not be read") {
		t.Errorf("warnings = %q", warnings)
	}
	if len(res.Skipped) != 1 || res.Skipped[0] != "/etc/passwd" {
		t.Errorf("skipped = %q", res.Skipped)
	}
	raw, err := os.ReadFile(filepath.Join(s.RawDir, "stdout.txt"))
	if err != nil || !strings.Contains(string(raw), "this is not json") {
		t.Errorf("raw stdout not kept: %v %q", err, raw)
	}
}

// printedMarker is the file the "hang" fake tool writes in its working
// directory once its line is written.
const printedMarker = "printed"

func TestRunTimeoutKeepsFindings(t *testing.T) {
	t.Parallel()
	// The time limit runs from before the tool starts. A loaded machine can
	// take longer than the limit to start the fake tool; the tool then never
	// printed, and the run tests nothing: the limit is doubled and the run
	// tried again, until the tool's marker says it printed before the limit.
	var (
		c   *collector
		s   Spec
		res Result
	)
	for timeout := time.Second; ; timeout *= 2 {
		c = &collector{ch: make(chan finding.Finding, 16)}
		s = spec(t, fakeDef(t, "hang"), c, "http://127.0.0.1:8080/x")
		s.Timeout = timeout
		s.InterruptGrace, s.TerminateGrace = 5*time.Second, 5*time.Second
		var err error
		if res, err = Run(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(s.Dir, printedMarker)); err == nil {
			break
		}
		if timeout > time.Minute {
			t.Fatalf("the fake tool did not print within %s", timeout)
		}
		t.Logf("the fake tool did not print within %s; trying again with twice as long", timeout)
	}
	if res.State != StatePartial || res.Reason != string(runner.ReasonTimeout) {
		t.Fatalf("state = %s (%s), want partial (timeout)", res.State, res.Reason)
	}
	if len(c.of(finding.TypeURL)) != 1 {
		t.Errorf("the finding printed before the timeout was lost")
	}
	if ws := c.of(finding.TypeWarning); len(ws) != 1 || !strings.Contains(ws[0].(*finding.Warning).Message, "time limit") {
		t.Errorf("warnings = %v", ws)
	}
}

// TestRunKeepsC1Line: a result whose page title holds a C1 control
// (U+009B) is a finding, and its line is in raw/; it is not an unreadable
// line.
func TestRunKeepsC1Line(t *testing.T) {
	t.Parallel()
	c := &collector{}
	s := spec(t, fakeDef(t, "c1-title"), c, "http://127.0.0.1:8080/x")
	res, err := Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != StateDone || res.Parse.Garbage != 0 {
		t.Errorf("state %s, %d unreadable lines; want done, 0", res.State, res.Parse.Garbage)
	}
	urls := c.of(finding.TypeURL)
	if len(urls) != 1 || urls[0].(*finding.URL).Title != "a\u009b[2Jb" {
		t.Fatalf("url findings = %v, want one titled a\\u009b[2Jb", urls)
	}
	raw, err := os.ReadFile(filepath.Join(s.RawDir, "stdout.txt"))
	if err != nil || !strings.Contains(string(raw), "\"title\":\"a\u009b[2Jb\"") {
		t.Errorf("raw/stdout.txt = %q, %v; want the line", raw, err)
	}
}

func TestRunCancelKeepsFindings(t *testing.T) {
	t.Parallel()
	c := &collector{ch: make(chan finding.Finding, 16)}
	s := spec(t, fakeDef(t, "hang"), c, "http://127.0.0.1:8080/x")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for f := range c.ch {
			if f.Kind() == finding.TypeURL {
				cancel()
				return
			}
		}
	}()
	res, err := Run(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != StateCancelled {
		t.Fatalf("state = %s, want cancelled", res.State)
	}
	if len(c.of(finding.TypeURL)) != 1 {
		t.Error("the finding printed before the cancel was lost")
	}
}

func TestRunToolFailure(t *testing.T) {
	t.Parallel()
	c := &collector{}
	res, err := Run(context.Background(), spec(t, fakeDef(t, "fail"), c, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.State != StateFailed || res.ExitCode != 2 {
		t.Fatalf("state = %s exit %d, want failed exit 2", res.State, res.ExitCode)
	}
	errs := c.of(finding.TypeError)
	if len(errs) != 1 {
		t.Fatalf("errors = %d, want 1", len(errs))
	}
	e := errs[0].(*finding.Error)
	if e.Message != "httpx exited with code 2" || len(e.OutputTail) != 1 || e.OutputTail[0] != "fatal: boom" {
		t.Errorf("error finding = %+v", e)
	}
}

func TestRunOKExitCode(t *testing.T) {
	t.Parallel()
	d := fakeDef(t, "fail")
	d.OKExitCodes = []int{2}
	res, err := Run(context.Background(), spec(t, d, &collector{}, "127.0.0.1"))
	if err != nil || res.State != StateDone {
		t.Fatalf("state = %s, err = %v; exit 2 is declared normal", res.State, err)
	}
}

func TestRunMissingBinary(t *testing.T) {
	t.Parallel()
	d := fakeDef(t, "lines")
	d.Binary = filepath.Join(t.TempDir(), "no-such-tool")
	res, err := Run(context.Background(), spec(t, d, &collector{}, "127.0.0.1"))
	if !errors.Is(err, runner.ErrNotFound) || res.State != StateFailed {
		t.Fatalf("err = %v, state = %s; want ErrNotFound, failed", err, res.State)
	}
}

func TestRunRejectsTargets(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"-oX", "a\x00b", "x\ny", ""} {
		_, err := Run(context.Background(), spec(t, fakeDef(t, "lines"), &collector{}, "127.0.0.1", bad))
		var rte *RejectedTargetError
		if !errors.As(err, &rte) {
			t.Errorf("target %q: err = %v, want a RejectedTargetError", bad, err)
		}
	}
	_, err := Run(context.Background(), spec(t, fakeDef(t, "lines"), &collector{}, "user@example.com"))
	if !errors.Is(err, ErrNoTargets) {
		t.Errorf("only unaccepted targets: err = %v, want ErrNoTargets", err)
	}
}

func TestRunSingleTargetDirs(t *testing.T) {
	t.Parallel()
	d := fakeDef(t, "pwd")
	d.SingleTarget = true
	c := &collector{}
	res, err := Run(context.Background(), spec(t, d, c, "127.0.0.1", "127.0.0.2"))
	if err != nil || len(res.Commands) != 2 {
		t.Fatalf("err = %v, commands = %d, want 2 runs", err, len(res.Commands))
	}
	var got []string
	for _, u := range c.of(finding.TypeURL) {
		got = append(got, u.(*finding.URL).URL)
	}
	// Each run has its own working directory, which is also its HOME.
	want := "http://127.0.0.1/001?home=001 http://127.0.0.1/002?home=002"
	if strings.Join(got, " ") != want {
		t.Errorf("urls = %q, want %q", got, want)
	}
}

func TestCheckTargets(t *testing.T) {
	t.Parallel()
	ts, err := CheckTargets([]string{"Example.COM.", "10.0.0.0/24"})
	if err != nil || ts[0].Type != target.Host || ts[0].Value != "example.com" || ts[1].Type != target.CIDR {
		t.Errorf("CheckTargets = %+v, %v", ts, err)
	}
}

func TestRunSingleTargetFailureDecides(t *testing.T) {
	t.Parallel()
	d := fakeDef(t, "fail-second")
	d.SingleTarget = true
	res, err := Run(context.Background(), spec(t, d, &collector{}, "127.0.0.1", "127.0.0.2", "127.0.0.3"))
	if err != nil {
		t.Fatal(err)
	}
	if res.State != StateFailed || res.ExitCode != 4 || res.Reason != "exit-code" || len(res.Commands) != 3 {
		t.Errorf("state %s, exit %d, reason %s, %d runs; want failed, 4, exit-code, 3 runs",
			res.State, res.ExitCode, res.Reason, len(res.Commands))
	}
}

func TestRunRedactsSecretsInOutputTail(t *testing.T) {
	t.Parallel()
	c := &collector{}
	s := spec(t, fakeDef(t, "echo-args"), c, "127.0.0.1")
	s.Options = map[string][]string{"header": {"Authorization: Bearer s3cr3t"}}
	if _, err := Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	errs := c.of(finding.TypeError)
	if len(errs) != 1 {
		t.Fatalf("errors = %d", len(errs))
	}
	tail := strings.Join(errs[0].(*finding.Error).OutputTail, "\n")
	if strings.Contains(tail, "s3cr3t") || !strings.Contains(tail, "[REDACTED]") {
		t.Errorf("output tail = %q, want the header redacted", tail)
	}
}
