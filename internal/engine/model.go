package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

// ChunkState is where a chunk is in its life. The terminal states are done,
// partial, failed, abandoned and cancelled: a fan-in counts a chunk once it
// reaches any of them.
type ChunkState string

const (
	ChunkPending   ChunkState = "pending"
	ChunkRunning   ChunkState = "running"
	ChunkDone      ChunkState = "done"
	ChunkPartial   ChunkState = "partial"
	ChunkFailed    ChunkState = "failed"
	ChunkAbandoned ChunkState = "abandoned"
	ChunkCancelled ChunkState = "cancelled"
)

// Terminal reports whether no further work happens on a chunk in state s.
func (s ChunkState) Terminal() bool {
	switch s {
	case ChunkDone, ChunkPartial, ChunkFailed, ChunkAbandoned, ChunkCancelled:
		return true
	}
	return false
}

// Chunk is the work message: one tool over a slice of a task's targets. It
// carries everything a worker needs, so a worker never reads the run plan to
// start work.
type Chunk struct {
	Run  string `json:"run"`
	Task string `json:"task"`
	// ID is the chunk's logical id within its task: "7" for the eighth
	// planned chunk, "7r1" for the continuation of chunk 7 written by its
	// first attempt. Attempts are counted on it, never on the transport id.
	ID string `json:"id"`
	// Index is the planned chunk's position in the task's fan-in barrier;
	// -1 for continuations, which the barrier tracks by id.
	Index int `json:"index"`
	// Parent is the id of the chunk a continuation carries on; empty for
	// planned chunks.
	Parent string `json:"parent,omitempty"`
	// Of is the number of planned chunks in the task.
	Of      int                 `json:"of"`
	Pool    string              `json:"pool"`
	Tool    string              `json:"tool"`
	Step    string              `json:"step,omitempty"`
	Targets []string            `json:"targets"`
	Options map[string][]string `json:"options,omitempty"`
	// Limits of each attempt; zero means none.
	Timeout     time.Duration `json:"timeout,omitempty"`
	MemoryLimit int64         `json:"memory_limit,omitempty"`
	StopGrace   time.Duration `json:"stop_grace,omitempty"`

	// sig is the chunk's signed form: set by Submit, and by Verify on a
	// delivery. A chunk without it cannot be enqueued.
	sig *signed
}

// Key is the chunk's key in the chunk bucket and its message id.
func (c *Chunk) Key() string { return ChunkKey(c.Run, c.Task, c.ID) }

// TaskKey is the key of the chunk's task.
func (c *Chunk) TaskKey() string { return TaskKey(c.Run, c.Task) }

// ChunkKey is the bucket key of a chunk.
func ChunkKey(run, task, chunk string) string { return run + "." + task + "." + chunk }

// TaskKey is the bucket key of a task.
func TaskKey(run, task string) string { return run + "." + task }

// DecodeChunk reads a work message and checks that it names a chunk; a
// message that fails here is dead-lettered, never run.
func DecodeChunk(data []byte) (*Chunk, error) {
	var c Chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("malformed chunk message: %w", err)
	}
	for name, v := range map[string]string{"run": c.Run, "task": c.Task, "id": c.ID, "tool": c.Tool} {
		if v == "" {
			return &c, fmt.Errorf("malformed chunk message: no %s", name)
		}
		if !validToken(v) {
			return &c, fmt.Errorf("malformed chunk message: %s %q has characters other than letters, digits, - and _", name, v)
		}
	}
	if len(c.Targets) == 0 {
		return &c, fmt.Errorf("malformed chunk message: no targets")
	}
	return &c, nil
}

// ValidChunkKey reports whether c names a chunk well enough to record its
// end: run, task and id are valid key tokens.
func ValidChunkKey(c *Chunk) bool {
	return validToken(c.Run) && validToken(c.Task) && validToken(c.ID)
}

// ValidName reports whether s can name a pool, run, task or chunk: 1 to 128
// letters, digits, - and _.
func ValidName(s string) bool { return validToken(s) }

// validToken reports whether s can be one token of a subject or key.
func validToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// ChunkRecord is the durable state of a chunk, updated only with
// compare-and-swap. Its revision fences every write of an attempt: a worker
// that lost its lease finds the revision moved and stops without writing.
type ChunkRecord struct {
	Run     string     `json:"run"`
	Task    string     `json:"task"`
	ID      string     `json:"id"`
	Tool    string     `json:"tool"`
	Targets int        `json:"targets"`
	State   ChunkState `json:"state"`
	// Attempt counts the attempts that started: it is incremented when a
	// worker claims the chunk, so an attempt lost to SIGKILL is counted.
	Attempt  int        `json:"attempt"`
	Worker   string     `json:"worker,omitempty"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	ExitCode int        `json:"exit_code,omitempty"`
	Findings int        `json:"findings,omitempty"`
	Garbage  int        `json:"unparsed_lines,omitempty"`
	// Continuation is the id of the chunk enqueued with the targets this
	// chunk did not finish (eviction policy requeue-remainder).
	Continuation string `json:"continuation,omitempty"`
	// Remainder are the continuation's targets, kept until it is enqueued
	// for sure.
	Remainder []string `json:"remainder,omitempty"`
	// Parent is the chunk this one continues.
	Parent string `json:"parent,omitempty"`
}

// TaskState is a task's state: running until its fan-in completes.
type TaskState string

const (
	TaskRunning TaskState = "running"
	TaskDone    TaskState = "done"
	TaskPartial TaskState = "partial"
	TaskFailed  TaskState = "failed"
	// TaskCancelled: the run was cancelled before every chunk finished.
	TaskCancelled TaskState = "cancelled"
)

// TaskRecord is a task and its fan-in barrier. Planned chunks are bits in
// Done; continuations, which appear only on eviction, are tracked by id. A
// chunk's completion sets its bit and counts its state in one
// compare-and-swap, so a duplicate completion changes nothing.
type TaskRecord struct {
	Run    string `json:"run"`
	ID     string `json:"id"`
	Tool   string `json:"tool"`
	Pool   string `json:"pool"`
	Chunks int    `json:"chunks"`
	// Done has bit i set once planned chunk i is terminal.
	Done []byte `json:"done"`
	// Continuations maps a continuation chunk id to whether it is terminal.
	Continuations map[string]bool    `json:"continuations,omitempty"`
	States        map[ChunkState]int `json:"states"`
	State         TaskState          `json:"state"`
	Created       time.Time          `json:"created"`
	Finished      *time.Time         `json:"finished,omitempty"`
	// Findings counts the findings of the chunks counted so far.
	Findings int `json:"findings"`
}

// complete reports whether every chunk of the task is terminal.
func (t *TaskRecord) complete() bool {
	for i := 0; i < t.Chunks; i++ {
		if !bitSet(t.Done, i) {
			return false
		}
	}
	for _, done := range t.Continuations {
		if !done {
			return false
		}
	}
	return true
}

// finalState is the task's state once complete: done when every chunk is
// done, failed when none produced anything usable, partial otherwise.
func (t *TaskRecord) finalState(cancelled bool) TaskState {
	total := 0
	for _, n := range t.States {
		total += n
	}
	switch {
	case cancelled && t.States[ChunkCancelled] > 0:
		return TaskCancelled
	case t.States[ChunkDone] == total:
		return TaskDone
	case t.States[ChunkFailed]+t.States[ChunkAbandoned] == total:
		return TaskFailed
	}
	return TaskPartial
}

func bitSet(b []byte, i int) bool { return i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0 }
func setBit(b []byte, i int)      { b[i/8] |= 1 << (i % 8) }

// RunState is a run's state.
type RunState string

const (
	RunRunning   RunState = "running"
	RunDone      RunState = "done"
	RunPartial   RunState = "partial"
	RunFailed    RunState = "failed"
	RunCancelled RunState = "cancelled"
)

// Terminal reports whether the run has finished.
func (s RunState) Terminal() bool { return s != RunRunning && s != "" }

// RunRecord is a run: what was asked, its tasks and its state.
type RunRecord struct {
	ID      string              `json:"id"`
	Kind    string              `json:"kind"`
	Tool    string              `json:"tool,omitempty"`
	Targets int                 `json:"targets"`
	Options map[string][]string `json:"options,omitempty"`
	Tasks   []string            `json:"tasks"`
	// TasksDone lists the tasks whose fan-in completed, with their state.
	TasksDone map[string]TaskState `json:"tasks_done,omitempty"`
	State     RunState             `json:"state"`
	// CancelRequested is set by "runs cancel"; the run ends cancelled once
	// its tasks finish.
	CancelRequested bool       `json:"cancel_requested,omitempty"`
	Created         time.Time  `json:"created"`
	Finished        *time.Time `json:"finished,omitempty"`
	// Origin is where the run was started: "local" (embedded engine) or
	// the server URL, without credentials.
	Origin string `json:"origin,omitempty"`
}

// WorkerRecord is a live worker's heartbeat, kept in a bucket whose entries
// expire: a worker that stops beating disappears from "sortie workers".
type WorkerRecord struct {
	ID          string    `json:"id"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Pool        string    `json:"pool"`
	Concurrency int       `json:"concurrency"`
	Running     []string  `json:"running"`
	Started     time.Time `json:"started"`
	Heartbeat   time.Time `json:"heartbeat"`
	Version     string    `json:"version,omitempty"`
	Stopping    bool      `json:"stopping,omitempty"`
}

// DeadLetter records a chunk that was never run or was given up on.
type DeadLetter struct {
	Run      string    `json:"run,omitempty"`
	Task     string    `json:"task,omitempty"`
	Chunk    string    `json:"chunk,omitempty"`
	Tool     string    `json:"tool,omitempty"`
	Pool     string    `json:"pool"`
	Reason   string    `json:"reason"`
	Attempts int       `json:"attempts,omitempty"`
	Worker   string    `json:"worker,omitempty"`
	Time     time.Time `json:"time"`
	// Payload is the start of the message, for messages that could not be
	// decoded.
	Payload string `json:"payload,omitempty"`
}

// Event is one line of a run's lifecycle.
type Event struct {
	Type    string    `json:"type"` // chunk.started, chunk.finished, task.finished, run.finished, run.cancel
	Run     string    `json:"run"`
	Task    string    `json:"task,omitempty"`
	Chunk   string    `json:"chunk,omitempty"`
	Attempt int       `json:"attempt,omitempty"`
	Worker  string    `json:"worker,omitempty"`
	State   string    `json:"state,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Time    time.Time `json:"time"`
}
