package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxChunkBytes is the largest chunk message sortie publishes or runs; a
// larger one is refused when planned and dead-lettered when received. It is
// half a stock NATS server's max_payload (1 MB).
const MaxChunkBytes = 512 << 10

// DefaultPool is the pool of tasks and workers that name none.
const DefaultPool = "default"

// TaskPlan is one task of a run, before it is split into chunks.
type TaskPlan struct {
	// ID is the task's id within the run ("1").
	ID   string
	Tool string
	// Pool routes the task's chunks to workers of that pool. Defaults to
	// "default".
	Pool    string
	Step    string
	Targets []string
	Options map[string][]string
	// ChunkSize is the number of targets per chunk. Defaults to all
	// targets in one chunk.
	ChunkSize   int
	Timeout     time.Duration
	MemoryLimit int64
	StopGrace   time.Duration
}

// Plan is a run to submit.
type Plan struct {
	Run   RunRecord
	Tasks []TaskPlan
}

// Chunks splits the task into its chunk messages, ids "0", "1", ...
func (t TaskPlan) Chunks(run string) []*Chunk {
	size := t.ChunkSize
	if size <= 0 {
		size = len(t.Targets)
	}
	var out []*Chunk
	n := (len(t.Targets) + size - 1) / size
	for i := 0; i < n; i++ {
		end := min((i+1)*size, len(t.Targets))
		out = append(out, &Chunk{
			Run: run, Task: t.ID, ID: strconv.Itoa(i), Index: i, Of: n, Pool: t.Pool, Tool: t.Tool, Step: t.Step,
			Targets: t.Targets[i*size : end], Options: t.Options,
			Timeout: t.Timeout, MemoryLimit: t.MemoryLimit, StopGrace: t.StopGrace,
		})
	}
	return out
}

// Submit stores the run and its tasks, then enqueues every chunk. The run
// and task records (with their chunk counts, from which chunk ids follow)
// are written before the first chunk is published, so a worker never runs
// a chunk the engine does not know. Submitting the same plan twice enqueues
// nothing twice: records are created only if absent and chunk messages carry
// their key as message id.
func (e *Engine) Submit(ctx context.Context, p Plan) error {
	run := p.Run
	if e.cfg.SigningKey == nil {
		return errors.New("engine: no signing key: workers run only signed chunks")
	}
	if !validToken(run.ID) {
		return fmt.Errorf("engine: bad run id %q", run.ID)
	}
	run.State, run.Tasks = RunRunning, nil
	if run.Created.IsZero() {
		run.Created = time.Now().UTC()
	}
	if run.Origin == "" {
		run.Origin = e.Origin()
	}
	chunks := make([][]*Chunk, len(p.Tasks))
	for i := range p.Tasks {
		t := &p.Tasks[i]
		if t.Pool == "" {
			t.Pool = DefaultPool
		}
		if !validToken(t.ID) || !validToken(t.Pool) || !validToken(t.Tool) {
			return fmt.Errorf("engine: task %q: id, pool and tool must be letters, digits, - and _", t.ID)
		}
		if len(t.Targets) == 0 {
			return fmt.Errorf("engine: task %s has no targets", t.ID)
		}
		run.Tasks = append(run.Tasks, t.ID)
		chunks[i] = t.Chunks(run.ID)
		for _, c := range chunks[i] {
			b, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("engine: encode a chunk of task %s: %w", t.ID, err)
			}
			if len(b) > MaxChunkBytes {
				return fmt.Errorf("engine: a chunk of task %s is %d bytes, more than %d: use a smaller chunk size", t.ID, len(b), MaxChunkBytes)
			}
			c.sign(e.cfg.SigningKey, b)
		}
	}
	if err := e.createJSON(ctx, e.runs, run.ID, run); err != nil {
		return fmt.Errorf("engine: store run %s: %w", run.ID, err)
	}
	for i, t := range p.Tasks {
		n := len(chunks[i])
		rec := TaskRecord{Run: run.ID, ID: t.ID, Tool: t.Tool, Pool: t.Pool, Chunks: n,
			Done: make([]byte, (n+7)/8), States: map[ChunkState]int{}, State: TaskRunning, Created: run.Created}
		if err := e.createJSON(ctx, e.tasks, TaskKey(run.ID, t.ID), rec); err != nil {
			return fmt.Errorf("engine: store task %s: %w", t.ID, err)
		}
	}
	for _, cs := range chunks {
		if err := e.enqueue(ctx, cs); err != nil {
			return err
		}
	}
	e.event(Event{Type: "run.submitted", Run: run.ID})
	return nil
}

// enqueue publishes signed chunk messages and waits until the stream has them all.
func (e *Engine) enqueue(ctx context.Context, cs []*Chunk) error {
	futures := make([]jetstream.PubAckFuture, 0, len(cs))
	for _, c := range cs {
		m, err := c.message()
		if err != nil {
			return err
		}
		f, err := e.js.PublishMsgAsync(m, jetstream.WithMsgID(c.Key()))
		if err != nil {
			return fmt.Errorf("engine: enqueue chunk %s: %w", c.Key(), err)
		}
		futures = append(futures, f)
	}
	return waitAcks(ctx, futures)
}

// waitAcks waits for every publish to be stored.
func waitAcks(ctx context.Context, futures []jetstream.PubAckFuture) error {
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("engine: publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// createJSON stores v under key unless the key exists.
func (e *Engine) createJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = kv.Create(ctx, key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	return err
}

// getJSON reads key into v and returns its revision; jetstream.ErrKeyNotFound
// when absent.
func getJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	ent, err := kv.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(ent.Value(), v); err != nil {
		return 0, fmt.Errorf("engine: corrupt record %s: %w", key, err)
	}
	return ent.Revision(), nil
}

// updateJSON applies change to the record at key with compare-and-swap,
// retrying when another writer got there first. change returns false to
// leave the record as it is.
func updateJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string, change func(*T) bool) (T, bool, error) {
	for {
		var v T
		rev, err := getJSON(ctx, kv, key, &v)
		if err != nil {
			return v, false, err
		}
		if !change(&v) {
			return v, false, nil
		}
		b, err := json.Marshal(&v)
		if err != nil {
			return v, false, err
		}
		_, err = kv.Update(ctx, key, b, rev)
		if err == nil {
			return v, true, nil
		}
		if !isConflict(err) {
			return v, false, err
		}
		if ctx.Err() != nil {
			return v, false, context.Cause(ctx)
		}
	}
}

// isConflict reports a compare-and-swap that lost.
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}
