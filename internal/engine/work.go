package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Queue is a pool's work queue as seen by one worker.
type Queue struct {
	e    *Engine
	pool string
	cons jetstream.Consumer
}

// QueueConfig configures a pool's consumer. Every worker of a pool writes
// it when it starts, so the workers of one pool must agree on it.
type QueueConfig struct {
	Pool string
	// Lease is how long a delivery stays with a worker without a
	// heartbeat before it is redelivered (the consumer's AckWait).
	Lease time.Duration
	// MaxAckPending bounds the chunks in flight across the pool.
	MaxAckPending int
}

// Queue opens (creating or updating) the pool's durable consumer.
func (e *Engine) Queue(ctx context.Context, cfg QueueConfig) (*Queue, error) {
	if !validToken(cfg.Pool) {
		return nil, fmt.Errorf("engine: pool name %q must be letters, digits, - and _", cfg.Pool)
	}
	cons, err := e.js.CreateOrUpdateConsumer(ctx, WorkStream, jetstream.ConsumerConfig{
		Durable:       consumerName(cfg.Pool),
		FilterSubject: workSubject(cfg.Pool),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.Lease,
		// Attempts are counted on the chunk's logical id, not here: the
		// transport never gives up on a message by itself.
		MaxDeliver:    -1,
		MaxAckPending: cfg.MaxAckPending,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: open queue %s: %w", cfg.Pool, err)
	}
	return &Queue{e: e, pool: cfg.Pool, cons: cons}, nil
}

// ResetQueue deletes the pool's consumer so that the next Queue delivers
// every message still in the stream at once, including those a dead
// process held. Only safe when no other worker uses the pool: "runs resume"
// of a local run, whose store this process holds locked.
func (e *Engine) ResetQueue(ctx context.Context, pool string) error {
	err := e.js.DeleteConsumer(ctx, WorkStream, consumerName(pool))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("engine: reset queue %s: %w", pool, err)
	}
	return nil
}

// Next waits up to wait for one chunk, or until ctx ends. It returns nil,
// nil when none came. One message per call: a worker asks only when it has
// a free slot, so no message waits in a buffer while its lease runs.
func (q *Queue) Next(ctx context.Context, wait time.Duration) (*Delivery, error) {
	// The wait is the context's deadline: FetchMaxWait must not be combined
	// with FetchContext.
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	batch, err := q.cons.Fetch(1, jetstream.FetchContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	if msg, ok := <-batch.Messages(); ok {
		d := &Delivery{e: q.e, msg: msg, Pool: q.pool, Size: len(msg.Data())}
		if md, err := msg.Metadata(); err == nil {
			d.NumDelivered = md.NumDelivered
		}
		if d.Size > MaxChunkBytes {
			d.DecodeErr = fmt.Errorf("chunk message of %d bytes is larger than %d", d.Size, MaxChunkBytes)
			return d, nil
		}
		// Decoded only: nothing may be done with the chunk until Verify.
		d.Chunk, d.DecodeErr = DecodeChunk(msg.Data())
		return d, nil
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	return nil, nil
}

// Delivery is one delivery of a work message.
type Delivery struct {
	e   *Engine
	msg jetstream.Msg
	// Chunk is the decoded message; it may be partly filled when DecodeErr
	// is set.
	Chunk        *Chunk
	DecodeErr    error
	Pool         string
	Size         int
	NumDelivered uint64
}

// InProgress extends the lease by another AckWait.
func (d *Delivery) InProgress() error { return d.msg.InProgress() }

// Ack removes the message from the queue, waiting for the server to confirm.
func (d *Delivery) Ack(ctx context.Context) error { return d.msg.DoubleAck(ctx) }

// Release hands the message back for immediate redelivery.
func (d *Delivery) Release() error { return d.msg.Nak() }

// ReleaseAfter hands the message back for redelivery after delay.
func (d *Delivery) ReleaseAfter(delay time.Duration) error { return d.msg.NakWithDelay(delay) }

// Term removes the message for good, with a reason for the server's advisory.
func (d *Delivery) Term(reason string) error { return d.msg.TermWithReason(reason) }

// MaxPayload is the most of a message a dead letter keeps.
const MaxPayload = 1024

// Payload is the start of the raw message, for dead letters, as scrub
// returns it. The message carries the chunk's options, secrets included:
// scrub gets the whole message and MaxPayload, and must mask them.
func (d *Delivery) Payload(scrub func(data []byte, max int) string) string {
	s := scrub(d.msg.Data(), MaxPayload)
	if len(s) > MaxPayload {
		s = s[:MaxPayload]
	}
	return s
}

// DeadLetter stores a dead letter.
func (e *Engine) DeadLetter(ctx context.Context, dl DeadLetter) error {
	if dl.Time.IsZero() {
		dl.Time = time.Now().UTC()
	}
	run, pool := dl.Run, dl.Pool
	if !validToken(run) {
		run = "_"
	}
	if !validToken(pool) {
		pool = "_"
	}
	b, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	opts := []jetstream.PublishOpt{}
	if dl.Run != "" && dl.Chunk != "" {
		opts = append(opts, jetstream.WithMsgID("dead."+ChunkKey(dl.Run, dl.Task, dl.Chunk)))
	}
	_, err = e.js.PublishMsg(ctx, &nats.Msg{Subject: deadSubject(pool, run), Data: b}, opts...)
	return err
}
