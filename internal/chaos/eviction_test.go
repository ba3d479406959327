package chaos_test

import (
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/sortie-sec/sortie/internal/engine"
)

// A worker evicted with --eviction finalize stops its tool, keeps what it
// printed, completes the chunk as partial and exits 0; the fan-in proceeds.
func TestWorkerSIGTERMFinalize(t *testing.T) {
	t.Parallel()
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	w1 := worker(t, "w1", url, "--eviction", "finalize")
	found := follow(t, e, "finalize")

	// The tool prints the first target's lines, then sleeps far longer
	// than the test: only the eviction ends it.
	tg := targets(3)
	submit(t, e, "finalize", engine.TaskPlan{Targets: tg, Options: opts(2, "10m")})
	w1.WaitOutput(t, `"msg":"chunk started"`, stepTimeout)
	found.wait(t, urlsOf(tg[:1], 2)...)
	w1.Signal(t, syscall.SIGTERM)

	if err := w1.Wait(t, stepTimeout); err != nil {
		t.Errorf("evicted worker exited with %v, want status 0", err)
	}
	r := waitRun(t, e, "finalize")
	if r.State != engine.RunPartial {
		t.Errorf("run state %s, want partial", r.State)
	}
	cs := chunks(t, e, "finalize")
	if len(cs) != 1 {
		t.Fatalf("chunk records %v, want one", cs)
	}
	c := cs["1.0"]
	assertChunk(t, c, engine.ChunkPartial, 1, "w1")
	if c.Reason != "evicted" || c.Continuation != "" {
		t.Errorf("chunk reason %q continuation %q, want evicted and none", c.Reason, c.Continuation)
	}
	tr := task(t, e, "finalize", "1")
	if tr.State != engine.TaskPartial || tr.States[engine.ChunkPartial] != 1 || len(tr.Continuations) != 0 {
		t.Errorf("task record %+v, want partial with one partial chunk", tr)
	}
	f := readFindings(t, e, "finalize")
	assertURLs(t, f, urlsOf(tg[:1], 2))
	if !slices.ContainsFunc(f.warnings, func(m string) bool { return strings.Contains(m, "stopped") }) {
		t.Errorf("no warning that the tool was stopped: %q", f.warnings)
	}
	if dls := deadLetters(t, e, "finalize"); len(dls) != 0 {
		t.Errorf("dead letters %+v", dls)
	}
}

// A worker evicted with --eviction requeue-remainder enqueues the targets
// its tool had not reached as a continuation in the same fan-in; another
// worker finishes it, and every target's findings are stored exactly once.
func TestWorkerSIGTERMRequeueRemainder(t *testing.T) {
	t.Parallel()
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	js := jetStream(t, url)
	w1 := worker(t, "w1", url, "--eviction", "requeue-remainder")
	found := follow(t, e, "requeue")

	// 127.0.0.10 comes first and contains 127.0.0.1: its findings must not
	// count as findings of 127.0.0.1, which would then never be requeued.
	tg := []string{"127.0.0.10", "127.0.0.1", "127.0.0.2", "127.0.0.3"}
	submit(t, e, "requeue", engine.TaskPlan{Targets: tg, Options: opts(2, "1s")})
	w1.WaitOutput(t, `"msg":"chunk started"`, stepTimeout)
	found.wait(t, urlsOf(tg[:1], 2)...)
	w1.Signal(t, syscall.SIGTERM)
	if err := w1.Wait(t, stepTimeout); err != nil {
		t.Errorf("evicted worker exited with %v, want status 0", err)
	}

	// The continuation waits in the queue for the next worker.
	w2 := worker(t, "w2", url, "--eviction", "requeue-remainder")
	r := waitRun(t, e, "requeue")
	if r.State != engine.RunPartial {
		t.Errorf("run state %s, want partial (the evicted chunk is partial)", r.State)
	}
	cs := chunks(t, e, "requeue")
	if len(cs) != 2 {
		t.Fatalf("chunk records %+v, want the chunk and its continuation", cs)
	}
	c0, c1 := cs["1.0"], cs["1.0r1"]
	assertChunk(t, c0, engine.ChunkPartial, 1, "w1")
	if c0.Reason != "evicted-requeued" || c0.Continuation != "0r1" {
		t.Errorf("chunk 0: reason %q continuation %q, want evicted-requeued and 0r1", c0.Reason, c0.Continuation)
	}
	assertChunk(t, c1, engine.ChunkDone, 1, "w2")
	if c1.Parent != "0" {
		t.Errorf("continuation's parent %q, want 0", c1.Parent)
	}
	if c1.Targets < 1 || c1.Targets > len(tg)-1 {
		t.Errorf("continuation has %d targets, want 1..%d", c1.Targets, len(tg)-1)
	}
	tr := task(t, e, "requeue", "1")
	if !tr.Continuations["0r1"] || len(tr.Continuations) != 1 ||
		tr.States[engine.ChunkPartial] != 1 || tr.States[engine.ChunkDone] != 1 || tr.State != engine.TaskPartial {
		t.Errorf("task record %+v, want one partial chunk and its done continuation 0r1", tr)
	}
	assertURLs(t, readFindings(t, e, "requeue"), urlsOf(tg, 2))
	if n := count(w2, `"msg":"chunk started"`); n != 1 {
		t.Errorf("w2 started %d chunks, want the continuation only", n)
	}
	queueDrained(t, js)
}
