package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

func TestMain(m *testing.M) { os.Exit(enginetest.Main(m)) }

func open(t *testing.T) *engine.Engine { return enginetest.Embedded(t) }

func submit(t *testing.T, e *engine.Engine, run string, targets, chunkSize int) []*engine.Chunk {
	t.Helper()
	tp := engine.TaskPlan{ID: "1", Tool: "faketool", ChunkSize: chunkSize}
	for i := 0; i < targets; i++ {
		tp.Targets = append(tp.Targets, "t"+strconv.Itoa(i))
	}
	if err := e.Submit(context.Background(), engine.Plan{Run: engine.RunRecord{ID: run, Tool: "faketool"}, Tasks: []engine.TaskPlan{tp}}); err != nil {
		t.Fatal(err)
	}
	tp.Pool = engine.DefaultPool
	return tp.Chunks(run)
}

func task(t *testing.T, e *engine.Engine, run string) engine.TaskRecord {
	t.Helper()
	ts, err := e.Tasks(context.Background(), run)
	if err != nil || len(ts) != 1 {
		t.Fatalf("tasks of %s: %v %v", run, ts, err)
	}
	return ts[0]
}

func TestFanInCountsEachChunkOnce(t *testing.T) {
	t.Parallel()
	e := open(t)
	ctx := context.Background()
	chunks := submit(t, e, "r1", 5, 2) // chunks of 2, 2 and 1 targets
	if len(chunks) != 3 {
		t.Fatalf("%d chunks, want 3", len(chunks))
	}
	for _, c := range chunks[:2] {
		a, err := e.Claim(ctx, c, "w1", 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Finish(ctx, engine.Outcome{State: engine.ChunkDone, Findings: 2}); err != nil {
			t.Fatal(err)
		}
	}
	// A redelivery of a finished chunk replays its fan-in: no double count.
	if _, err := e.Claim(ctx, chunks[0], "w2", 3); !errors.Is(err, engine.ErrChunkFinished) {
		t.Fatalf("claim of a finished chunk: %v, want ErrChunkFinished", err)
	}
	// Settling a finished chunk changes nothing either.
	if err := e.Settle(ctx, chunks[1], engine.ChunkCancelled, "late"); err != nil {
		t.Fatal(err)
	}
	tr := task(t, e, "r1")
	if tr.States[engine.ChunkDone] != 2 || tr.Findings != 4 || tr.State != engine.TaskRunning {
		t.Fatalf("task after 2 of 3 chunks: %+v", tr)
	}
	if err := e.Settle(ctx, chunks[2], engine.ChunkAbandoned, "poison"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	run, err := e.WaitRun(wctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if run.State != engine.RunPartial {
		t.Errorf("run %s, want partial (one chunk abandoned)", run.State)
	}
	tr = task(t, e, "r1")
	if tr.State != engine.TaskPartial || tr.States[engine.ChunkAbandoned] != 1 {
		t.Errorf("task %+v", tr)
	}
}

func TestLostLeaseIsFenced(t *testing.T) {
	t.Parallel()
	e := open(t)
	ctx := context.Background()
	c := submit(t, e, "r2", 1, 0)[0]
	first, err := e.Claim(ctx, c, "zombie", 3)
	if err != nil {
		t.Fatal(err)
	}
	// The lease expired; another worker claims attempt 2.
	second, err := e.Claim(ctx, c, "w2", 3)
	if err != nil {
		t.Fatal(err)
	}
	if second.Number != 2 {
		t.Fatalf("second attempt is %d", second.Number)
	}
	if ok, err := first.StillOwner(ctx); err != nil || ok {
		t.Fatalf("zombie still owner: %v %v", ok, err)
	}
	if err := first.Finish(ctx, engine.Outcome{State: engine.ChunkDone}); !errors.Is(err, engine.ErrLeaseLost) {
		t.Fatalf("zombie finish: %v, want ErrLeaseLost", err)
	}
	if err := second.Finish(ctx, engine.Outcome{State: engine.ChunkPartial, Reason: "evicted"}); err != nil {
		t.Fatal(err)
	}
	cs, err := e.Chunks(ctx, "r2")
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	if cs[0].State != engine.ChunkPartial || cs[0].Attempt != 2 || cs[0].Worker != "w2" {
		t.Errorf("chunk record %+v", cs[0])
	}
}

func TestAttemptsAreCountedOnTheLogicalID(t *testing.T) {
	t.Parallel()
	e := open(t)
	ctx := context.Background()
	c := submit(t, e, "r3", 1, 0)[0]
	for i := 1; i <= 2; i++ {
		if _, err := e.Claim(ctx, c, fmt.Sprintf("w%d", i), 2); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	var ex *engine.AttemptsExhaustedError
	if _, err := e.Claim(ctx, c, "w3", 2); !errors.As(err, &ex) || ex.Attempts != 2 {
		t.Fatalf("third claim: %v, want attempts exhausted after 2", err)
	}
}

func TestContinuationJoinsTheFanIn(t *testing.T) {
	t.Parallel()
	e := open(t)
	ctx := context.Background()
	submit(t, e, "r4", 3, 0)
	q, err := e.Queue(ctx, engine.QueueConfig{Pool: engine.DefaultPool, Lease: 5 * time.Second, MaxAckPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	// The chunk as a worker gets it: verified, so it keeps its signed
	// form for the continuation.
	d, err := q.Next(ctx, 2*time.Second)
	if err != nil || d == nil {
		t.Fatalf("next: %v %v", d, err)
	}
	if err := d.Verify(enginetest.Trust(t)); err != nil {
		t.Fatal(err)
	}
	_ = d.Ack(ctx)
	c := d.Chunk
	a, err := e.Claim(ctx, c, "w1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Finish(ctx, engine.Outcome{State: engine.ChunkPartial, Reason: "evicted-requeued", Remainder: []string{"t1", "t2"}}); err != nil {
		t.Fatal(err)
	}
	tr := task(t, e, "r4")
	if tr.State != engine.TaskRunning || len(tr.Continuations) != 1 || tr.Continuations["0r1"] {
		t.Fatalf("task must wait for the continuation: %+v", tr)
	}
	var cont *engine.Chunk
	for cont == nil {
		d, err := q.Next(ctx, 2*time.Second)
		if err != nil || d == nil {
			t.Fatalf("next: %v %v", d, err)
		}
		if err := d.Verify(enginetest.Trust(t)); err != nil {
			t.Fatalf("verify the continuation: %v", err)
		}
		if d.Chunk.ID == "0r1" {
			cont = d.Chunk
		}
		_ = d.Ack(ctx)
	}
	if cont.Parent != "0" || cont.Index != -1 || strings.Join(cont.Targets, ",") != "t1,t2" {
		t.Fatalf("continuation %+v", cont)
	}
	b, err := e.Claim(ctx, cont, "w2", 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(ctx, engine.Outcome{State: engine.ChunkDone}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	run, err := e.WaitRun(wctx, "r4")
	if err != nil {
		t.Fatal(err)
	}
	if run.State != engine.RunPartial {
		t.Errorf("run %s, want partial", run.State)
	}
}

func TestCancelSettlesUnclaimedChunks(t *testing.T) {
	t.Parallel()
	e := open(t)
	ctx := context.Background()
	submit(t, e, "r5", 4, 1)
	run, err := e.CancelRun(ctx, "r5")
	if err != nil {
		t.Fatal(err)
	}
	if run.State != engine.RunCancelled {
		t.Fatalf("run %s, want cancelled", run.State)
	}
	cs, _ := e.Chunks(ctx, "r5")
	if len(cs) != 4 {
		t.Fatalf("%d chunk records, want 4", len(cs))
	}
	for _, c := range cs {
		if c.State != engine.ChunkCancelled {
			t.Errorf("chunk %s: %s", c.ID, c.State)
		}
	}
}

func TestEmbeddedStoreIsExclusive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := engine.Open(context.Background(), engine.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if pid := engine.StoreOwner(dir); pid != os.Getpid() {
		t.Errorf("store owner %d, want this process %d", pid, os.Getpid())
	}
	if _, err := engine.Open(context.Background(), engine.Config{Dir: dir}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestServerAuth(t *testing.T) {
	t.Parallel()
	if _, err := engine.StartServer(engine.ServerConfig{Listen: "0.0.0.0:0", Data: t.TempDir()}); !errors.Is(err, engine.ErrNoAuth) {
		t.Fatalf("non-loopback without auth: %v, want ErrNoAuth", err)
	}
	srv, err := engine.StartServer(engine.ServerConfig{Listen: "127.0.0.1:0", Data: t.TempDir(), Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx := context.Background()
	if _, err := engine.Open(ctx, engine.Config{Server: srv.ClientURL()}); err == nil {
		t.Fatal("connected without the token")
	}
	e, err := engine.Open(ctx, engine.Config{Server: srv.ClientURL(), Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add([]byte(`{"run":"r","task":"1","id":"0","index":0,"pool":"default","tool":"httpx","targets":["a"]}`))
	f.Add([]byte(`{"run":"r.x","task":"1","id":"0","tool":"httpx","targets":["a"]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := engine.DecodeChunk(data)
		if err != nil {
			return
		}
		// An accepted chunk's key is a valid subject/key: three tokens.
		if c.Run == "" || c.Task == "" || c.ID == "" || c.Tool == "" || len(c.Targets) == 0 {
			t.Fatalf("accepted an incomplete chunk: %+v", c)
		}
	})
}

func TestOnlyPlannedChunksAreClaimed(t *testing.T) {
	t.Parallel()
	e := open(t)
	ctx := context.Background()
	c := submit(t, e, "r6", 2, 1)[0]
	forged := []*engine.Chunk{
		{Run: "r6", Task: "1", ID: "0", Index: 0, Tool: "nmap", Pool: engine.DefaultPool, Targets: []string{"x"}},     // another tool
		{Run: "r6", Task: "2", ID: "0", Index: 0, Tool: "faketool", Pool: engine.DefaultPool, Targets: []string{"x"}}, // no such task
		{Run: "r6", Task: "1", ID: "9", Index: 9, Tool: "faketool", Pool: engine.DefaultPool, Targets: []string{"x"}}, // no such chunk
		{Run: "nope", Task: "1", ID: "0", Index: 0, Tool: "faketool", Pool: engine.DefaultPool, Targets: []string{"x"}},
	}
	for _, f := range forged {
		if _, err := e.Claim(ctx, f, "w1", 3); !errors.Is(err, engine.ErrNotPlanned) {
			t.Errorf("claim of %+v: %v, want ErrNotPlanned", f, err)
		}
	}
	if _, err := e.Claim(ctx, c, "w1", 3); err != nil {
		t.Fatalf("planned chunk: %v", err)
	}
}
