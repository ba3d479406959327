package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// event publishes a lifecycle event without waiting: events inform viewers,
// the records are the truth.
func (e *Engine) event(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	b, _ := json.Marshal(ev)
	if _, err := e.js.PublishMsgAsync(&nats.Msg{Subject: eventSubject(ev.Run), Data: b}); err != nil {
		e.log.Warn("publish event", "type", ev.Type, "run_id", ev.Run, "err", err)
	}
}

// publishEvent publishes an event and waits for it to be stored.
func (e *Engine) publishEvent(ctx context.Context, ev Event, msgID string) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	b, _ := json.Marshal(ev)
	_, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: eventSubject(ev.Run), Data: b}, jetstream.WithMsgID(msgID))
	if err != nil {
		return fmt.Errorf("engine: publish %s: %w", ev.Type, err)
	}
	return nil
}

// Publisher sends one attempt's findings. Publishes are asynchronous; Flush
// waits until the stream has stored every one.
type Publisher struct {
	e       *Engine
	run     string
	futures []jetstream.PubAckFuture
	// failed holds the publishes the stream did not store (no leader during
	// a failover, a server restart), to be sent again by Flush.
	failed  []*nats.Msg
	lastErr error
	n       int
}

// Findings returns a publisher for findings of run.
func (e *Engine) Findings(run string) *Publisher { return &Publisher{e: e, run: run} }

// Publish sends one finding, JSON-encoded, with its id as message id so a
// redelivered chunk stores it once. A publish that cannot be sent now is
// kept for Flush, which reports what could not be stored.
func (p *Publisher) Publish(typ, id string, line []byte) {
	m := &nats.Msg{Subject: findingSubject(p.run, typ), Data: line, Header: nats.Header{}}
	m.Header.Set(jetstream.MsgIDHeader, id)
	p.n++
	f, err := p.e.js.PublishMsgAsync(m)
	if err != nil {
		// Too many publishes in flight, or disconnected with a full
		// reconnect buffer: keep it for Flush to send again, never drop it.
		p.failed, p.lastErr = append(p.failed, m), err
		return
	}
	p.futures = append(p.futures, f)
	// Keep the list short on long chunks: collect what is already stored.
	if len(p.futures) >= 1024 {
		p.collect()
	}
}

// Count is the number of findings published.
func (p *Publisher) Count() int { return p.n }

// publishRetryWait is the pause before Flush sends failed publishes again.
const publishRetryWait = 250 * time.Millisecond

// Flush waits until every finding published so far is stored. A publish the
// stream did not store — no stream leader while a cluster elects one, a
// server restarting — is sent again until ctx ends: its message id makes
// that safe, so an engine outage shorter than ctx costs nothing.
func (p *Publisher) Flush(ctx context.Context) error {
	for {
		for i, f := range p.futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				p.failed, p.lastErr = append(p.failed, f.Msg()), err
			case <-ctx.Done():
				p.futures = p.futures[i:]
				return context.Cause(ctx)
			}
		}
		p.futures = p.futures[:0]
		if len(p.failed) == 0 {
			return nil
		}
		select {
		case <-time.After(publishRetryWait):
		case <-ctx.Done():
			return fmt.Errorf("engine: publish finding: %w", p.lastErr)
		}
		msgs := p.failed
		p.failed = nil
		for _, m := range msgs {
			// m keeps its message id header from the first publish.
			f, err := p.e.js.PublishMsgAsync(m)
			if err != nil {
				p.failed, p.lastErr = append(p.failed, m), err
				continue
			}
			p.futures = append(p.futures, f)
		}
	}
}

// collect drops the futures already acknowledged and sets failed ones aside
// for Flush to send again.
func (p *Publisher) collect() {
	keep := p.futures[:0]
	for _, f := range p.futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			p.failed, p.lastErr = append(p.failed, f.Msg()), err
		default:
			keep = append(keep, f)
		}
	}
	p.futures = keep
}

// Follower delivers a run's messages in order: everything stored so far,
// then new ones as they arrive, until its context ends.
type Follower struct {
	e        *Engine
	stream   string
	subject  string
	mu       sync.Mutex
	cond     *sync.Cond
	lastSeq  uint64 // stream sequence of the last message delivered
	caughtUp chan struct{}
}

func (e *Engine) follow(ctx context.Context, stream, subject string, fn func([]byte)) (*Follower, error) {
	cons, err := e.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: follow %s: %w", subject, err)
	}
	f := &Follower{e: e, stream: stream, subject: subject, caughtUp: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	last, err := f.last(ctx)
	if err != nil {
		return nil, err
	}
	if last == 0 {
		close(f.caughtUp)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		fn(m.Data())
		md, err := m.Metadata()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.lastSeq = md.Sequence.Stream
		f.mu.Unlock()
		f.cond.Broadcast()
		if last != 0 && md.Sequence.Stream == last {
			close(f.caughtUp)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("engine: follow %s: %w", subject, err)
	}
	go func() {
		<-ctx.Done()
		cc.Stop()
		f.wake()
	}()
	return f, nil
}

// wake wakes Sync's waiters. Under the lock, so a waiter between its check
// and its Wait cannot miss it.
func (f *Follower) wake() {
	f.mu.Lock()
	f.cond.Broadcast()
	f.mu.Unlock()
}

// last is the stream sequence of the newest message on the subject, 0 if
// there is none.
func (f *Follower) last(ctx context.Context) (uint64, error) {
	s, err := f.e.js.Stream(ctx, f.stream)
	if err != nil {
		return 0, err
	}
	m, err := s.GetLastMsgForSubject(ctx, f.subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("engine: last message of %s: %w", f.subject, err)
	}
	return m.Sequence, nil
}

// CaughtUp is closed once the messages stored when following began are
// delivered.
func (f *Follower) CaughtUp() <-chan struct{} { return f.caughtUp }

// Sync waits until every message stored before the call is delivered.
func (f *Follower) Sync(ctx context.Context) error {
	last, err := f.last(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, f.wake)
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.lastSeq < last {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		f.cond.Wait()
	}
	return nil
}

// FollowFindings delivers the run's findings (JSON lines) in order.
func (e *Engine) FollowFindings(ctx context.Context, run string, fn func([]byte)) (*Follower, error) {
	return e.follow(ctx, FindingsStream, "sortie.findings."+run+".>", fn)
}

// FollowEvents delivers the run's events in order.
func (e *Engine) FollowEvents(ctx context.Context, run string, fn func(Event)) (*Follower, error) {
	return e.follow(ctx, EventsStream, eventSubject(run), func(b []byte) {
		var ev Event
		if json.Unmarshal(b, &ev) == nil {
			fn(ev)
		}
	})
}

// Command records the command line (secrets redacted) an attempt runs.
func (e *Engine) Command(c *Chunk, attempt int, display string) {
	e.event(Event{Type: "chunk.command", Run: c.Run, Task: c.Task, Chunk: c.ID, Attempt: attempt, Reason: display})
}
