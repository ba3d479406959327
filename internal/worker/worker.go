package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/install"
	"github.com/sortie-sec/sortie/internal/redact"
	"github.com/sortie-sec/sortie/internal/task"
	"github.com/sortie-sec/sortie/internal/tool"
)

// Causes of a chunk's cancellation, so its outcome can tell them apart.
var (
	// ErrEvicted: the worker was asked to stop (SIGTERM, SIGINT).
	ErrEvicted = errors.New("worker evicted")
	// ErrKilled: the worker was told to exit at once (a second signal).
	ErrKilled = errors.New("worker killed")
)

// Worker serves one pool.
type Worker struct {
	cfg Config
	log *slog.Logger
	m   *workerMetrics

	// runCtx ends on a hard kill; everything, including result writes,
	// stops then. fetchCtx ends on the first stop request.
	runCtx    context.Context
	kill      context.CancelCauseFunc
	fetchCtx  context.Context
	stopFetch context.CancelCauseFunc

	slots   chan struct{}
	wg      sync.WaitGroup
	stopped chan struct{}
	// drained is closed when no chunk runs any more after a stop; the
	// heartbeat goroutine then ends and beatsDone is closed.
	drained, beatsDone chan struct{}

	mu      sync.Mutex
	running map[string]*attemptState // by chunk key
}

type attemptState struct {
	chunk  *engine.Chunk
	cancel context.CancelCauseFunc
}

// New checks the configuration and returns a worker ready to Start.
func New(cfg Config) (*Worker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return &Worker{
		cfg: cfg, log: cfg.Logger.With("worker", cfg.ID, "pool", cfg.Pool), m: newMetrics(cfg.Metrics),
		slots: make(chan struct{}, cfg.Concurrency), stopped: make(chan struct{}),
		drained: make(chan struct{}), beatsDone: make(chan struct{}),
		running: map[string]*attemptState{},
	}, nil
}

// Start opens the pool's queue and starts fetching. It returns once the
// worker is serving; Stopped is closed when it has finished.
func (w *Worker) Start(ctx context.Context) error {
	q, err := w.cfg.Engine.Queue(ctx, engine.QueueConfig{Pool: w.cfg.Pool, Lease: w.cfg.Lease, MaxAckPending: w.cfg.MaxAckPending})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(w.cfg.WorkDir, 0o700); err != nil {
		return fmt.Errorf("worker: work directory: %w", err)
	}
	w.runCtx, w.kill = context.WithCancelCause(context.WithoutCancel(ctx))
	w.fetchCtx, w.stopFetch = context.WithCancelCause(w.runCtx)
	if err := w.cfg.Engine.WatchCancels(w.runCtx, w.cancelRun); err != nil {
		return fmt.Errorf("worker: watch cancellations: %w", err)
	}
	started := time.Now().UTC()
	w.beat(started)
	go func() {
		defer close(w.beatsDone)
		w.heartbeats(started)
	}()
	go w.loop(q)
	w.log.Info("worker started", "concurrency", w.cfg.Concurrency, "lease", w.cfg.Lease.String(), "grace", w.cfg.Grace.String(), "eviction", w.cfg.Eviction, "trusted_keys", w.cfg.Trust.Len())
	return nil
}

// Stop is the soft stop of an eviction: stop fetching, hand back at once
// what was fetched but not started, apply the eviction policy to running
// chunks, and wait for their results to be written and acknowledged. If ctx
// ends first, the worker is killed. Stopping twice is safe.
func (w *Worker) Stop(ctx context.Context) {
	w.stopFetch(ErrEvicted)
	w.mu.Lock()
	for _, a := range w.running {
		a.cancel(ErrEvicted)
	}
	w.mu.Unlock()
	select {
	case <-w.stopped:
	case <-ctx.Done():
		w.Kill()
		<-w.stopped
	}
}

// Kill stops everything at once: tools are stopped, nothing more is written
// or acknowledged; leases expire and other workers take the chunks over.
func (w *Worker) Kill() {
	w.stopFetch(ErrKilled)
	w.kill(ErrKilled)
}

// Stopped is closed when the worker has finished.
func (w *Worker) Stopped() <-chan struct{} { return w.stopped }

// loop fetches one chunk per free slot until the worker stops.
func (w *Worker) loop(q *engine.Queue) {
	defer func() {
		// Shutdown order: no more fetches; wait for running chunks to
		// write their results; then leave the liveness bucket.
		w.wg.Wait()
		close(w.drained)
		<-w.beatsDone
		_ = w.cfg.Engine.RemoveWorker(context.WithoutCancel(w.runCtx), w.cfg.ID)
		w.kill(nil)
		close(w.stopped)
		w.log.Info("worker stopped")
	}()
	for {
		select {
		case w.slots <- struct{}{}:
		case <-w.fetchCtx.Done():
			return
		}
		d := w.fetch(q)
		if d == nil {
			<-w.slots
			return // stopping
		}
		w.wg.Add(1)
		go func() {
			defer func() { <-w.slots; w.wg.Done() }()
			w.handle(d)
		}()
	}
}

// fetch waits for one chunk until the worker stops. By default a stop
// waits for the fetch in flight (at most FetchWait): a fetch abandoned
// while the server still holds it open could be handed a chunk nobody
// reads, which would then wait out its lease. With FastStop the fetch is
// cancelled at once. Whatever arrives after a stop is handed back untouched.
func (w *Worker) fetch(q *engine.Queue) *engine.Delivery {
	ctx := context.WithoutCancel(w.fetchCtx)
	if w.cfg.FastStop {
		ctx = w.fetchCtx
	}
	for {
		if w.fetchCtx.Err() != nil {
			return nil
		}
		d, err := q.Next(ctx, w.cfg.FetchWait)
		if w.fetchCtx.Err() != nil {
			if d != nil {
				_ = d.Release()
			}
			return nil
		}
		if err != nil {
			w.log.Warn("fetch failed", "err", err)
			select {
			case <-time.After(200 * time.Millisecond):
			case <-w.fetchCtx.Done():
			}
			continue
		}
		if d != nil {
			return d
		}
	}
}

// cancelRun stops this worker's running chunks of a cancelled run.
func (w *Worker) cancelRun(run string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.running {
		if a.chunk.Run == run {
			a.cancel(engine.ErrRunCancelled)
		}
	}
}

// heartbeats keeps the worker's liveness entry fresh.
func (w *Worker) heartbeats(started time.Time) {
	t := time.NewTicker(engine.WorkerTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			w.beat(started)
		case <-w.fetchCtx.Done():
			// Stopping: say so at once, and keep beating while running
			// chunks are finished, so no one takes this worker for dead.
			w.beat(started)
			t.Reset(engine.WorkerTTL / 4)
			for {
				select {
				case <-t.C:
					w.beat(started)
				case <-w.drained:
					return
				case <-w.runCtx.Done():
					return
				}
			}
		}
	}
}

func (w *Worker) beat(started time.Time) {
	host, _ := os.Hostname()
	w.mu.Lock()
	running := make([]string, 0, len(w.running))
	for k := range w.running {
		running = append(running, k)
	}
	w.mu.Unlock()
	slices.Sort(running)
	ctx, cancel := context.WithTimeout(w.runCtx, 5*time.Second)
	defer cancel()
	err := w.cfg.Engine.Heartbeat(ctx, engine.WorkerRecord{
		ID: w.cfg.ID, Host: host, PID: os.Getpid(), Pool: w.cfg.Pool, Concurrency: w.cfg.Concurrency,
		Running: running, Started: started, Heartbeat: time.Now().UTC(), Version: w.cfg.Version,
		Stopping: w.fetchCtx.Err() != nil,
	})
	if err != nil {
		w.log.Warn("worker heartbeat failed", "err", err)
	}
}

// handle takes one delivery from validation to acknowledgement.
func (w *Worker) handle(d *engine.Delivery) {
	ctx := w.runCtx
	// The signature first: until it is verified, the message is the
	// sender's claim and nothing is done with the chunk it names.
	if err := d.Verify(w.cfg.Trust); err != nil {
		w.reject(ctx, d, err)
		return
	}
	if d.NumDelivered > 1 {
		w.m.redeliveries.With(w.cfg.Pool).Inc()
	}
	c := d.Chunk
	if err := w.check(d); err != nil {
		w.deadLetter(ctx, d, err.Error(), 0)
		return
	}
	log := w.log.With("run_id", c.Run, "task_id", c.Task, "chunk_id", c.ID, "tool", c.Tool)
	a, err := w.cfg.Engine.Claim(ctx, c, w.cfg.ID, w.cfg.MaxAttempts)
	var exhausted *engine.AttemptsExhaustedError
	switch {
	case errors.Is(err, engine.ErrChunkFinished):
		log.Info("chunk already finished; acknowledging the redelivery")
		w.ack(ctx, d, log)
		return
	case errors.Is(err, engine.ErrRunCancelled):
		if err := w.cfg.Engine.Settle(ctx, c, engine.ChunkCancelled, "cancelled"); err != nil {
			log.Warn("settle cancelled chunk", "err", err)
			return // redelivered after the lease: the settle is retried
		}
		w.m.chunks.With(w.cfg.Pool, string(engine.ChunkCancelled)).Inc()
		w.ack(ctx, d, log)
		return
	case errors.As(err, &exhausted):
		w.abandon(ctx, d, log, exhausted)
		return
	case (errors.Is(err, engine.ErrTaskNotFound) || errors.Is(err, engine.ErrNotRequeued)) && d.NumDelivered < 3:
		// Maybe a replica that has not caught up with the submit, or with
		// the parent's record naming this continuation: try again shortly
		// before taking the chunk for a stray.
		_ = d.ReleaseAfter(time.Second)
		return
	case errors.Is(err, engine.ErrNotPlanned):
		w.deadLetter(ctx, d, err.Error(), 0)
		return
	case err != nil:
		// The engine is unreachable or failing: let the lease expire (or
		// the message be redelivered) rather than lose the chunk.
		log.Warn("claim failed; the chunk will be redelivered", "err", err)
		_ = d.Release()
		return
	}
	w.runAttempt(d, a, log.With("attempt", a.Number))
}

// check refuses what a worker must never run: a malformed message, a tool
// outside its registry, options that fail validation, rejected targets.
func (w *Worker) check(d *engine.Delivery) error {
	if d.DecodeErr != nil {
		return d.DecodeErr
	}
	c := d.Chunk
	def, err := w.cfg.Registry.Get(c.Tool)
	if err != nil {
		return fmt.Errorf("unknown tool %q", c.Tool)
	}
	if err := def.CheckOptions(c.Options); err != nil {
		return fmt.Errorf("invalid options for %s: %v", c.Tool, err)
	}
	if _, err := task.CheckTargets(c.Targets); err != nil {
		return fmt.Errorf("rejected target: %v", err)
	}
	if p := w.cfg.Policy; p != nil {
		if err := p.Check(def, c.Targets, c.Options); err != nil {
			return fmt.Errorf("refused by the worker's policy: %v", err)
		}
	}
	return nil
}

// deadLetter records a chunk that must not run, ends it as abandoned when it
// names one (so its fan-in proceeds) and removes the message for good.
func (w *Worker) deadLetter(ctx context.Context, d *engine.Delivery, reason string, attempts int) {
	c := d.Chunk
	// The reason may quote what the message carried: mask its secrets, as
	// in the payload kept, the log line and the error finding.
	reason = w.secrets(c).String(reason)
	dl := engine.DeadLetter{Pool: d.Pool, Reason: reason, Attempts: attempts, Worker: w.cfg.ID}
	// A message that names a chunk (even one that fails validation) ends
	// that chunk; one that names nothing is only dead-lettered.
	named, forged := c != nil && engine.ValidChunkKey(c), false
	if named && c.Parent != "" {
		// A continuation that no parent requeued is no chunk of the run:
		// neither a finding nor a settle may touch the run for it.
		if err := w.cfg.Engine.CheckRequeued(ctx, c); errors.Is(err, engine.ErrNotPlanned) {
			named, forged = false, true
		}
	}
	if c != nil {
		dl.Run, dl.Task, dl.Chunk, dl.Tool = c.Run, c.Task, c.ID, c.Tool
	}
	if d.DecodeErr != nil {
		sensitive := w.sensitiveOption(c)
		dl.Payload = d.Payload(func(b []byte, max int) string { return redact.Payload(b, sensitive, max) })
	}
	w.log.Warn("chunk dead-lettered", "run_id", dl.Run, "task_id", dl.Task, "chunk_id", dl.Chunk, "reason", reason)
	if err := w.cfg.Engine.DeadLetter(ctx, dl); err != nil {
		w.log.Warn("store dead letter", "err", err)
		return // not acknowledged: retried on redelivery
	}
	if named {
		pub := w.cfg.Engine.Findings(c.Run)
		w.publishOne(pub, c, &finding.Error{Message: "chunk not run: " + reason})
		// Flush retries until its context ends: bound it.
		fctx, cancel := context.WithTimeout(ctx, w.cfg.Lease)
		_ = pub.Flush(fctx)
		cancel()
		// The chunk ends abandoned so its task completes. A chunk no run
		// planned has no task to complete.
		err := w.cfg.Engine.Settle(ctx, c, engine.ChunkAbandoned, reason)
		if err != nil && !errors.Is(err, engine.ErrNotPlanned) {
			w.log.Warn("settle dead-lettered chunk", "err", err)
			return
		}
	}
	if forged {
		w.m.rejected.With(w.cfg.Pool).Inc()
	} else {
		w.m.chunks.With(w.cfg.Pool, string(engine.ChunkAbandoned)).Inc()
		w.m.abandoned.With(w.cfg.Pool).Inc()
	}
	_ = d.Term(reason)
}

// reject dead-letters a message whose signature failed and removes it for
// good. Unlike deadLetter it settles no chunk and publishes no finding: the
// names in an unverified message are only a claim, and honouring them
// would let anyone end another submitter's chunk. The dead letter belongs
// to no run; its payload shows what the message claimed.
func (w *Worker) reject(ctx context.Context, d *engine.Delivery, err error) {
	reason := "signature check failed: " + err.Error()
	sensitive := w.sensitiveOption(d.Chunk)
	payload := d.Payload(func(b []byte, max int) string { return redact.Payload(b, sensitive, max) })
	dl := engine.DeadLetter{Pool: d.Pool, Reason: reason, Worker: w.cfg.ID, Payload: payload}
	w.log.Warn("chunk rejected", "reason", reason)
	if err := w.cfg.Engine.DeadLetter(ctx, dl); err != nil {
		w.log.Warn("store dead letter", "err", err)
		return // not acknowledged: retried on redelivery
	}
	w.m.rejected.With(w.cfg.Pool).Inc()
	_ = d.Term(reason)
}

// abandon gives up on a chunk that used its attempts: an error finding, a
// dead letter, the chunk abandoned so the fan-in proceeds.
func (w *Worker) abandon(ctx context.Context, d *engine.Delivery, log *slog.Logger, ex *engine.AttemptsExhaustedError) {
	log.Error("chunk abandoned", "attempts", ex.Attempts)
	w.deadLetter(ctx, d, fmt.Sprintf("abandoned after %d attempts: every attempt ended without a result (the worker died or lost its lease)", ex.Attempts), ex.Attempts)
}

func (w *Worker) ack(ctx context.Context, d *engine.Delivery, log *slog.Logger) {
	if err := d.Ack(ctx); err != nil {
		log.Warn("acknowledge", "err", err)
	}
}

// publishOne stamps and publishes a finding outside a tool run.
func (w *Worker) publishOne(pub *engine.Publisher, c *engine.Chunk, f finding.Finding) {
	finding.Stamp(f, scope(c), time.Now())
	line, err := json.Marshal(f)
	if err == nil {
		pub.Publish(string(f.Kind()), f.Base().ID, line)
	}
}

func scope(c *engine.Chunk) finding.Scope {
	return finding.Scope{Run: c.Run, Task: c.Run + "/" + c.Task, Source: finding.Source{Tool: c.Tool, Step: c.Step}}
}

// runAttempt runs the tool for a claimed chunk, renewing the lease, and
// finishes it.
func (w *Worker) runAttempt(d *engine.Delivery, a *engine.Attempt, log *slog.Logger) {
	c := a.Chunk
	ctx, cancel := context.WithCancelCause(w.runCtx)
	defer cancel(nil)
	w.mu.Lock()
	w.running[c.Key()] = &attemptState{chunk: c, cancel: cancel}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, c.Key())
		w.mu.Unlock()
	}()
	// Started after registration: a stop or cancel request that came in
	// between is not missed.
	if w.fetchCtx.Err() != nil {
		cancel(ErrEvicted)
	}
	if w.cfg.Engine.Cancelled(ctx, c.Run) {
		cancel(engine.ErrRunCancelled)
	}

	// The lease is renewed from claim to acknowledgement.
	hbDone := make(chan struct{})
	hbStop := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.renewLease(ctx, d, a, cancel, hbStop, log)
	}()
	defer func() { close(hbStop); <-hbDone }()

	start := time.Now()
	log.Info("chunk started", "targets", len(c.Targets))
	res, pub, seen, runErr := w.runTool(ctx, a, log)
	// Results are written even when the chunk was stopped: only a hard
	// kill or a lost lease prevents it.
	wctx := context.WithoutCancel(ctx)
	cause := context.Cause(ctx)
	if errors.Is(cause, engine.ErrLeaseLost) || errors.Is(context.Cause(w.runCtx), ErrKilled) {
		log.Warn("chunk stopped without a result", "cause", cause)
		return
	}
	flushCtx, cancelFlush := context.WithTimeout(wctx, w.cfg.Lease)
	flushErr := pub.Flush(flushCtx)
	cancelFlush()
	if errors.Is(cause, ErrEvicted) && len(res.Commands) == 0 && flushErr == nil {
		// Stopped before its tool started: the chunk was fetched, not run.
		// Hand it back uncounted, as if it had never been fetched.
		if err := a.Unclaim(wctx); err != nil {
			log.Warn("undo the claim of a chunk not started", "err", err)
			return
		}
		_ = d.Release()
		log.Info("chunk handed back before its tool started")
		return
	}
	if flushErr != nil {
		// Findings not stored: do not complete; the chunk is redelivered.
		// Only the owner hands it back: a worker that lost its lease must
		// not send the new owner's delivery elsewhere.
		log.Error("store findings failed; the chunk will be redelivered", "err", flushErr)
		octx, ocancel := context.WithTimeout(wctx, w.cfg.Lease/3)
		owner, err := a.StillOwner(octx)
		ocancel()
		if err == nil && owner {
			_ = d.Release()
		}
		return
	}
	out := w.outcome(c, res, runErr, cause, seen)
	out.Reason = w.secrets(c).String(out.Reason) // shown in events and "runs show"
	out.Findings = pub.Count()
	if err := a.Finish(wctx, out); err != nil {
		if errors.Is(err, engine.ErrLeaseLost) {
			log.Warn("lease lost before the result was written; leaving the chunk to its new owner")
			return
		}
		log.Error("finish chunk failed; the chunk will be redelivered", "err", err)
		return
	}
	w.ack(wctx, d, log)
	w.m.observe(w.cfg.Pool, out, time.Since(start), cause, w.cfg.Eviction)
	log.Info("chunk finished", "state", out.State, "reason", out.Reason, "findings", out.Findings, "duration_ms", time.Since(start).Milliseconds())
}

// renewLease sends a heartbeat every third of the lease, after checking
// that the attempt still owns the chunk; a worker that was paused past its
// lease finds it lost and stops the tool without writing anything.
func (w *Worker) renewLease(ctx context.Context, d *engine.Delivery, a *engine.Attempt, cancel context.CancelCauseFunc, stop <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(w.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		case <-w.runCtx.Done():
			return
		}
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.Lease/3)
		owner, err := a.StillOwner(cctx)
		// The cancel watch stops a cancelled run's chunks at once; this
		// check holds if a watch was lost (a reconnect, a failover).
		cancelled := err == nil && owner && w.cfg.Engine.Cancelled(cctx, a.Chunk.Run)
		ccancel()
		if err != nil {
			log.Warn("lease check failed", "err", err)
		} else if !owner {
			log.Warn("lease lost: another worker took the chunk over")
			cancel(engine.ErrLeaseLost)
			return
		} else if cancelled {
			cancel(engine.ErrRunCancelled)
		}
		if err := d.InProgress(); err != nil {
			log.Warn("lease renewal failed", "err", err)
			continue
		}
		w.m.renewals.With(w.cfg.Pool).Inc()
	}
}

// runTool runs the chunk's tool, publishing findings as they are parsed.
// seen marks the targets some finding names (for requeue-remainder).
func (w *Worker) runTool(ctx context.Context, a *engine.Attempt, log *slog.Logger) (task.Result, *engine.Publisher, []bool, error) {
	c := a.Chunk
	pub := w.cfg.Engine.Findings(c.Run)
	seen := make([]bool, len(c.Targets))
	def, _ := w.cfg.Registry.Get(c.Tool)
	bin, err := w.cfg.Locate(def)
	if err != nil {
		msg := err.Error()
		if cmd := install.InstallCommand(def); cmd != "" {
			msg += fmt.Sprintf(" (install it on the worker with %q)", cmd)
		}
		w.publishOne(pub, c, &finding.Error{Message: msg})
		return task.Result{State: task.StateFailed, Reason: "missing-binary"}, pub, seen, err
	}
	dir, rawDir := filepath.Join(w.cfg.WorkDir, c.Run, fmt.Sprintf("%s.%s.a%d", c.Task, c.ID, a.Number)), ""
	if w.cfg.Dirs != nil {
		dir, rawDir = w.cfg.Dirs(c, a.Number)
	} else {
		defer os.RemoveAll(dir)
	}
	for _, d := range []string{dir, rawDir} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			w.publishOne(pub, c, &finding.Error{Message: "chunk directory: " + err.Error()})
			return task.Result{State: task.StateFailed, Reason: "work-dir"}, pub, seen, err
		}
	}
	targets := make([][]byte, len(c.Targets))
	for i, t := range c.Targets {
		targets[i] = []byte(t)
	}
	grace := w.cfg.stopGrace(c.StopGrace)
	res, err := task.Run(ctx, task.Spec{
		Tool: def, Binary: bin, Targets: c.Targets, Options: c.Options,
		Dir: dir, RawDir: rawDir, RawLimit: w.cfg.RawLimit, Scope: scope(c),
		Timeout: c.Timeout, MemoryLimit: c.MemoryLimit,
		InterruptGrace: grace, TerminateGrace: grace,
		OnCommand: func(display string) {
			w.cfg.Engine.Command(c, a.Number, display)
		},
		Emit: func(f finding.Finding) {
			line, err := json.Marshal(f)
			if err != nil {
				return
			}
			// Only requeue-remainder needs to know which targets are done.
			if w.cfg.Eviction == RequeueRemainder && !f.Kind().Execution() {
				for i, t := range targets {
					if !seen[i] && mentions(line, t) {
						seen[i] = true
					}
				}
			}
			pub.Publish(string(f.Kind()), f.Base().ID, line)
		},
	})
	return res, pub, seen, err
}

// mentions reports whether line names target as a whole: a finding about
// 127.0.0.10 or sub.example.com does not name 127.0.0.1 or example.com, and
// must not keep those from being requeued. An edge of the target that cannot
// continue a host name (the "/" ending a URL) needs no boundary.
func mentions(line, target []byte) bool {
	if len(target) == 0 {
		return false
	}
	checkStart, checkEnd := hostByte(target[0]), hostByte(target[len(target)-1])
	for i := 0; ; {
		j := bytes.Index(line[i:], target)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(target)
		if (!checkStart || start == 0 || !hostByte(line[start-1])) && (!checkEnd || end == len(line) || !hostByte(line[end])) {
			return true
		}
		i = start + 1
	}
}

// hostByte reports bytes that can continue a host name or address.
func hostByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '-' || b == '_'
}

// outcome decides how a chunk ends, from the tool's result and why its
// context ended. It is the one place that maps causes to states.
func (w *Worker) outcome(c *engine.Chunk, res task.Result, runErr error, cause error, seen []bool) engine.Outcome {
	out := engine.Outcome{State: chunkState(res.State), Reason: res.Reason, ExitCode: res.ExitCode, Garbage: res.Parse.Garbage}
	switch {
	case errors.Is(cause, ErrEvicted) && res.State == task.StateCancelled:
		out.State, out.Reason = engine.ChunkPartial, "evicted"
		if w.cfg.Eviction == RequeueRemainder {
			for i, t := range c.Targets {
				if !seen[i] {
					out.Remainder = append(out.Remainder, t)
				}
			}
			if len(out.Remainder) > 0 {
				out.Reason = "evicted-requeued"
			}
		}
	case errors.Is(cause, engine.ErrRunCancelled):
		out.State, out.Reason = engine.ChunkCancelled, "cancelled"
	case runErr != nil && res.State == "":
		out.State, out.Reason = engine.ChunkFailed, runErr.Error()
	}
	return out
}

func chunkState(s task.State) engine.ChunkState {
	switch s {
	case task.StateDone:
		return engine.ChunkDone
	case task.StatePartial:
		return engine.ChunkPartial
	case task.StateCancelled:
		return engine.ChunkCancelled
	}
	return engine.ChunkFailed
}

// sensitiveOption reports the options of c whose values must never be
// shown: those its tool marks sensitive or, for a tool this worker does not
// know (a message that could not be read), those any tool marks sensitive,
// and any whose name looks like a credential.
func (w *Worker) sensitiveOption(c *engine.Chunk) func(string) bool {
	var defs []*tool.Definition
	if def, ok := w.cfg.Registry.Lookup(chunkTool(c)); ok {
		defs = []*tool.Definition{def}
	} else {
		defs = w.cfg.Registry.All()
	}
	return func(name string) bool {
		if redact.SensitiveName(name) {
			return true
		}
		for _, d := range defs {
			if d.IsSensitive(name) {
				return true
			}
		}
		return false
	}
}

// secrets masks the values of c's sensitive options.
func (w *Worker) secrets(c *engine.Chunk) *redact.Redactor {
	if c == nil || len(c.Options) == 0 {
		return nil
	}
	sensitive := w.sensitiveOption(c)
	var values []string
	for name, vs := range c.Options {
		if sensitive(name) {
			values = append(values, vs...)
		}
	}
	return redact.New(values...)
}

func chunkTool(c *engine.Chunk) string {
	if c == nil {
		return ""
	}
	return c.Tool
}
