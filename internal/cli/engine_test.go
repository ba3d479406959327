package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/worker"
)

// fleet is a sortie server and one in-process worker, for CLI tests of the
// commands that talk to a server.
type fleet struct {
	url      string
	toolsDir string
}

func startFleet(t *testing.T) *fleet {
	t.Helper()
	port := enginetest.FreePort(t)
	srv, err := engine.StartServer(engine.ServerConfig{Listen: "127.0.0.1:" + strconv.Itoa(port), Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	f := &fleet{url: srv.ClientURL(), toolsDir: enginetest.ToolsDir(t)}
	e, err := engine.Open(context.Background(), engine.Config{Server: f.url, SigningKey: enginetest.Key(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	enginetest.StartWorker(t, e, worker.Config{ID: "test-worker", Concurrency: 2})
	return f
}

// sortie runs the CLI in-process against the fleet.
func (f *fleet) sortie(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--server", f.url, "--tools-dir", f.toolsDir)
	if args[0] == "x" {
		// Signed with the key the fleet's worker trusts.
		args = append(args, "--signing-key", enginetest.KeyFile(t))
	}
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestDetachAttachShowReport(t *testing.T) {
	t.Parallel()
	f := startFleet(t)
	stdout, stderr, code := f.sortie(t, "x", "faketool", "a.test", "b.test", "c.test", "--chunk-size", "1", "--lines", "2", "--detach")
	if code != 0 {
		t.Fatalf("x --detach: exit %d\n%s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	if !strings.Contains(stderr, "sortie runs attach "+id) {
		t.Errorf("no attach hint: %s", stderr)
	}
	dir := filepath.Join(t.TempDir(), "attached")
	stdout, stderr, code = f.sortie(t, "runs", "attach", id, "--out", dir, "-q")
	if code != 0 {
		t.Fatalf("runs attach: exit %d\n%s", code, stderr)
	}
	if n := strings.Count(stdout, "[url]"); n != 6 {
		t.Errorf("attach showed %d urls, want 6:\n%s", n, stdout)
	}
	data, err := os.ReadFile(filepath.Join(dir, "findings.jsonl"))
	if err != nil || strings.Count(string(data), `"_type":"url"`) != 6 {
		t.Errorf("attached findings.jsonl: %v\n%s", err, data)
	}

	stdout, stderr, code = f.sortie(t, "runs", "show", id, "--json")
	if code != 0 {
		t.Fatalf("runs show: exit %d\n%s", code, stderr)
	}
	var det runDetail
	if err := json.Unmarshal([]byte(stdout), &det); err != nil {
		t.Fatalf("runs show --json: %v\n%s", err, stdout)
	}
	if det.Run.State != engine.RunDone || len(det.Chunks) != 3 || len(det.Tasks) != 1 || det.Tasks[0].States[engine.ChunkDone] != 3 {
		t.Errorf("runs show: %+v", det)
	}
	for _, c := range det.Chunks {
		if c.Attempt != 1 || c.Worker != "test-worker" || c.Findings != 3 {
			t.Errorf("chunk %s: attempt %d worker %q findings %d", c.ID, c.Attempt, c.Worker, c.Findings)
		}
	}

	// runs report --out refuses a directory that is not empty (issue 7):
	// its files, and what links planted there point to, are left alone.
	busy := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	for p, content := range map[string]string{filepath.Join(busy, "notes.txt"): "mine\n", victim: "half a li"} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(victim, filepath.Join(busy, "findings.jsonl")); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = f.sortie(t, "runs", "report", id, "--out", busy)
	if code != ExitUsage || !strings.Contains(stderr, "is not empty") || !strings.Contains(stderr, "hint: give --out a new directory") {
		t.Errorf("runs report --out into a non-empty directory: exit %d, want %d\n%s", code, ExitUsage, stderr)
	}
	if b, _ := os.ReadFile(victim); string(b) != "half a li" {
		t.Errorf("runs report wrote through a planted link: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(busy, "notes.txt")); string(b) != "mine\n" {
		t.Errorf("notes.txt = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(busy, "run.json")); err == nil {
		t.Error("runs report wrote run.json into a non-empty directory")
	}

	rep := filepath.Join(t.TempDir(), "report")
	if _, stderr, code = f.sortie(t, "runs", "report", id, "--out", rep); code != 0 {
		t.Fatalf("runs report: exit %d\n%s", code, stderr)
	}
	m, err := os.ReadFile(filepath.Join(rep, "run.json"))
	if err != nil || !strings.Contains(string(m), `"state": "done"`) {
		t.Errorf("report run.json: %v\n%s", err, m)
	}
	again, _ := os.ReadFile(filepath.Join(rep, "findings.jsonl"))
	if strings.Count(string(again), `"_type":"url"`) != 6 {
		t.Errorf("report findings.jsonl:\n%s", again)
	}

	stdout, _, code = f.sortie(t, "runs")
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "done") {
		t.Errorf("runs list (exit %d):\n%s", code, stdout)
	}
	stdout, _, code = f.sortie(t, "workers")
	if code != 0 || !strings.Contains(stdout, "test-worker") {
		t.Errorf("workers (exit %d):\n%s", code, stdout)
	}
}

func TestCancelRemoteRun(t *testing.T) {
	t.Parallel()
	f := startFleet(t)
	stdout, stderr, code := f.sortie(t, "x", "faketool", "a.test", "b.test", "c.test", "d.test", "--chunk-size", "1", "--sleep", "1m", "--detach")
	if code != 0 {
		t.Fatalf("x --detach: exit %d\n%s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	e, err := engine.Open(context.Background(), engine.Config{Server: f.url, SigningKey: enginetest.Key(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Two chunks run (the worker has two slots), two wait.
	enginetest.WaitFor(t, "two chunks running", time.Minute, func(ctx context.Context) (bool, error) {
		cs, err := e.Chunks(ctx, id)
		n := 0
		for _, c := range cs {
			if c.State == engine.ChunkRunning {
				n++
			}
		}
		return n == 2, err
	})
	stdout, stderr, code = f.sortie(t, "runs", "cancel", id)
	if code != 0 || strings.TrimSpace(stdout) != "run "+id+" cancelled" {
		t.Fatalf("runs cancel: exit %d\n%s%s", code, stdout, stderr)
	}
	cs, err := e.Chunks(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var found int
	for _, c := range cs {
		if c.State != engine.ChunkCancelled {
			t.Errorf("chunk %s: %s, want cancelled", c.ID, c.State)
		}
		found += c.Findings
	}
	if len(cs) != 4 {
		t.Errorf("%d chunk records, want 4", len(cs))
	}
	// The two chunks that ran printed their first line before sleeping:
	// those findings are kept (plus their target findings).
	var urls int
	if err := e.ReadFindings(context.Background(), id, func(b []byte) {
		if bytes.Contains(b, []byte(`"_type":"url"`)) {
			urls++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if urls != 2 {
		t.Errorf("%d url findings kept, want the 2 printed before the cancel", urls)
	}
}

// A local run whose sortie process is SIGKILLed mid-way resumes: chunks that
// finished are not run again, and no finding is lost or duplicated.
func TestResumeAfterKill(t *testing.T) {
	t.Setenv("PATH", enginetest.BuildDir(t)+":"+os.Getenv("PATH"))
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	tools := enginetest.ToolsDir(t)
	dir := filepath.Join(t.TempDir(), "run")
	p := enginetest.Start(t, "sortie x", "x", "faketool", "a.test", "b.test", "c.test", "d.test", "--tools-dir", tools,
		"--chunk-size", "1", "--concurrency", "1", "--sleep", "1500ms", "--out", dir, "--json")
	// Kill it once the second chunk has printed its finding (the first
	// chunk is done by then: chunks run one at a time).
	p.WaitOutput(t, "http://b.test/0", time.Minute)
	p.Signal(t, syscall.SIGKILL)
	<-p.Done()
	findings := filepath.Join(dir, "findings.jsonl")
	// A crash mid-write leaves half a line; resuming must not glue the
	// next finding to it (issue 7).
	f, err := os.OpenFile(findings, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"_type":"url","_id":"0123456789abcdef","url":"http://torn.te`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// findings.jsonl swapped for a link to a file outside the run: resume
	// refuses it, and the file keeps its content (issue 7).
	moved := filepath.Join(t.TempDir(), "moved.jsonl")
	if err := os.Rename(findings, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, findings); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(moved)
	var rout, rerr bytes.Buffer
	if code := Main(context.Background(), []string{"runs", "resume", dir, "--tools-dir", tools, "--json"}, nil, &rout, &rerr); code == 0 || !strings.Contains(rerr.String(), "symbolic link") {
		t.Errorf("runs resume through a linked findings.jsonl: exit %d, want an error naming the link\n%s", code, rerr.String())
	}
	if after, _ := os.ReadFile(moved); !bytes.Equal(after, before) {
		t.Errorf("resume wrote through the link:\nbefore %q\nafter  %q", before, after)
	}
	if err := os.Remove(findings); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, findings); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"runs", "show", dir}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "running") {
		t.Fatalf("runs show after kill: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := Main(context.Background(), []string{"runs", "resume", dir, "--tools-dir", tools, "--json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("runs resume: exit %d\n%s", code, errb.String())
	}
	// Only what the first process had not written is shown again.
	if strings.Contains(out.String(), "http://a.test/0") {
		t.Errorf("resume showed a finding of a chunk finished before the kill:\n%s", out.String())
	}
	data2, err := os.ReadFile(findings)
	if err != nil {
		t.Fatal(err)
	}
	// Whole lines only: every line is a finding, the file ends a line.
	if !bytes.HasSuffix(data2, []byte("\n")) {
		t.Errorf("findings.jsonl does not end with a whole line")
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(data2, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			t.Errorf("findings.jsonl line %d is not a whole finding: %q", i+1, line)
		}
	}
	for _, u := range []string{"a", "b", "c", "d"} {
		if n := strings.Count(string(data2), `"url":"http://`+u+`.test/0"`); n != 1 {
			t.Errorf("%s.test: %d url findings, want 1", u, n)
		}
	}
	out.Reset()
	if code := Main(context.Background(), []string{"runs", "show", dir, "--json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("runs show: exit %d", code)
	}
	var det runDetail
	if err := json.Unmarshal(out.Bytes(), &det); err != nil {
		t.Fatal(err)
	}
	if det.Run.State != engine.RunDone {
		t.Errorf("run state %s, want done", det.Run.State)
	}
	for _, c := range det.Chunks {
		want := 1
		if c.ID == "1" {
			want = 2 // running when the process was killed
		}
		if c.State != engine.ChunkDone || c.Attempt != want {
			t.Errorf("chunk %s: %s attempt %d, want done attempt %d", c.ID, c.State, c.Attempt, want)
		}
	}
}

// Any standard NATS server with JetStream works as the engine, not only
// "sortie server": here the stock nats-server binary (the version sortie
// embeds, built from its module).
func TestStockNATSServer(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "nats-server")
	build := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	port := enginetest.FreePort(t)
	srv := exec.Command(bin, "-js", "-sd", t.TempDir(), "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	var log bytes.Buffer
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("nats-server:\n%s", log.String())
		}
	})
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	var e *engine.Engine
	enginetest.WaitFor(t, "nats-server accepting clients", time.Minute, func(ctx context.Context) (bool, error) {
		var err error
		e, err = engine.Open(ctx, engine.Config{Server: url, SigningKey: enginetest.Key(t)})
		return err == nil, err
	})
	t.Cleanup(func() { e.Close() })
	enginetest.StartWorker(t, e, worker.Config{Concurrency: 2})
	f := &fleet{url: url, toolsDir: enginetest.ToolsDir(t)}
	stdout, stderr, code := f.sortie(t, "x", "faketool", "a.test", "b.test", "--chunk-size", "1", "-q", "--out", filepath.Join(t.TempDir(), "run"))
	if code != 0 || strings.Count(stdout, "[url]") != 2 {
		t.Fatalf("x against nats-server: exit %d\n%s%s", code, stdout, stderr)
	}
}
