package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sortie-sec/sortie/internal/cli"
	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/install"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/testtarget"
	"github.com/sortie-sec/sortie/internal/tool"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// begin starts an integration test: skipped under -short, parallel
// otherwise.
func begin(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs real tools (drop -short to run it)")
	}
	t.Parallel()
}

// strict reports whether missing tools fail the tests instead of skipping
// them (scripts/test sets it after installing every tool).
func strict() bool { return os.Getenv("SORTIE_INTEGRATION") == "1" }

// missing skips the test, or fails it under SORTIE_INTEGRATION=1, because
// something it needs is not installed.
func missing(t *testing.T, what, install string) {
	t.Helper()
	if strict() {
		t.Fatalf("%s is not installed (SORTIE_INTEGRATION=1 requires it): install it with %q", what, install)
	}
	t.Skipf("%s is not installed; install it with %q (or set SORTIE_INTEGRATION=1 to fail instead)", what, install)
}

// needTool checks that the tool's binary is where "sortie x" will look for
// it and returns its path.
func needTool(t *testing.T, name string) string {
	t.Helper()
	d, ok := tool.NewRegistry().Lookup(name)
	if !ok {
		t.Fatalf("no built-in tool %q", name)
	}
	data, err := report.DataDir()
	if err != nil {
		t.Fatal(err)
	}
	in := &install.Installer{BinDir: filepath.Join(data, "bin")}
	bin, err := in.Locate(d)
	if errors.Is(err, install.ErrMissing) {
		missing(t, fmt.Sprintf("%s (binary %s)", name, d.Binary), "go run ./cmd/sortie install "+name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// needCommand checks that a program the test itself runs (a service, git)
// is installed and returns its path.
func needCommand(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} { // not on every PATH
			if q := filepath.Join(dir, name); isExecutable(q) {
				return q
			}
		}
		missing(t, name, "apt-get install "+debianPackage)
	}
	return p
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// runResult is what one "sortie" command left behind.
type runResult struct {
	Code           int
	Stdout, Stderr string
	// Dir is the run directory (--out).
	Dir string
	// Meta is run.json, nil when the command wrote none.
	Meta *report.Meta
	// Findings are the decoded lines of findings.jsonl, in file order.
	Findings []finding.Finding
	// lines are the raw lines of findings.jsonl.
	lines []string
}

// runTool runs "sortie x TOOL ARGS... --out DIR --json -q" in process with
// a deadline, reads the run directory and checks what every run must
// satisfy (see checkRun).
func runTool(t *testing.T, timeout time.Duration, toolName string, args ...string) *runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "run")
	argv := append([]string{"x", toolName}, args...)
	argv = append(argv, "--out", dir, "--json", "-q")
	r := sortie(t, ctx, nil, argv...)
	r.Dir = dir
	r.load(t)
	if r.Meta == nil {
		t.Fatalf("sortie %s: no run.json in %s (exit code %d)\nstderr:\n%s", strings.Join(argv, " "), dir, r.Code, r.Stderr)
	}
	checkRun(t, r, toolName)
	return r
}

// sortie runs the CLI in process. stdin may be nil (no input).
func sortie(t *testing.T, ctx context.Context, stdin []byte, args ...string) *runResult {
	t.Helper()
	var stdout, stderr lockedBuffer
	start := time.Now()
	code := cli.Main(ctx, args, bytes.NewReader(stdin), &stdout, &stderr)
	t.Logf("sortie %s: exit code %d after %s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond))
	return &runResult{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
}

// load reads run.json and findings.jsonl from r.Dir.
func (r *runResult) load(t *testing.T) {
	t.Helper()
	if m, err := report.ReadMeta(r.Dir); err == nil {
		r.Meta = m
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	lines, fs, err := readFindings(filepath.Join(r.Dir, report.FindingsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	r.lines, r.Findings = lines, fs
}

// readFindings decodes a findings.jsonl file; a line that does not decode
// is an error (the writer writes whole lines).
func readFindings(path string) ([]string, []finding.Finding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var lines []string
	var fs []finding.Finding
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		f, err := finding.Decode(sc.Bytes())
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		lines = append(lines, sc.Text())
		fs = append(fs, f)
	}
	return lines, fs, sc.Err()
}

// checkRun checks what holds for every "sortie x" run: findings.jsonl has
// each id once; every finding is stamped with the run (run.json's id) and
// the tool, and its id derives from its identity; the
// JSON lines on stdout (--json) are exactly the lines of findings.jsonl; and
// run.json counts what the file holds.
func checkRun(t *testing.T, r *runResult, toolName string) {
	t.Helper()
	runID := r.Meta.ID
	if runID == "" {
		t.Errorf("run.json has no run id")
	}
	seen := map[string]int{}
	counts := map[finding.Type]int{}
	for i, f := range r.Findings {
		m := f.Base()
		if prev, dup := seen[m.ID]; dup {
			t.Errorf("findings.jsonl: line %d repeats the _id %s of line %d: %s", i+1, m.ID, prev+1, r.lines[i])
		}
		seen[m.ID] = i
		counts[m.Type]++
		if m.Run != runID || m.Source.Tool != toolName || m.TS.IsZero() || m.Type != f.Kind() {
			t.Errorf("findings.jsonl: line %d: _run %q, _source.tool %q, _type %q, _ts %v; want run %q, tool %q, type %q and a time",
				i+1, m.Run, m.Source.Tool, m.Type, m.TS, runID, toolName, f.Kind())
		}
		// The id is a function of the run and the identity fields.
		if want := finding.ID(runID, f.Kind(), f.Identity()); m.ID != want {
			t.Errorf("findings.jsonl: line %d: _id %s, want %s from its identity %q", i+1, m.ID, want, f.Identity())
		}
	}
	stdoutLines := splitLines(r.Stdout)
	if !slices.Equal(stdoutLines, r.lines) {
		t.Errorf("--json stdout (%d lines) differs from findings.jsonl (%d lines)\nstdout:\n%s\nfindings.jsonl:\n%s",
			len(stdoutLines), len(r.lines), r.Stdout, strings.Join(r.lines, "\n"))
	}
	for typ, n := range counts {
		if r.Meta.Counts[typ] != n {
			t.Errorf("run.json counts[%s] = %d, findings.jsonl has %d", typ, r.Meta.Counts[typ], n)
		}
	}
	if r.Meta.Tool != toolName || r.Meta.Kind != "task" || r.Meta.Finished == nil {
		t.Errorf("run.json: tool %q kind %q finished %v; want %q, task, a time", r.Meta.Tool, r.Meta.Kind, r.Meta.Finished, toolName)
	}
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// wantState checks the exit code of the command and the state, reason and
// tool exit code recorded in run.json.
func (r *runResult) wantState(t *testing.T, code int, state, reason string, toolExit int) {
	t.Helper()
	if r.Code != code || r.Meta.State != state || r.Meta.Reason != reason || r.Meta.ExitCode != toolExit {
		t.Fatalf("exit code %d, run.json state %q reason %q exit_code %d; want %d, %q, %q, %d\nstderr:\n%s\nfindings:\n%s",
			r.Code, r.Meta.State, r.Meta.Reason, r.Meta.ExitCode, code, state, reason, toolExit, r.Stderr, strings.Join(r.lines, "\n"))
	}
}

// wantDone checks a run that completed normally: exit code 0, state done,
// no error or warning findings.
func (r *runResult) wantDone(t *testing.T) {
	t.Helper()
	r.wantState(t, cli.ExitOK, "done", "completed", 0)
	r.wantNoProblems(t)
}

// wantNoProblems checks that the run reported no error and no warning.
func (r *runResult) wantNoProblems(t *testing.T) {
	t.Helper()
	for _, f := range r.Findings {
		switch f := f.(type) {
		case *finding.Error:
			t.Errorf("error finding: %s (exit code %d, output %q)", f.Message, f.ExitCode, f.OutputTail)
		case *finding.Warning:
			t.Errorf("warning finding: %s", f.Message)
		}
	}
	if r.Meta.Garbage != 0 {
		t.Errorf("run.json unparsed_lines = %d, want 0", r.Meta.Garbage)
	}
}

// only returns the findings of one Go type, in order.
func only[T finding.Finding](fs []finding.Finding) []T {
	var out []T
	for _, f := range fs {
		if v, ok := f.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// rawFile reads a file of the run's raw/ directory.
func (r *runResult) rawFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir, report.RawDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startTarget starts the loopback test site for one test.
func startTarget(t *testing.T) *testtarget.Target {
	t.Helper()
	tg, err := testtarget.Start(context.Background(), testtarget.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.Close)
	return tg
}

// closedPort returns a TCP port of 127.0.0.1 that nothing listens on (it
// was free a moment ago; nothing in these tests binds fixed ports).
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// listenLoopback listens on a free TCP port of 127.0.0.1 and closes the
// listener when the test ends.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// waitFor polls cond every 20ms until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers and readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testdata returns the absolute path of a file under testdata/: tools run
// in their own working directory, so paths given to them must be absolute.
func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

// sortedKeys returns a set's members, sorted, for messages and comparisons.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// fetch gets a page of the test site and returns its status and length.
func fetch(t *testing.T, url string) (status int, length int64) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, n
}

// startTarpit listens on a free port of 127.0.0.1, accepts connections and
// never writes or closes them until the test ends. It returns the port.
func startTarpit(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}
