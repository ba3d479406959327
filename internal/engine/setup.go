package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// What sortie creates in JetStream (docs/engine.md lists it for operators).
const (
	// WorkStream is the work queue: one subject per pool, one durable pull
	// consumer per pool. A message is deleted when a worker acknowledges it.
	WorkStream = "SORTIE_WORK"
	// FindingsStream holds every finding, on sortie.findings.<run>.<type>.
	FindingsStream = "SORTIE_FINDINGS"
	// EventsStream holds run, task and chunk lifecycle events.
	EventsStream = "SORTIE_EVENTS"
	// DeadStream holds dead letters: chunks never run or given up on.
	DeadStream = "SORTIE_DEAD"

	RunsBucket    = "sortie_runs"
	TasksBucket   = "sortie_tasks"
	ChunksBucket  = "sortie_chunks"
	WorkersBucket = "sortie_workers"
	CancelBucket  = "sortie_cancel"

	// DuplicateWindow is how long a message id is remembered: a publish
	// retried within it (after a crash or a reconnect) is stored once.
	DuplicateWindow = 10 * time.Minute
	// WorkerTTL is how long a worker's heartbeat entry lives.
	WorkerTTL = 20 * time.Second
)

func workSubject(pool string) string        { return "sortie.work." + pool }
func findingSubject(run, typ string) string { return "sortie.findings." + run + "." + typ }
func eventSubject(run string) string        { return "sortie.events." + run }
func deadSubject(pool, run string) string   { return "sortie.dead." + pool + "." + run }
func consumerName(pool string) string       { return "pool-" + pool }

// setup creates the streams and buckets that do not exist yet. Existing
// ones are left as they are: an operator may have tuned their replicas or
// retention, and a client started with other defaults must not undo that.
// Every process runs it at start.
func (e *Engine) setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r := e.cfg.Replicas
	streams := []jetstream.StreamConfig{
		{Name: WorkStream, Subjects: []string{"sortie.work.*"}, Retention: jetstream.WorkQueuePolicy},
		{Name: FindingsStream, Subjects: []string{"sortie.findings.*.*"}},
		{Name: EventsStream, Subjects: []string{"sortie.events.*"}},
		{Name: DeadStream, Subjects: []string{"sortie.dead.*.*"}},
	}
	for _, s := range streams {
		s.Storage, s.Replicas, s.Duplicates = jetstream.FileStorage, r, DuplicateWindow
		if _, err := e.js.Stream(ctx, s.Name); err == nil {
			continue
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("engine: stream %s: %w", s.Name, err)
		}
		_, err := e.js.CreateStream(ctx, s)
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("engine: create stream %s: %w", s.Name, err)
		}
	}
	buckets := []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&e.runs, jetstream.KeyValueConfig{Bucket: RunsBucket, History: 1}},
		{&e.tasks, jetstream.KeyValueConfig{Bucket: TasksBucket, History: 1}},
		{&e.chunks, jetstream.KeyValueConfig{Bucket: ChunksBucket, History: 1}},
		// Entries expire unless refreshed: a dead worker disappears.
		{&e.workers, jetstream.KeyValueConfig{Bucket: WorkersBucket, History: 1, TTL: WorkerTTL}},
		{&e.cancels, jetstream.KeyValueConfig{Bucket: CancelBucket, History: 1}},
	}
	for _, b := range buckets {
		b.cfg.Storage, b.cfg.Replicas = jetstream.FileStorage, r
		kv, err := e.js.KeyValue(ctx, b.cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = e.js.CreateKeyValue(ctx, b.cfg)
			if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				kv, err = e.js.KeyValue(ctx, b.cfg.Bucket) // another process was first
			}
		}
		if err != nil {
			return fmt.Errorf("engine: bucket %s: %w", b.cfg.Bucket, err)
		}
		*b.kv = kv
	}
	return nil
}
