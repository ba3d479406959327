package worker_test

import (
	"context"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/metrics"
	"github.com/sortie-sec/sortie/internal/worker"
)

// A raw client that captured a signed work message republishes it as
// continuations no worker requeued (ids it invents, with a valid bitmap),
// against a finished run and a running one. The worker dead-letters each,
// never starts the tool, and leaves the run's tasks and chunks as they were.
func TestInventedContinuationsAreNotRun(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	e, nc, js, invocations := rawFleet(t, worker.Config{ID: "w1", Concurrency: 2, Metrics: reg})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sub, err := nc.SubscribeSync(workSubject)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := nc.SubscribeSync("sortie.dead.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// capture returns the run's planned work message, skipping the
	// replays this test published itself.
	capture := func(run string) *nats.Msg {
		t.Helper()
		for {
			m, err := sub.NextMsg(30 * time.Second)
			if err != nil {
				t.Fatalf("no work message of %s captured: %v", run, err)
			}
			if m.Header.Get("Sortie-Continuation") == "" && strings.Contains(string(m.Data), `"run":"`+run+`"`) {
				return m
			}
		}
	}
	state := func(run string) ([]engine.TaskRecord, []engine.ChunkRecord) {
		t.Helper()
		ts, err := e.Tasks(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := e.Chunks(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		return ts, cs
	}
	ids := []string{"0r1", "0r2", "0r1r1", "0r99"}
	replay := func(run string, m *nats.Msg) {
		t.Helper()
		for _, id := range ids {
			// The signature only: the captured message id would have
			// the stream drop the copy as a duplicate.
			h := nats.Header{}
			for _, k := range []string{"Sortie-Signer", "Sortie-Signature"} {
				h.Set(k, m.Header.Get(k))
			}
			h.Set("Sortie-Continuation", id)
			h.Set("Sortie-Remaining", base64.StdEncoding.EncodeToString([]byte{0b1}))
			if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: workSubject, Data: m.Data, Header: h}); err != nil {
				t.Fatalf("publish %s %s: %v", run, id, err)
			}
		}
		// Each replay ends in a dead letter; wait for all of them.
		for range ids {
			if _, err := dead.NextMsg(time.Minute); err != nil {
				t.Fatalf("%s: dead letters: %v", run, err)
			}
		}
		dls, err := e.DeadLetters(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) != len(ids) {
			t.Fatalf("%s: %d dead letters, want %d: %+v", run, len(dls), len(ids), dls)
		}
		for _, dl := range dls {
			if dl.Worker != "w1" || dl.Task != "1" {
				t.Errorf("%s: dead letter %+v", run, dl)
			}
		}
	}

	// A finished run.
	submit(t, e, "finished", engine.TaskPlan{Targets: []string{"127.0.0.71"}})
	m := capture("finished")
	if r := wait(t, e, "finished"); r.State != engine.RunDone {
		t.Fatalf("run finished: %s, want done", r.State)
	}
	tasks, chunks := state("finished")
	replay("finished", m)
	if ts, cs := state("finished"); !reflect.DeepEqual(ts, tasks) || !reflect.DeepEqual(cs, chunks) {
		t.Errorf("finished run changed by the replays:\ntasks %+v\nwant  %+v\nchunks %+v\nwant   %+v", ts, tasks, cs, chunks)
	}
	if r, err := e.Run(ctx, "finished"); err != nil || r.State != engine.RunDone {
		t.Errorf("finished run now %+v (%v)", r, err)
	}

	// A running run: its only chunk sleeps while the replays arrive.
	submit(t, e, "running", engine.TaskPlan{Targets: []string{"127.0.0.72"}, Options: map[string][]string{"sleep": {"10m"}}})
	m = capture("running")
	enginetest.WaitFor(t, "the running chunk's tool started", time.Minute, func(context.Context) (bool, error) {
		return len(invocations()) >= 2, nil
	})
	tasks, chunks = state("running")
	replay("running", m)
	if ts, cs := state("running"); !reflect.DeepEqual(ts, tasks) || !reflect.DeepEqual(cs, chunks) {
		t.Errorf("running run changed by the replays:\ntasks %+v\nwant  %+v\nchunks %+v\nwant   %+v", ts, tasks, cs, chunks)
	}
	if fs := findingIDs(t, e, "running", "error"); len(fs) != 0 {
		t.Errorf("running run: error findings %v, want none", fs)
	}
	if got, want := invocations(), []string{"127.0.0.71", "127.0.0.72"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the tool ran for %q, want %q", got, want)
	}
	// Counted as rejected messages, not as abandoned chunks of the run. The
	// counter moves just after the dead letter is stored: wait for it.
	enginetest.WaitFor(t, "8 rejected messages counted", time.Minute, func(context.Context) (bool, error) {
		return reg.Value("sortie_chunks_rejected_total", "default") == 8, nil
	})
	if n := reg.Value("sortie_chunks_abandoned_total", "default"); n != 0 {
		t.Errorf("%v chunks counted abandoned, want 0", n)
	}
	if _, err := e.CancelRun(ctx, "running"); err != nil {
		t.Fatal(err)
	}
}
