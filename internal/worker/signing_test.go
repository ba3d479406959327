package worker_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/signing"
	"github.com/sortie-sec/sortie/internal/worker"
)

// The wire format of a signed chunk, as an attacker with a raw client sees
// it (engine/sign.go).
const (
	chunkDomain = "sortie-chunk-v1"
	workSubject = "sortie.work." + engine.DefaultPool
)

// A raw NATS client that can reach the broker forges work in every way
// short of holding a trusted key: an unsigned chunk with a matching task
// record, a chunk signed by an unknown key, signed chunks with a target or
// an option changed, continuations that add a target, a signed chunk
// copied onto another pool's queue. A real worker
// dead-letters each with its reason, never starts the tool, and writes no
// chunk record; a chunk its submitter signed runs.
func TestForgedChunksAreNotRun(t *testing.T) {
	t.Parallel()
	e, _, js, invocations := rawFleet(t, worker.Config{ID: "w1", Concurrency: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tasks, err := js.KeyValue(ctx, engine.TasksBucket)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	trusted := enginetest.Key(t)

	// body is a planned chunk of one faketool task of run, with a task
	// record for it forged next to it: a record is no proof.
	body := func(run string, targets []string, opts map[string][]string) []byte {
		t.Helper()
		rec, _ := json.Marshal(engine.TaskRecord{Run: run, ID: "1", Tool: "faketool", Pool: engine.DefaultPool, Chunks: 1,
			Done: []byte{0}, States: map[engine.ChunkState]int{}, State: engine.TaskRunning, Created: time.Now()})
		if _, err := tasks.Create(ctx, engine.TaskKey(run, "1"), rec); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(engine.Chunk{Run: run, Task: "1", ID: "0", Index: 0, Of: 1, Pool: engine.DefaultPool,
			Tool: "faketool", Targets: targets, Options: opts})
		return b
	}
	signed := func(key *signing.Key, b []byte) nats.Header {
		return nats.Header{"Sortie-Signer": {key.Public().String()}, "Sortie-Signature": {key.SignText(chunkDomain, b)}}
	}
	one := []string{"127.0.0.61"}
	type forgery struct {
		run    string
		data   []byte
		header nats.Header
		reason string
	}
	var forged []forgery
	add := func(run string, data []byte, h nats.Header, reason string) {
		forged = append(forged, forgery{run, data, h, reason})
	}

	add("unsigned", body("unsigned", one, nil), nil, "unsigned chunk")
	b := body("stranger", one, nil)
	add("stranger", b, signed(stranger, b), "not trusted")
	// Signed by the trusted key, then changed on the way.
	b = body("target", one, nil)
	add("target", []byte(strings.Replace(string(b), "127.0.0.61", "127.0.0.62", 1)), signed(trusted, b), "bad signature")
	b = body("option", one, map[string][]string{"lines": {"1"}})
	add("option", []byte(strings.Replace(string(b), `"lines":["1"]`, `"lines":["9"]`, 1)), signed(trusted, b), "bad signature")
	// Continuations: a worker can only narrow signed work. One adds a
	// target to the signed body, one names a target beyond its end.
	b = body("contadd", one, nil)
	h := signed(trusted, b)
	h.Set("Sortie-Continuation", "0r1")
	h.Set("Sortie-Remaining", base64.StdEncoding.EncodeToString([]byte{0b11}))
	add("contadd", []byte(strings.Replace(string(b), `["127.0.0.61"]`, `["127.0.0.61","127.0.0.63"]`, 1)), h, "bad signature")
	b = body("contbit", one, nil)
	h = signed(trusted, b)
	h.Set("Sortie-Continuation", "0r1")
	h.Set("Sortie-Remaining", base64.StdEncoding.EncodeToString([]byte{0b10}))
	add("contbit", b, h, "bad continuation")
	// A chunk signed for another pool, copied onto this one: its own
	// delivery must not be ended by the copy.
	b = []byte(strings.Replace(string(body("misrouted", one, nil)), `"pool":"default"`, `"pool":"other"`, 1))
	add("misrouted", b, signed(trusted, b), "misrouted chunk")

	for _, f := range forged {
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: workSubject, Data: f.data, Header: f.header}); err != nil {
			t.Fatalf("publish %s: %v", f.run, err)
		}
	}
	// A chunk its submitter signed runs, after the forgeries in the queue.
	submit(t, e, "good", engine.TaskPlan{Targets: []string{"127.0.0.1"}})
	if r := wait(t, e, "good"); r.State != engine.RunDone {
		t.Fatalf("signed run: %s, want done", r.State)
	}

	// One slot, and the stream's order: every forgery was handled, its
	// dead letter stored, before the signed chunk was fetched.
	dls, err := e.DeadLetters(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != len(forged) {
		t.Errorf("%d dead letters, want %d: %+v", len(dls), len(forged), dls)
	}
	for _, f := range forged {
		var found bool
		for _, dl := range dls {
			if !strings.Contains(dl.Payload, `"run":"`+f.run+`"`) {
				continue
			}
			found = true
			if !strings.Contains(dl.Reason, f.reason) || dl.Worker != "w1" || dl.Run != "" {
				t.Errorf("%s: dead letter %+v, want reason %q and no run", f.run, dl, f.reason)
			}
		}
		if !found {
			t.Errorf("%s: no dead letter", f.run)
		}
		if cs, err := e.Chunks(ctx, f.run); err != nil || len(cs) != 0 {
			t.Errorf("%s: chunk records %+v (%v), want none", f.run, cs, err)
		}
		if fs := findingIDs(t, e, f.run, "error"); len(fs) != 0 {
			t.Errorf("%s: findings %v, want none", f.run, fs)
		}
	}
	if got := invocations(); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("the tool ran for %q, want only the signed chunk's 127.0.0.1", got)
	}
}
