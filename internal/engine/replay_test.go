package engine

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/signing"
)

// A worker that wrote its result with a continuation and died before
// enqueueing it: the redelivery's claim enqueues the continuation, and the
// task waits for it instead of stalling.
func TestReplayEnqueuesTheContinuation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, Config{Dir: t.TempDir(), SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tp := TaskPlan{ID: "1", Tool: "faketool", Pool: DefaultPool, Targets: []string{"a", "b", "c"}}
	if err := e.Submit(ctx, Plan{Run: RunRecord{ID: "r1"}, Tasks: []TaskPlan{tp}}); err != nil {
		t.Fatal(err)
	}
	c := tp.Chunks("r1")[0]
	body, _ := json.Marshal(c)
	c.sign(key, body) // as Submit did, and a worker's Verify does
	a, err := e.Claim(ctx, c, "w1", 3)
	if err != nil {
		t.Fatal(err)
	}
	// Finish's first write, and then the crash.
	rec := a.rec
	rec.State, rec.Reason = ChunkPartial, "evicted-requeued"
	rec.Continuation, rec.Remainder = continuationID(c, a.Number), []string{"b", "c"}
	b, _ := json.Marshal(&rec)
	if _, err := e.chunks.Update(ctx, c.Key(), b, a.rev.Load()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Claim(ctx, c, "w2", 3); !errors.Is(err, ErrChunkFinished) {
		t.Fatalf("claim after the crash: %v, want ErrChunkFinished", err)
	}
	q, err := e.Queue(ctx, QueueConfig{Pool: DefaultPool, Lease: 5 * time.Second, MaxAckPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	var cont *Chunk
	for i := 0; i < 2 && cont == nil; i++ {
		d, err := q.Next(ctx, 2*time.Second)
		if err != nil || d == nil {
			t.Fatalf("next: %v %v", d, err)
		}
		if err := d.Verify(signing.NewTrust(key.Public())); err != nil {
			t.Fatal(err)
		}
		if d.Chunk.ID == "0r1" {
			cont = d.Chunk
		}
		_ = d.Ack(ctx)
	}
	if cont == nil || len(cont.Targets) != 2 || cont.Parent != "0" {
		t.Fatalf("continuation not enqueued again: %+v", cont)
	}
	var task TaskRecord
	if _, err := getJSON(ctx, e.tasks, c.TaskKey(), &task); err != nil {
		t.Fatal(err)
	}
	if task.State != TaskRunning || task.Continuations["0r1"] {
		t.Fatalf("the task must wait for the continuation: %+v", task)
	}
}
