package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Errors of Claim that callers branch on.
var (
	// ErrChunkFinished: the chunk is already terminal (a redelivery after
	// its result was written). The fan-in has been replayed; ack it.
	ErrChunkFinished = errors.New("chunk already finished")
	// ErrRunCancelled: the chunk's run was cancelled.
	ErrRunCancelled = errors.New("run cancelled")
	// ErrLeaseLost: another worker owns the chunk now; this worker must
	// neither write a result nor acknowledge.
	ErrLeaseLost = errors.New("lease lost to another worker")
	// ErrNotPlanned: the message names a chunk no run planned (a forged
	// or stale message, or a tool other than the task's). It must never
	// run; dead-letter it.
	ErrNotPlanned = errors.New("chunk not planned by any run")
	// ErrTaskNotFound is the ErrNotPlanned of a chunk whose task record
	// was not found. Right after a submit a lagging replica can answer so:
	// callers retry it a few times before giving up on the chunk.
	ErrTaskNotFound = fmt.Errorf("%w: no such task", ErrNotPlanned)
	// ErrNotRequeued is the ErrNotPlanned of a continuation that its
	// parent's record does not name (with exactly its targets), or whose
	// task is already complete: a replay under an invented id. It must
	// never run, and must not be settled: it is no chunk of the run.
	ErrNotRequeued = fmt.Errorf("%w: continuation not requeued", ErrNotPlanned)
)

// AttemptsExhaustedError means the chunk has used its attempts.
type AttemptsExhaustedError struct{ Attempts int }

func (e *AttemptsExhaustedError) Error() string {
	return fmt.Sprintf("chunk gave up after %d attempts", e.Attempts)
}

// Attempt is one worker's ownership of a chunk. Every write it makes is
// fenced by the record's revision at claim time.
type Attempt struct {
	e      *Engine
	Chunk  *Chunk
	Number int
	Worker string
	// rev is the record's revision as this attempt last wrote it: the
	// fence of every write, and of the lease check.
	rev atomic.Uint64
	rec ChunkRecord
}

// Claim starts an attempt on a delivered chunk: it counts the attempt on the
// chunk's logical id with compare-and-swap and records the owner.
func (e *Engine) Claim(ctx context.Context, c *Chunk, worker string, maxAttempts int) (*Attempt, error) {
	t, err := e.checkPlanned(ctx, c)
	if err != nil {
		return nil, err
	}
	rec, rev, err := e.changeChunk(ctx, c, func(r *ChunkRecord) (bool, error) {
		switch {
		case r.State.Terminal():
			return false, ErrChunkFinished
		case c.Parent != "" && t.State != TaskRunning:
			// A continuation of a task already complete (so of a run
			// that may have finished) was never requeued: its parent's
			// fan-in keeps the task open until it ends.
			return false, fmt.Errorf("%w: task %s is %s", ErrNotRequeued, c.TaskKey(), t.State)
		case e.Cancelled(ctx, c.Run):
			return false, ErrRunCancelled
		case r.Attempt >= maxAttempts:
			return false, &AttemptsExhaustedError{Attempts: r.Attempt}
		}
		now := time.Now().UTC()
		r.State, r.Attempt, r.Worker, r.Started = ChunkRunning, r.Attempt+1, worker, &now
		return true, nil
	})
	if errors.Is(err, ErrChunkFinished) {
		// A redelivery after the result was written: replay what follows
		// it, which a crash may have cut short.
		if err := e.complete(ctx, c, &rec); err != nil {
			return nil, err
		}
		return nil, ErrChunkFinished
	}
	if err != nil {
		return nil, err
	}
	e.event(Event{Type: "chunk.started", Run: c.Run, Task: c.Task, Chunk: c.ID, Attempt: rec.Attempt, Worker: worker})
	a := &Attempt{e: e, Chunk: c, Number: rec.Attempt, Worker: worker, rec: rec}
	a.rev.Store(rev)
	return a, nil
}

// changeChunk applies change to the chunk's record with compare-and-swap,
// creating the record if it is absent and retrying when another writer got
// there first. change returns false (or an error) to leave the record as it
// is. It returns the record as it now stands and its revision.
func (e *Engine) changeChunk(ctx context.Context, c *Chunk, change func(*ChunkRecord) (bool, error)) (ChunkRecord, uint64, error) {
	key := c.Key()
	for {
		rec := ChunkRecord{Run: c.Run, Task: c.Task, ID: c.ID, Tool: c.Tool, Targets: len(c.Targets), State: ChunkPending, Parent: c.Parent}
		rev, err := getJSON(ctx, e.chunks, key, &rec)
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return rec, 0, err
		}
		if ok, err := change(&rec); err != nil || !ok {
			return rec, rev, err
		}
		b, _ := json.Marshal(&rec)
		if rev == 0 {
			rev, err = e.chunks.Create(ctx, key, b)
		} else {
			rev, err = e.chunks.Update(ctx, key, b, rev)
		}
		if isConflict(err) {
			continue
		}
		if err != nil {
			return rec, 0, fmt.Errorf("engine: write chunk %s: %w", key, err)
		}
		return rec, rev, nil
	}
}

// checkPlanned makes sure a run planned this chunk, for this tool, and
// that a continuation was requeued: a worker runs only what was planned.
// It returns the task's record.
func (e *Engine) checkPlanned(ctx context.Context, c *Chunk) (TaskRecord, error) {
	var t TaskRecord
	_, err := getJSON(ctx, e.tasks, c.TaskKey(), &t)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return t, fmt.Errorf("%w %s", ErrTaskNotFound, c.TaskKey())
	case err != nil:
		return t, err
	case t.Tool != c.Tool:
		return t, fmt.Errorf("%w: task %s runs %s, not %s", ErrNotPlanned, c.TaskKey(), t.Tool, c.Tool)
	case c.Index >= t.Chunks || c.Index < -1 || c.Index == -1 && c.Parent == "":
		return t, fmt.Errorf("%w: task %s has no chunk %s", ErrNotPlanned, c.TaskKey(), c.ID)
	}
	return t, e.CheckRequeued(ctx, c)
}

// CheckRequeued makes sure a continuation is the one its parent's durable
// record names: the parent ended, and was requeued under exactly c's id
// with exactly c's targets. The signature covers the planned chunk only;
// the continuation id and the targets it keeps are the sender's claim,
// which this record (written by the evicted worker before it enqueued the
// continuation) confirms or refutes. Planned chunks pass.
func (e *Engine) CheckRequeued(ctx context.Context, c *Chunk) error {
	if c.Parent == "" {
		return nil
	}
	var p ChunkRecord
	_, err := getJSON(ctx, e.chunks, ChunkKey(c.Run, c.Task, c.Parent), &p)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return fmt.Errorf("%w: chunk %s has no record of its parent %s", ErrNotRequeued, c.Key(), c.Parent)
	case err != nil:
		return fmt.Errorf("engine: read parent of chunk %s: %w", c.Key(), err)
	case !p.State.Terminal() || p.Continuation != c.ID:
		return fmt.Errorf("%w: chunk %s was not requeued as %s", ErrNotRequeued, ChunkKey(c.Run, c.Task, c.Parent), c.ID)
	case !slices.Equal(p.Remainder, c.Targets):
		return fmt.Errorf("%w: chunk %s names other targets than its parent requeued", ErrNotRequeued, c.Key())
	}
	return nil
}

// StillOwner reports whether this attempt still owns its chunk. A worker
// checks before each heartbeat: one that was paused past its lease finds a
// newer attempt and must stop.
func (a *Attempt) StillOwner(ctx context.Context) (bool, error) {
	ent, err := a.e.chunks.Get(ctx, a.Chunk.Key())
	if err != nil {
		return false, err
	}
	return ent.Revision() == a.rev.Load(), nil
}

// Outcome is how an attempt ended.
type Outcome struct {
	State    ChunkState
	Reason   string
	ExitCode int
	Findings int
	// Garbage counts output lines that could not be parsed.
	Garbage int
	// Remainder, when set, is enqueued as a continuation chunk in the same
	// fan-in (eviction policy requeue-remainder).
	Remainder []string
}

// Finish writes the attempt's outcome, fenced: if another attempt has
// claimed the chunk since, it returns ErrLeaseLost and writes nothing. Then
// it enqueues the continuation, if any, and counts the chunk in its task's
// fan-in. The caller acknowledges the delivery only after Finish succeeds.
func (a *Attempt) Finish(ctx context.Context, o Outcome) error {
	c := a.Chunk
	rec := a.rec
	now := time.Now().UTC()
	rec.State, rec.Reason, rec.ExitCode, rec.Findings, rec.Garbage, rec.Finished = o.State, o.Reason, o.ExitCode, o.Findings, o.Garbage, &now
	if len(o.Remainder) > 0 {
		// The remainder is stored with the result, so a replay after a
		// crash between this write and the enqueue can enqueue it again.
		rec.Continuation, rec.Remainder = continuationID(c, a.Number), o.Remainder
	}
	b, _ := json.Marshal(&rec)
	rev, err := a.e.chunks.Update(ctx, c.Key(), b, a.rev.Load())
	if err != nil {
		if isConflict(err) {
			return ErrLeaseLost
		}
		return fmt.Errorf("engine: finish chunk %s: %w", c.Key(), err)
	}
	a.rev.Store(rev) // the lease check must not take this write for a takeover
	return a.e.complete(ctx, c, &rec)
}

// Unclaim undoes a claim whose tool never started (the worker is stopping):
// the record goes back to how it was, so the attempt is not counted, and
// the caller hands the delivery back. It writes nothing if the attempt lost
// its lease.
func (a *Attempt) Unclaim(ctx context.Context) error {
	rec := a.rec
	rec.State, rec.Attempt, rec.Worker, rec.Started = ChunkPending, rec.Attempt-1, "", nil
	b, _ := json.Marshal(&rec)
	_, err := a.e.chunks.Update(ctx, a.Chunk.Key(), b, a.rev.Load())
	if isConflict(err) {
		return ErrLeaseLost
	}
	return err
}

// complete does what follows a chunk's terminal record: enqueue the
// continuation it names, then count it in its fan-in. Both steps are
// idempotent, so a redelivery replays them safely.
func (e *Engine) complete(ctx context.Context, c *Chunk, rec *ChunkRecord) error {
	if rec.Continuation != "" && len(rec.Remainder) > 0 {
		// The continuation carries c's signed form and names the targets
		// left: a worker cannot sign, and need not.
		n, err := c.continuation(rec.Continuation, rec.Remainder)
		if err != nil {
			return err
		}
		if err := e.enqueue(ctx, []*Chunk{n}); err != nil {
			return err
		}
	}
	return e.fanIn(ctx, c, rec)
}

// continuationID is the id of the chunk that carries on with the targets
// chunk c did not finish in the given attempt. It is derived, so a replay
// of the same completion enqueues the same chunk (deduplicated by message
// id, and by its terminal record once it has run).
func continuationID(c *Chunk, attempt int) string { return fmt.Sprintf("%sr%d", c.ID, attempt) }

// Settle ends a chunk that no attempt owns: cancelled before it started, or
// abandoned (attempts exhausted, invalid). It does nothing to a chunk that is
// already terminal, and counts the chunk in its fan-in.
func (e *Engine) Settle(ctx context.Context, c *Chunk, state ChunkState, reason string) error {
	// A continuation no parent requeued is no chunk of the run: settling
	// it would add it to the task's fan-in.
	if err := e.CheckRequeued(ctx, c); err != nil {
		return err
	}
	rec, _, err := e.changeChunk(ctx, c, func(r *ChunkRecord) (bool, error) {
		return settle(r, state, reason), nil
	})
	if err != nil {
		return err
	}
	return e.fanIn(ctx, c, &rec)
}

// settle ends a record that is not terminal yet; it reports whether it did.
func settle(r *ChunkRecord, state ChunkState, reason string) bool {
	if r.State.Terminal() {
		return false
	}
	now := time.Now().UTC()
	r.State, r.Reason, r.Finished = state, reason, &now
	return true
}

// fanIn counts a terminal chunk in its task's barrier. The chunk's bit (or
// continuation entry) and its state count change in one compare-and-swap,
// so replays and duplicate completions change nothing. The completion that
// fills the barrier finishes the task, and the last task the run.
func (e *Engine) fanIn(ctx context.Context, c *Chunk, rec *ChunkRecord) error {
	task, changed, err := updateJSON(ctx, e.tasks, c.TaskKey(), func(t *TaskRecord) bool {
		if c.Index >= 0 {
			if c.Index >= t.Chunks || bitSet(t.Done, c.Index) {
				return false
			}
			setBit(t.Done, c.Index)
		} else {
			if t.Continuations == nil {
				t.Continuations = map[string]bool{}
			}
			if t.Continuations[c.ID] {
				return false
			}
			t.Continuations[c.ID] = true
		}
		if rec.Continuation != "" {
			if t.Continuations == nil {
				t.Continuations = map[string]bool{}
			}
			if _, ok := t.Continuations[rec.Continuation]; !ok {
				t.Continuations[rec.Continuation] = false
			}
		}
		if t.States == nil {
			t.States = map[ChunkState]int{}
		}
		t.States[rec.State]++
		t.Findings += rec.Findings
		return true
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: no task %s", ErrNotPlanned, c.TaskKey())
	}
	if err != nil {
		return fmt.Errorf("engine: fan-in of task %s: %w", c.TaskKey(), err)
	}
	if changed {
		e.event(Event{Type: "chunk.finished", Run: c.Run, Task: c.Task, Chunk: c.ID, Attempt: rec.Attempt,
			Worker: rec.Worker, State: string(rec.State), Reason: rec.Reason})
	}
	if !task.complete() {
		return nil
	}
	return e.finishTask(ctx, c.Run, c.Task)
}

// finishTask marks a complete task finished and counts it in its run. It is
// idempotent: a crash between any two writes converges on replay.
func (e *Engine) finishTask(ctx context.Context, runID, taskID string) error {
	cancelled := e.Cancelled(ctx, runID)
	task, changed, err := updateJSON(ctx, e.tasks, TaskKey(runID, taskID), func(t *TaskRecord) bool {
		if t.State != TaskRunning {
			return false
		}
		now := time.Now().UTC()
		t.State, t.Finished = t.finalState(cancelled), &now
		return true
	})
	if err != nil {
		return fmt.Errorf("engine: finish task %s: %w", TaskKey(runID, taskID), err)
	}
	if changed {
		e.event(Event{Type: "task.finished", Run: runID, Task: taskID, State: string(task.State)})
	}
	run, changed, err := updateJSON(ctx, e.runs, runID, func(r *RunRecord) bool {
		if r.TasksDone == nil {
			r.TasksDone = map[string]TaskState{}
		}
		if _, ok := r.TasksDone[taskID]; ok && r.State.Terminal() {
			return false
		}
		r.TasksDone[taskID] = task.State
		if len(r.TasksDone) < len(r.Tasks) || r.State.Terminal() {
			return true
		}
		now := time.Now().UTC()
		r.State, r.Finished = runState(r.TasksDone, r.CancelRequested || cancelled), &now
		return true
	})
	if err != nil {
		return fmt.Errorf("engine: finish run %s: %w", runID, err)
	}
	if changed && run.State.Terminal() {
		// Waiters block on this event: publish it synchronously, with an id
		// so a replay stores it once.
		return e.publishEvent(ctx, Event{Type: "run.finished", Run: runID, State: string(run.State)}, "run.finished."+runID)
	}
	return nil
}

// runState is a finished run's state from its tasks' states.
func runState(tasks map[string]TaskState, cancelRequested bool) RunState {
	n := map[TaskState]int{}
	for _, s := range tasks {
		n[s]++
	}
	switch {
	case cancelRequested:
		return RunCancelled
	case n[TaskDone] == len(tasks):
		return RunDone
	case n[TaskFailed] == len(tasks):
		return RunFailed
	}
	return RunPartial
}
