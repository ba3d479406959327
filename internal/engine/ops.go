package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ForgetWorkers empties the liveness bucket. Only for an embedded store this
// process holds: every worker that wrote there is gone.
func (e *Engine) ForgetWorkers(ctx context.Context) error {
	var keys []string
	if err := e.eachKey(ctx, e.workers, ">", func(k string, _ []byte) { keys = append(keys, k) }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := e.workers.Purge(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// QueueStats is the state of one pool's work queue.
type QueueStats struct {
	Pool string `json:"pool"`
	// Waiting chunks have not been delivered yet; InFlight are delivered
	// and not acknowledged (running, or held by a worker that died and
	// whose lease has not expired yet).
	Waiting  uint64 `json:"waiting"`
	InFlight int    `json:"in_flight"`
	// Redelivered counts messages delivered more than once, still pending.
	Redelivered int `json:"redelivered"`
}

// Queues reports every pool's queue.
func (e *Engine) Queues(ctx context.Context) ([]QueueStats, error) {
	s, err := e.js.Stream(ctx, WorkStream)
	if err != nil {
		return nil, err
	}
	var out []QueueStats
	lister := s.ListConsumers(ctx)
	for ci := range lister.Info() {
		pool, ok := strings.CutPrefix(ci.Name, "pool-")
		if !ok {
			continue
		}
		out = append(out, QueueStats{Pool: pool, Waiting: ci.NumPending, InFlight: ci.NumAckPending, Redelivered: ci.NumRedelivered})
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return out, err
	}
	return out, nil
}

// DeadLetterCount is the number of dead letters stored.
func (e *Engine) DeadLetterCount(ctx context.Context) (uint64, error) {
	s, err := e.js.Stream(ctx, DeadStream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// Connect opens an in-process client of the server, with sortie's streams
// and buckets created: the server's own view for metrics.
func (s *Server) Connect(ctx context.Context, replicas int) (*Engine, error) {
	e := &Engine{cfg: Config{Replicas: replicas}.withDefaults()}
	e.log = e.cfg.Logger
	opts := []nats.Option{nats.InProcessServer(s.srv), nats.Name("sortie-server"), nats.MaxReconnects(-1)}
	if s.token != "" {
		opts = append(opts, nats.Token(s.token))
	}
	if s.seed != "" {
		o, err := nats.NkeyOptionFromSeed(s.seed)
		if err != nil {
			return nil, fmt.Errorf("nkey seed %s: %w", s.seed, err)
		}
		opts = append(opts, o)
		if pub, err := seedPublicKey(s.seed); err == nil {
			opts = append(opts, nats.CustomInboxPrefix(InboxPrefix(pub)))
		}
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, err
	}
	if err := e.useConn(nc); err != nil {
		nc.Close()
		return nil, err
	}
	if err := e.setup(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return e, nil
}
