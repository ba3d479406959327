// Package worker runs chunks from a pool's work queue: one fetch per free
// slot, a lease renewed by heartbeats while a tool runs and while its result
// is written, the eviction policy on SIGTERM, attempts counted on the
// chunk's logical id, dead letters for what must never run, and one function
// that turns a chunk's outcome into an acknowledgement.
package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/metrics"
	"github.com/sortie-sec/sortie/internal/signing"
	"github.com/sortie-sec/sortie/internal/tool"
)

// Eviction is what a worker does with its running chunks when asked to stop.
type Eviction string

const (
	// Finalize stops the tool, keeps its partial findings and completes the
	// chunk as partial with reason "evicted".
	Finalize Eviction = "finalize"
	// RequeueRemainder does the same and enqueues the targets the tool had
	// not finished as a continuation chunk in the same fan-in.
	RequeueRemainder Eviction = "requeue-remainder"
)

// Config configures a worker.
type Config struct {
	// Engine is where work comes from and results go. Required.
	Engine *engine.Engine
	// Registry holds the only tools this worker runs. Required.
	Registry *tool.Registry
	// Trust holds the submitters' public keys: a chunk runs only if one of
	// them signed it. Required, with at least one key.
	Trust *signing.Trust
	// Locate finds a tool's binary. Required.
	Locate func(*tool.Definition) (string, error)
	// Policy is what the worker accepts from chunks beyond the checks every
	// run makes: files only inside the operator's allowed directories, NSE
	// scripts by name (see tool.Policy). A refused chunk is dead-lettered
	// with the reason before anything runs. A fleet worker needs one; a
	// local run, whose user is on their own machine, has none. Defaults to
	// none.
	Policy *tool.Policy
	// ID names the worker in records and logs. Defaults to host-pid.
	ID string
	// Pool is the work queue this worker serves. Defaults to "default".
	Pool string
	// Concurrency is the number of chunks run at once. Defaults to the
	// number of CPUs.
	Concurrency int
	// Lease is how long a chunk stays with this worker without a heartbeat;
	// heartbeats go every third of it. Defaults to 30s.
	Lease time.Duration
	// Grace is the time between SIGTERM and SIGKILL that the worker plans
	// against: tools are stopped early enough for their results to be
	// written and acknowledged within it. Defaults to 60s.
	Grace time.Duration
	// Eviction is the policy for running chunks on a soft stop. Defaults to
	// Finalize.
	Eviction Eviction
	// MaxAttempts is how many attempts a chunk gets before it is abandoned.
	// Defaults to 3.
	MaxAttempts int
	// MaxAckPending bounds the chunks in flight across the pool. Defaults
	// to 1024.
	MaxAckPending int
	// WorkDir holds each attempt's working directory, removed when the
	// attempt ends. Defaults to a directory under the system's temporary
	// directory.
	WorkDir string
	// Dirs, when set, chooses an attempt's working directory and raw output
	// directory (raw may be "" to discard it), and both are kept: local runs
	// keep them in the run directory. Defaults to a directory under WorkDir,
	// removed when the attempt ends, and no raw output.
	Dirs func(c *engine.Chunk, attempt int) (work, raw string)
	// RawLimit caps the raw output an attempt keeps (see task.Spec.RawLimit;
	// negative keeps none). Defaults to 100 MiB.
	RawLimit int64
	// FetchWait is how long one fetch waits for a message. Defaults to 1s.
	FetchWait time.Duration
	// FastStop cancels the fetch in flight on a stop instead of waiting up
	// to FetchWait for it. For a worker that is alone on its queue (a local
	// run): elsewhere a chunk handed out at that moment would wait for its
	// lease to expire. Defaults to false.
	FastStop bool
	// Logger receives structured logs. Defaults to discarding them.
	Logger *slog.Logger
	// Metrics receives the worker's metrics. Defaults to a private registry.
	Metrics *metrics.Registry
	// Version is reported in the worker's liveness record.
	Version string
}

func (c Config) withDefaults() Config {
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.Pool == "" {
		c.Pool = engine.DefaultPool
	}
	if c.Concurrency == 0 {
		c.Concurrency = runtime.NumCPU()
	}
	if c.Lease == 0 {
		c.Lease = 30 * time.Second
	}
	if c.Grace == 0 {
		c.Grace = 60 * time.Second
	}
	if c.Eviction == "" {
		c.Eviction = Finalize
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 1024
	}
	if c.WorkDir == "" {
		c.WorkDir = filepath.Join(os.TempDir(), "sortie-work")
	}
	if c.FetchWait == 0 {
		c.FetchWait = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewRegistry()
	}
	return c
}

// validate reports every problem at once.
func (c Config) validate() error {
	var errs []error
	if c.Engine == nil {
		errs = append(errs, errors.New("no engine"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("no tool registry"))
	}
	if c.Trust.Len() == 0 {
		errs = append(errs, errors.New("no trusted submitter keys: chunks are run only when signed by a trusted key"))
	}
	if c.Locate == nil {
		errs = append(errs, errors.New("no tool locator"))
	}
	return errors.Join(append(errs, c.CheckSettings())...)
}

// CheckSettings reports every problem with the worker's settings (not its
// dependencies), so a command can refuse bad flags before connecting.
func (c Config) CheckSettings() error {
	c = c.withDefaults()
	var errs []error
	if !engine.ValidName(c.Pool) {
		errs = append(errs, fmt.Errorf("pool %q: a pool name is letters, digits, - and _", c.Pool))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d: must be at least 1", c.Concurrency))
	}
	if c.Lease < time.Second {
		errs = append(errs, fmt.Errorf("lease %s: must be at least 1s", c.Lease))
	}
	if c.Grace < time.Second {
		errs = append(errs, fmt.Errorf("grace %s: must be at least 1s", c.Grace))
	}
	if c.Eviction != Finalize && c.Eviction != RequeueRemainder {
		errs = append(errs, fmt.Errorf("eviction %q: must be %s or %s", c.Eviction, Finalize, RequeueRemainder))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max attempts %d: must be at least 1", c.MaxAttempts))
	}
	if c.MaxAckPending < c.Concurrency {
		errs = append(errs, fmt.Errorf("max ack pending %d: must be at least the concurrency %d", c.MaxAckPending, c.Concurrency))
	}
	return errors.Join(errs...)
}

// stopGrace is the grace each stop step (SIGINT, then SIGTERM) gets on an
// eviction: the chunk's own, capped so that both steps and a reserve for
// writing results fit in the worker's grace period.
func (c Config) stopGrace(chunk time.Duration) time.Duration {
	if chunk <= 0 {
		chunk = 2 * time.Second
	}
	reserve := max(c.Grace/5, 2*time.Second)
	budget := (c.Grace - reserve) / 2
	if budget < 100*time.Millisecond {
		budget = 100 * time.Millisecond
	}
	return min(chunk, budget)
}
