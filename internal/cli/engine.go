package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/signing"
	"github.com/sortie-sec/sortie/internal/worker"
)

// engineOptions say where runs live: an engine embedded in each local run,
// or a NATS server shared by a fleet.
type engineOptions struct {
	// Server is the NATS URL of the fleet's server or cluster. Defaults to
	// local mode: an engine embedded in this process.
	Server string
	// Creds is a NATS credentials file. Defaults to none.
	Creds string
	// Token authenticates with a token. Defaults to none.
	Token string
	// NKey is an nkey seed file. Defaults to none.
	NKey string
	// TLSCA, TLSCert, TLSKey: TLS to the server. Default to none.
	TLSCA, TLSCert, TLSKey string
	// Replicas of the streams and buckets sortie creates. Defaults to 1.
	Replicas int
	// SigningKey is the private key file that signs what this process
	// submits to a server (--signing-key, on the commands that submit).
	// Defaults to $XDG_CONFIG_HOME/sortie/signing.key, created on first use.
	SigningKey string
}

func (o *engineOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.Server, "server", "", "NATS `URL` of the sortie server or cluster (default: local mode, engine embedded in this process)")
	f.StringVar(&o.Creds, "creds", "", "NATS credentials `FILE` for --server")
	f.StringVar(&o.Token, "server-token", "", "token for --server (prefer SORTIE_SERVER_TOKEN: flags show in ps)")
	f.StringVar(&o.NKey, "nkey", "", "nkey seed `FILE` for --server")
	f.StringVar(&o.TLSCA, "tls-ca", "", "CA bundle `FILE` to verify the server")
	f.StringVar(&o.TLSCert, "tls-cert", "", "client certificate `FILE`")
	f.StringVar(&o.TLSKey, "tls-key", "", "client key `FILE`")
	f.IntVar(&o.Replicas, "replicas", 1, "replicas of sortie's streams and buckets (3 on a three-node cluster)")
}

// remote reports whether runs live on a server.
func (o *engineOptions) remote() bool { return o.Server != "" }

// connect opens the fleet's engine.
func (o *engineOptions) connect(ctx context.Context, log *slog.Logger) (*engine.Engine, error) {
	if !o.remote() {
		return nil, usageError{withHint(errors.New("no server"), "give --server URL (or SORTIE_SERVER, or server: in the config file)")}
	}
	e, err := engine.Open(ctx, engine.Config{
		Server: o.Server, Creds: o.Creds, Token: o.Token, NKeySeedFile: o.NKey,
		TLSCA: o.TLSCA, TLSCert: o.TLSCert, TLSKey: o.TLSKey, Replicas: o.Replicas, Logger: log,
	})
	if err != nil {
		return nil, withHint(err, "is the server running (sortie server), and are --server and its credentials right?")
	}
	return e, nil
}

// connectSubmitter is connect for a process that submits runs: its chunks
// are signed with the submitter's key.
func (o *engineOptions) connectSubmitter(ctx context.Context, log *slog.Logger) (*engine.Engine, error) {
	if !o.remote() {
		return o.connect(ctx, log)
	}
	key, created, err := loadSigningKey(o.SigningKey)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("made a signing key; workers off loopback must trust it (sortie keys show)", "path", signingKeyPath(o.SigningKey))
	}
	e, err := engine.Open(ctx, engine.Config{
		Server: o.Server, Creds: o.Creds, Token: o.Token, NKeySeedFile: o.NKey,
		TLSCA: o.TLSCA, TLSCert: o.TLSCert, TLSKey: o.TLSKey, Replicas: o.Replicas, Logger: log,
		SigningKey: key,
	})
	if err != nil {
		return nil, withHint(err, "is the server running (sortie server), and are --server and its credentials right?")
	}
	return e, nil
}

// localKeyFile is a local run's own signing key, in its engine store: the
// run signs its chunks with it and its in-process worker trusts only it.
const localKeyFile = "signing.key"

// openLocal opens the embedded engine of a local run, whose store is in the
// run's directory, with the run's own signing key (made on first use).
func openLocal(ctx context.Context, dir *report.Dir) (*engine.Engine, error) {
	store, err := dir.Subdir("engine") // the run's own directory, never a link
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(store, localKeyFile)
	key, _, err := signing.LoadOrCreateKey(keyPath)
	if err != nil {
		return nil, keyError(err, keyPath)
	}
	e, err := engine.Open(ctx, engine.Config{Dir: store, SigningKey: key})
	if errors.Is(err, engine.ErrLocked) {
		return nil, withHint(fmt.Errorf("run %s is in use by another sortie process", filepath.Base(dir.Path)), "sortie runs attach "+filepath.Base(dir.Path)+" follows it")
	}
	return e, err
}

// localWorker starts the worker of a local run: the same code as "sortie
// worker", in this process, with the run directory as its work directory.
// rawLimit is task.Spec.RawLimit.
func localWorker(ctx context.Context, g *globalOptions, e *engine.Engine, dir *report.Dir, concurrency int, rawLimit int64) (*worker.Worker, error) {
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	in, err := newInstaller(g)
	if err != nil {
		return nil, err
	}
	w, err := worker.New(worker.Config{
		Engine: e, Registry: g.registry, Locate: in.Locate,
		// The run's own key, and no other.
		Trust:       signing.NewTrust(e.SigningKey().Public()),
		ID:          fmt.Sprintf("local-%d", os.Getpid()),
		Concurrency: concurrency, Dirs: localDirs(dir), RawLimit: rawLimit,
		// Alone on its queue: the worker stops as soon as the run is done.
		FastStop: true,
		Version:  version(),
	})
	if err != nil {
		return nil, err
	}
	return w, w.Start(ctx)
}

// stopWorker stops a local run's worker once its run is over; the shutdown
// order is run, then worker, then engine.
func stopWorker(ctx context.Context, w *worker.Worker) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	w.Stop(sctx)
}

// localDirs keeps a local run's working and raw output directories in the
// run directory: work/ and raw/ themselves for a run of one chunk that
// succeeds at its first attempt (the common case), a subdirectory per
// attempt otherwise.
func localDirs(dir *report.Dir) func(c *engine.Chunk, attempt int) (string, string) {
	return func(c *engine.Chunk, attempt int) (string, string) {
		work, raw := dir.File(report.WorkDir), dir.File(report.RawDir)
		if c.Of == 1 && c.Index == 0 && attempt == 1 {
			return work, raw
		}
		sub := fmt.Sprintf("%s.%s.a%d", c.Task, c.ID, attempt)
		return filepath.Join(work, sub), filepath.Join(raw, sub)
	}
}
