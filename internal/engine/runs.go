package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoRun means the engine has no run with that id.
var ErrNoRun = errors.New("no such run")

// Run reads a run's record.
func (e *Engine) Run(ctx context.Context, id string) (RunRecord, error) {
	var r RunRecord
	if !validToken(id) {
		return r, fmt.Errorf("run %q: %w", id, ErrNoRun)
	}
	_, err := getJSON(ctx, e.runs, id, &r)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return r, fmt.Errorf("run %s: %w", id, ErrNoRun)
	}
	return r, err
}

// Runs lists every run, newest first.
func (e *Engine) Runs(ctx context.Context) ([]RunRecord, error) {
	out, err := listJSON[RunRecord](ctx, e, e.runs, ">")
	slices.SortFunc(out, func(a, b RunRecord) int { return b.Created.Compare(a.Created) })
	return out, err
}

// Tasks lists a run's tasks.
func (e *Engine) Tasks(ctx context.Context, run string) ([]TaskRecord, error) {
	out, err := listJSON[TaskRecord](ctx, e, e.tasks, run+".*")
	slices.SortFunc(out, func(a, b TaskRecord) int { return naturalCompare(a.ID, b.ID) })
	return out, err
}

// Chunks lists the chunks of a run that have a record (claimed or settled);
// planned chunks no worker has touched yet have none.
func (e *Engine) Chunks(ctx context.Context, run string) ([]ChunkRecord, error) {
	out, err := listJSON[ChunkRecord](ctx, e, e.chunks, run+".>")
	slices.SortFunc(out, func(a, b ChunkRecord) int {
		if c := naturalCompare(a.Task, b.Task); c != 0 {
			return c
		}
		return naturalCompare(a.ID, b.ID)
	})
	return out, err
}

// listJSON reads every record whose key matches filter; a record that does
// not decode is skipped.
func listJSON[T any](ctx context.Context, e *Engine, kv jetstream.KeyValue, filter string) ([]T, error) {
	var out []T
	err := e.eachKey(ctx, kv, filter, func(_ string, b []byte) {
		var v T
		if json.Unmarshal(b, &v) == nil {
			out = append(out, v)
		}
	})
	return out, err
}

// eachKey calls fn with each key matching filter and its value.
func (e *Engine) eachKey(ctx context.Context, kv jetstream.KeyValue, filter string, fn func(string, []byte)) error {
	w, err := kv.WatchFiltered(ctx, []string{filter}, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case ent := <-w.Updates():
			if ent == nil {
				return nil // caught up
			}
			fn(ent.Key(), ent.Value())
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// DeadLetters lists the dead letters of a run ("" for all).
func (e *Engine) DeadLetters(ctx context.Context, run string) ([]DeadLetter, error) {
	subject := "sortie.dead.*.>"
	if run != "" {
		subject = "sortie.dead.*." + run
	}
	var out []DeadLetter
	err := e.readAll(ctx, DeadStream, subject, func(b []byte) {
		var d DeadLetter
		if json.Unmarshal(b, &d) == nil {
			out = append(out, d)
		}
	})
	return out, err
}

// readAll reads every message stored on subject, then returns.
func (e *Engine) readAll(ctx context.Context, stream, subject string, fn func([]byte)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f, err := e.follow(ctx, stream, subject, fn)
	if err != nil {
		return err
	}
	select {
	case <-f.CaughtUp():
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// ReadFindings delivers every finding of the run stored so far.
func (e *Engine) ReadFindings(ctx context.Context, run string, fn func([]byte)) error {
	return e.readAll(ctx, FindingsStream, "sortie.findings."+run+".>", fn)
}

// waitRunCheck is how often WaitRun reads the run's record besides
// watching it.
const waitRunCheck = 5 * time.Second

// WaitRun blocks until the run is finished and returns its final record.
func (e *Engine) WaitRun(ctx context.Context, id string) (RunRecord, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	// The watch is an ordered consumer on the bucket's stream leader. In a
	// leader failover its creation can wait for a reply that never comes,
	// and a watch whose server dies is not always recreated: it runs on its
	// own, and the record is also read now and then, so a failover cannot
	// hide the run's end.
	found := make(chan RunRecord, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		w, err := e.runs.Watch(ctx, id)
		if err != nil {
			return // the reads below still see the end
		}
		defer w.Stop()
		for {
			select {
			case ent, ok := <-w.Updates():
				if !ok {
					return
				}
				if ent == nil || ent.Operation() != jetstream.KeyValuePut {
					continue
				}
				var r RunRecord
				if json.Unmarshal(ent.Value(), &r) == nil && r.State.Terminal() {
					found <- r
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	check := time.NewTicker(waitRunCheck)
	defer check.Stop()
	for {
		select {
		case r := <-found:
			return r, nil
		case <-check.C:
			rctx, rcancel := context.WithTimeout(ctx, waitRunCheck)
			var r RunRecord
			_, err := getJSON(rctx, e.runs, id, &r)
			rcancel()
			if err == nil && r.State.Terminal() {
				return r, nil
			}
		case <-ctx.Done():
			return RunRecord{}, context.Cause(ctx)
		}
	}
}

// Cancelled reports whether the run was cancelled. An error reading the flag
// counts as not cancelled: the run goes on.
func (e *Engine) Cancelled(ctx context.Context, run string) bool {
	_, err := e.cancels.Get(ctx, run)
	return err == nil
}

// CancelRun stops a run cluster-wide: it raises the run's cancel flag, which
// every worker watches (running chunks stop, keeping their findings, and
// end cancelled), and settles as cancelled every chunk nobody runs: never
// claimed, or held by a worker that is no longer alive.
func (e *Engine) CancelRun(ctx context.Context, id string) (RunRecord, error) {
	run, err := e.Run(ctx, id)
	if err != nil {
		return run, err
	}
	if run.State.Terminal() {
		return run, nil
	}
	// The request is recorded before the flag is raised: a chunk that sees
	// the flag and finishes the run must find the run marked cancelled.
	if _, _, err := updateJSON(ctx, e.runs, id, func(r *RunRecord) bool {
		if r.CancelRequested {
			return false
		}
		r.CancelRequested = true
		return true
	}); err != nil {
		return run, err
	}
	if _, err := e.cancels.Put(ctx, id, []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return run, fmt.Errorf("engine: cancel run %s: %w", id, err)
	}
	e.event(Event{Type: "run.cancel", Run: id})
	if e.noChunkWrites {
		// A submitter may not write chunk records: workers settle the
		// chunks they fetch or take over, finding the flag raised.
		return e.Run(ctx, id)
	}
	live := map[string]bool{}
	if ws, err := e.Workers(ctx); err == nil {
		for _, w := range ws {
			live[w.ID] = true
		}
	}
	tasks, err := e.Tasks(ctx, id)
	if err != nil {
		return run, err
	}
	for _, t := range tasks {
		var pending []*Chunk
		for i := 0; i < t.Chunks; i++ {
			if !bitSet(t.Done, i) {
				pending = append(pending, &Chunk{Run: id, Task: t.ID, ID: strconv.Itoa(i), Index: i, Tool: t.Tool, Pool: t.Pool})
			}
		}
		for cid, done := range t.Continuations {
			if !done {
				pending = append(pending, &Chunk{Run: id, Task: t.ID, ID: cid, Index: -1, Tool: t.Tool, Pool: t.Pool})
			}
		}
		for _, c := range pending {
			var rec ChunkRecord
			_, err := getJSON(ctx, e.chunks, c.Key(), &rec)
			if err == nil && rec.State == ChunkRunning && live[rec.Worker] {
				continue // its worker stops it
			}
			if err := e.settleCancelled(ctx, c, live); err != nil {
				return run, err
			}
		}
	}
	return e.Run(ctx, id)
}

// settleCancelled settles a chunk as cancelled unless a live worker claimed
// it in the meantime.
func (e *Engine) settleCancelled(ctx context.Context, c *Chunk, live map[string]bool) error {
	skip := false
	rec, _, err := e.changeChunk(ctx, c, func(r *ChunkRecord) (bool, error) {
		skip = r.State == ChunkRunning && live[r.Worker]
		return !skip && settle(r, ChunkCancelled, "cancelled"), nil
	})
	if err != nil || skip {
		return err
	}
	return e.fanIn(ctx, c, &rec)
}

// WatchCancels calls fn with the id of each run cancelled from now on,
// until ctx ends.
func (e *Engine) WatchCancels(ctx context.Context, fn func(run string)) error {
	w, err := e.cancels.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case ent, ok := <-w.Updates():
				if !ok {
					return
				}
				if ent != nil {
					fn(ent.Key())
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

// Heartbeat publishes a worker's liveness entry; it expires after
// WorkerTTL unless refreshed.
func (e *Engine) Heartbeat(ctx context.Context, w WorkerRecord) error {
	b, _ := json.Marshal(w)
	_, err := e.workers.Put(ctx, w.ID, b)
	return err
}

// RemoveWorker deletes a stopping worker's entry.
func (e *Engine) RemoveWorker(ctx context.Context, id string) error {
	return e.workers.Delete(ctx, id)
}

// Workers lists live workers.
func (e *Engine) Workers(ctx context.Context) ([]WorkerRecord, error) {
	out, err := listJSON[WorkerRecord](ctx, e, e.workers, ">")
	slices.SortFunc(out, func(a, b WorkerRecord) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// naturalCompare orders "2" before "10" and "3r1" after "3".
func naturalCompare(a, b string) int {
	na, ea := leadingInt(a)
	nb, eb := leadingInt(b)
	if ea == nil && eb == nil && na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

func leadingInt(s string) (int, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return strconv.Atoi(s[:i])
}
