package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/metrics"
	"github.com/sortie-sec/sortie/internal/tool"
	"github.com/sortie-sec/sortie/internal/worker"
)

// workerOptions are the flags of `sortie worker`.
type workerOptions struct {
	// Pool is the work queue served. Defaults to "default".
	Pool string
	// Concurrency is the number of chunks run at once. Defaults to the
	// number of CPUs.
	Concurrency int
	// Grace is the time between SIGTERM and SIGKILL the worker plans
	// against; set it a few seconds below the pod's
	// terminationGracePeriodSeconds. Defaults to 60s.
	Grace time.Duration
	// Lease is how long a chunk stays with a silent worker. Defaults to 30s.
	Lease time.Duration
	// Eviction is finalize or requeue-remainder. Defaults to finalize.
	Eviction string
	// MaxAttempts before a chunk is abandoned. Defaults to 3.
	MaxAttempts int
	// MaxAckPending bounds the pool's chunks in flight. Defaults to 1024.
	MaxAckPending int
	// WorkDir holds the attempts' working directories. Defaults to
	// $TMPDIR/sortie-work.
	WorkDir string
	// ID names the worker. Defaults to host-pid.
	ID string
	// Metrics serves Prometheus metrics on /metrics. Defaults to none.
	Metrics metricsOptions
	// AllowDirs are the directories whose files chunks may name (wordlists,
	// templates, configs); every other file-naming option is refused.
	// Defaults to none: no chunk may name a file.
	AllowDirs []string
	// Trust are files of trusted submitters' public keys. Defaults to the
	// local signing key when every server URL is on loopback; required
	// otherwise.
	Trust []string

	concurrencyGiven bool
}

func newWorkerCommand(g *globalOptions) *cobra.Command {
	opts := &workerOptions{}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run chunks from the server's work queue",
		Long: `Run chunks of tasks from a pool's work queue on the server (--server).

A worker fetches one chunk per free slot and renews the chunk's lease while
the tool runs. On SIGTERM or SIGINT it stops fetching, hands back what it had
not started, stops its running tools and applies the eviction policy
(finalize: keep the partial findings and complete the chunk; requeue-remainder:
the same, and enqueue the targets not yet done) within --grace. A second
signal exits at once. A worker killed outright loses only its leases: other
workers take its chunks over when they expire.

A chunk may name local files (a wordlist, nuclei templates, a config) only
inside the directories given with --allow-dir (symlinks resolved); with none,
every file-naming option is refused. nmap runs installed NSE scripts by name
only, and script arguments that read or write files are refused. A refused
chunk is dead-lettered with the reason before anything runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.concurrencyGiven = cmd.Flags().Changed("concurrency")
			return runWorker(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Pool, "pool", "default", "work queue (pool) to serve")
	f.IntVar(&opts.Concurrency, "concurrency", 0, "chunks run at once (default: number of CPUs)")
	f.DurationVar(&opts.Grace, "grace", 60*time.Second, "time from SIGTERM to SIGKILL to plan against (pod's terminationGracePeriodSeconds minus a margin)")
	f.DurationVar(&opts.Lease, "lease", 30*time.Second, "lease of a running chunk, renewed every third of it")
	f.StringVar(&opts.Eviction, "eviction", "finalize", "on SIGTERM: finalize or requeue-remainder")
	f.IntVar(&opts.MaxAttempts, "max-attempts", 3, "attempts before a chunk is abandoned and dead-lettered")
	f.IntVar(&opts.MaxAckPending, "max-ack-pending", 1024, "chunks in flight across the pool")
	f.StringVar(&opts.WorkDir, "work-dir", "", "directory for the tools' working directories (default $TMPDIR/sortie-work)")
	f.StringVar(&opts.ID, "id", "", "worker id (default host-pid)")
	opts.Metrics.flags(f)
	f.StringArrayVar(&opts.AllowDirs, "allow-dir", nil, "directory whose files chunks may name: wordlists, templates, configs (repeatable; default none: every file-naming option is refused)")
	f.StringArrayVar(&opts.Trust, "trust", nil, "run only chunks signed by the public keys in `FILE` (repeatable; default on loopback: the local key)")
	return cmd
}

// runWorker serves until a signal (or ctx) says stop.
func runWorker(ctx context.Context, g *globalOptions, opts *workerOptions) error {
	log := g.logger()
	// Signals are counted here: the first starts the soft stop, the second
	// kills at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	reg := metrics.NewRegistry()
	cfg := worker.Config{
		ID: opts.ID, Pool: opts.Pool,
		Concurrency: opts.Concurrency, Lease: opts.Lease, Grace: opts.Grace,
		Eviction: worker.Eviction(opts.Eviction), MaxAttempts: opts.MaxAttempts, MaxAckPending: opts.MaxAckPending,
		WorkDir: opts.WorkDir, Logger: log, Metrics: reg, Version: version(),
	}
	err := cfg.CheckSettings()
	if opts.Concurrency == 0 && opts.concurrencyGiven {
		// 0 is the default (one slot per CPU) only when not asked for.
		err = errors.Join(errors.New("concurrency 0: must be at least 1"), err)
	}
	if err != nil {
		return usageError{err}
	}
	if _, err := opts.Metrics.token(); err != nil {
		return err // before connecting: a usage error is not retried
	}
	// Chunks come from whoever can submit: the files they may name are the
	// operator's choice, checked before anything runs.
	// An empty entry (SORTIE_ALLOW_DIR="") allows nothing.
	policy, err := tool.NewPolicy(slices.DeleteFunc(slices.Clone(opts.AllowDirs), func(d string) bool { return d == "" }))
	if err != nil {
		return usageError{withHint(fmt.Errorf("--allow-dir: %w", err), "give existing directories as absolute paths, e.g. --allow-dir /srv/wordlists")}
	}
	cfg.Policy = policy
	if !g.engine.remote() {
		return usageError{withHint(errors.New("no server"), "give --server URL (or SORTIE_SERVER, or server: in the config file)")}
	}
	// Trust is settled before connecting: off loopback, a worker that
	// trusts no one refuses to start.
	if cfg.Trust, err = workerTrust(opts.Trust, g.engine.Server, log); err != nil {
		return err
	}
	e, err := connectRetrying(ctx, g, log, sigs)
	if err != nil {
		return err
	}
	// After a second signal nothing is drained: exit now.
	killed := false
	defer func() {
		if !killed {
			e.Close()
		}
	}()
	in, err := newInstaller(g)
	if err != nil {
		return err
	}
	cfg.Engine, cfg.Registry, cfg.Locate = e, g.registry, in.Locate
	policy.Locate = in.Locate
	log.Info("worker policy", "allow_dirs", policy.AllowDirs())
	w, err := worker.New(cfg)
	if err != nil {
		return usageError{err}
	}
	if opts.Metrics.Addr != "" {
		stop, err := serveMetrics(opts.Metrics, reg.Handler(), log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	// Only signals on sigs count. main's context is cancelled by the same
	// SIGTERM, and the two deliveries race: counting both would take one
	// signal for two and kill instead of evicting.
	select {
	case <-sigs:
	case <-w.Stopped():
		return errors.New("worker stopped unexpectedly")
	}
	log.Info("stopping: no more fetches; running chunks get the eviction policy", "grace", opts.Grace.String(), "eviction", opts.Eviction)
	// The soft stop has the grace period, less a margin for closing the
	// connection. A second signal exits at once: the tools die with this
	// process (their parent-death signal), and the leases of the chunks
	// expire for other workers to take them.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.Grace-min(opts.Grace/10, time.Second))
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		w.Stop(sctx)
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-sigs:
		log.Warn("second signal: exiting now; running chunks are left to their leases")
		w.Kill()
		killed = true
		return errors.New("worker killed by a second signal")
	}
}

// connectRetrying connects to the server, retrying until it answers or a
// signal comes: on a fresh install the workers often start before the
// server's JetStream is ready.
func connectRetrying(ctx context.Context, g *globalOptions, log *slog.Logger, sigs <-chan os.Signal) (*engine.Engine, error) {
	wait := 500 * time.Millisecond
	for {
		e, err := g.engine.connect(ctx, log)
		if err == nil {
			return e, nil
		}
		var ue usageError
		if errors.As(err, &ue) {
			return nil, err
		}
		log.Warn("cannot reach the engine; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-time.After(wait):
		case <-sigs:
			return nil, err
		case <-ctx.Done():
			return nil, err
		}
		wait = min(2*wait, 10*time.Second)
	}
}
