package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

func TestMain(m *testing.M) { os.Exit(enginetest.Main(m)) }

// Deadlines that only bound waits; none is a performance assertion.
const (
	startTimeout = 60 * time.Second
	runTimeout   = 2 * time.Minute
	stepTimeout  = 60 * time.Second
)

// server starts "sortie server" listening on addr (a free loopback port when
// "") with its store in dir, and returns it with its client URL.
func server(t *testing.T, addr, dir string, extra ...string) (*enginetest.Proc, string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t))
	}
	args := append([]string{"server", "--listen", addr, "--data", dir, "--log-level", "warn"}, extra...)
	p := enginetest.Start(t, "server "+addr, args...)
	p.WaitOutput(t, "sortie server listening", startTimeout)
	return p, "nats://" + addr
}

// connect opens the engine of a server from the test process: the test
// submits, cancels and inspects runs through it.
func connect(t *testing.T, url string, replicas int) *engine.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	e, err := engine.Open(ctx, engine.Config{Server: url, Replicas: replicas, Name: "chaos-test", SigningKey: enginetest.Key(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// jetStream is a raw client, for what the engine does not expose: stream
// leaders, queue depth, and publishing poison messages.
func jetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	if tok, err := engine.LocalToken(false); err == nil { // what "sortie server" on loopback requires
		opts = append(opts, nats.Token(tok))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// worker starts "sortie worker" against url with the fake tool; extra flags
// follow the defaults of these tests (one slot, a 3s lease).
func worker(t *testing.T, name, url string, extra ...string) *enginetest.Proc {
	t.Helper()
	args := append([]string{"--lease", "3s", "--grace", "10s", "--concurrency", "1"}, extra...)
	return enginetest.Worker(t, name, url, args...)
}

// startWorker is worker without waiting for the worker to say it started:
// for workers that may die first.
func startWorker(t *testing.T, name, url string, extra ...string) *enginetest.Proc {
	t.Helper()
	args := append([]string{"worker", "--server", url, "--tools-dir", enginetest.ToolsDir(t), "--id", name, "--log-format", "json", "--trust", enginetest.TrustFile(t),
		"--lease", "3s", "--grace", "10s", "--concurrency", "1"}, extra...)
	return enginetest.Start(t, name, args...)
}

// targets returns n loopback addresses 127.0.0.1 ... 127.0.0.n.
func targets(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.0.0.%d", i+1)
	}
	return out
}

// urlsOf is what the fake tool prints for targets: lines urls each.
func urlsOf(targets []string, lines int) []string {
	var out []string
	for _, t := range targets {
		for i := 0; i < lines; i++ {
			out = append(out, fmt.Sprintf("http://%s/%d", t, i))
		}
	}
	return out
}

// opts is the fake tool's options: lines per target, pause after each.
func opts(lines int, sleep string, more ...string) map[string][]string {
	o := map[string][]string{"lines": {strconv.Itoa(lines)}, "sleep": {sleep}}
	for i := 0; i+1 < len(more); i += 2 {
		o[more[i]] = []string{more[i+1]}
	}
	return o
}

// submit plans a run of one faketool task, id "1".
func submit(t *testing.T, e *engine.Engine, id string, tp engine.TaskPlan) {
	t.Helper()
	tp.ID, tp.Tool = "1", "faketool"
	submitPlan(t, e, engine.Plan{
		Run:   engine.RunRecord{ID: id, Kind: "task", Tool: "faketool", Targets: len(tp.Targets)},
		Tasks: []engine.TaskPlan{tp},
	})
}

func submitPlan(t *testing.T, e *engine.Engine, p engine.Plan) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if err := e.Submit(ctx, p); err != nil {
		t.Fatal(err)
	}
}

// waitRun waits for the run to finish and returns its record.
func waitRun(t *testing.T, e *engine.Engine, id string) engine.RunRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	r, err := e.WaitRun(ctx, id)
	if err != nil {
		t.Fatalf("run %s did not finish: %v", id, err)
	}
	return r
}

// runDone delivers the run's final record once it has finished; the test
// fails if waiting for it fails.
func runDone(t *testing.T, e *engine.Engine, id string) <-chan engine.RunRecord {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	ch := make(chan engine.RunRecord, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r, err := e.WaitRun(ctx, id)
		if err != nil {
			t.Errorf("wait for run %s: %v", id, err)
			return
		}
		ch <- r
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ch
}

// found is a run's findings as stored.
type found struct {
	// urls counts the url findings by url.
	urls     map[string]int
	errors   []string
	warnings []string
}

// readFindings reads every finding of the run and fails the test on a
// finding id stored twice.
func readFindings(t *testing.T, e *engine.Engine, run string) found {
	t.Helper()
	f := found{urls: map[string]int{}}
	ids := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	err := e.ReadFindings(ctx, run, func(b []byte) {
		var v struct {
			Type    string `json:"_type"`
			ID      string `json:"_id"`
			URL     string `json:"url"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("unreadable finding %s: %v", b, err)
			return
		}
		if prev, dup := ids[v.ID]; dup {
			t.Errorf("finding id %s stored twice:\n%s\n%s", v.ID, prev, b)
		}
		ids[v.ID] = string(b)
		switch v.Type {
		case "url":
			f.urls[v.URL]++
		case "error":
			f.errors = append(f.errors, v.Message)
		case "warning":
			f.warnings = append(f.warnings, v.Message)
		}
	})
	if err != nil {
		t.Fatalf("read findings of %s: %v", run, err)
	}
	return f
}

// assertURLs checks that the url findings are exactly want, each once.
func assertURLs(t *testing.T, f found, want []string) {
	t.Helper()
	for _, u := range want {
		if f.urls[u] != 1 {
			t.Errorf("url %s stored %d times, want once", u, f.urls[u])
		}
	}
	for u := range f.urls {
		if !slices.Contains(want, u) {
			t.Errorf("unexpected url finding %s", u)
		}
	}
}

// chunks reads the run's chunk records by id.
func chunks(t *testing.T, e *engine.Engine, run string) map[string]engine.ChunkRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	cs, err := e.Chunks(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]engine.ChunkRecord{}
	for _, c := range cs {
		out[c.Task+"."+c.ID] = c
	}
	return out
}

// task reads one task record of the run.
func task(t *testing.T, e *engine.Engine, run, id string) engine.TaskRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	ts, err := e.Tasks(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if tr.ID == id {
			return tr
		}
	}
	t.Fatalf("run %s has no task %s (tasks %+v)", run, id, ts)
	return engine.TaskRecord{}
}

func deadLetters(t *testing.T, e *engine.Engine, run string) []engine.DeadLetter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	dls, err := e.DeadLetters(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	return dls
}

// assertChunk checks a chunk record's final state, attempt and owner
// ("" skips the owner).
func assertChunk(t *testing.T, c engine.ChunkRecord, state engine.ChunkState, attempt int, owner string) {
	t.Helper()
	if c.State != state || c.Attempt != attempt || owner != "" && c.Worker != owner {
		t.Errorf("chunk %s.%s: state %s attempt %d worker %q (reason %q), want %s attempt %d worker %q",
			c.Task, c.ID, c.State, c.Attempt, c.Worker, c.Reason, state, attempt, owner)
	}
}

// queueDrained waits until the work queue holds no message: every chunk
// was acknowledged or removed as a dead letter.
func queueDrained(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	enginetest.WaitFor(t, "work queue drained", stepTimeout, func(ctx context.Context) (bool, error) {
		s, err := js.Stream(ctx, engine.WorkStream)
		if err != nil {
			return false, err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return false, err
		}
		return info.State.Msgs == 0, fmt.Errorf("%d messages left", info.State.Msgs)
	})
}

// exitedKilled reports whether the process ended by SIGKILL.
func exitedKilled(p *enginetest.Proc) bool {
	ws, ok := p.Cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// count is the number of times s appears in the process's output.
func count(p *enginetest.Proc, s string) int { return strings.Count(p.Output(), s) }

// watch follows a run's findings as they are stored, so a test can wait
// for a given url instead of sleeping.
type watch struct {
	mu      sync.Mutex
	urls    map[string]bool
	changed chan struct{}
}

func follow(t *testing.T, e *engine.Engine, run string) *watch {
	t.Helper()
	w := &watch{urls: map[string]bool{}, changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	_, err := e.FollowFindings(ctx, run, func(b []byte) {
		var v struct {
			Type string `json:"_type"`
			URL  string `json:"url"`
		}
		if json.Unmarshal(b, &v) != nil || v.Type != "url" {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.urls[v.URL] = true
		close(w.changed)
		w.changed = make(chan struct{})
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// wait blocks until every url is stored.
func (w *watch) wait(t *testing.T, urls ...string) {
	t.Helper()
	deadline := time.NewTimer(stepTimeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		missing := slices.DeleteFunc(slices.Clone(urls), func(u string) bool { return w.urls[u] })
		ch := w.changed
		w.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("findings %v not stored within %s", missing, stepTimeout)
		}
	}
}
