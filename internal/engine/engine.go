// Package engine is sortie's execution state on NATS JetStream: the embedded
// server of local mode, the connection to an external server or cluster, and
// everything sortie keeps there — work-queue stream, findings and events
// streams, dead letters, and the KV buckets of runs, tasks (fan-in barriers),
// chunks (attempts and leases), workers and cancellations. It is the only
// package that imports nats-io.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sortie-sec/sortie/internal/signing"
)

// Config says which engine to use and how to reach it.
type Config struct {
	// Server is the NATS URL of an external server or cluster
	// ("nats://host:4222", several separated by commas). Defaults to an
	// engine embedded in this process, with its state in Dir.
	Server string
	// Creds is a NATS credentials file (JWT and nkey seed). Defaults to none.
	Creds string
	// Token authenticates with a token. Defaults to none.
	Token string
	// NKeySeedFile authenticates with an nkey seed. Defaults to none.
	NKeySeedFile string
	// TLSCA, TLSCert and TLSKey configure TLS to the server: a CA bundle to
	// trust, and a client certificate. Defaults to the system roots and no
	// client certificate; a tls:// URL turns TLS on.
	TLSCA, TLSCert, TLSKey string
	// Dir is the embedded engine's store. Required when Server is empty.
	Dir string
	// SyncAlways makes the embedded store fsync every write: slower, but
	// nothing is lost on power failure. Defaults to the server's periodic
	// sync (every 2 minutes), which loses nothing when only the process dies.
	SyncAlways bool
	// Replicas is the replication factor of the streams and buckets sortie
	// creates. Defaults to 1; use 3 on a three-node cluster.
	Replicas int
	// SigningKey signs the chunks this process submits; workers run only
	// chunks signed by a key they trust. Defaults to none: Submit fails.
	SigningKey *signing.Key
	// Name is the client name shown by the server. Defaults to "sortie".
	Name string
	// Logger receives connection events. Defaults to discarding them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Name == "" {
		c.Name = "sortie"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Engine is a connection to JetStream with sortie's streams and buckets.
type Engine struct {
	cfg      Config
	srv      *server.Server // embedded server, nil when remote
	nc       *nats.Conn
	js       jetstream.JetStream
	runs     jetstream.KeyValue
	tasks    jetstream.KeyValue
	chunks   jetstream.KeyValue
	workers  jetstream.KeyValue
	cancels  jetstream.KeyValue
	log      *slog.Logger
	lockFile *os.File
	// noChunkWrites is set for an identity that may not write chunk
	// records (a submitter): CancelRun leaves settling to the workers.
	noChunkWrites bool
}

// ErrLocked means another sortie process holds the embedded store.
var ErrLocked = errors.New("the run's engine store is in use by another sortie process")

// Open starts or connects to the engine and makes sure sortie's streams and
// buckets exist. Close releases it.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, log: cfg.Logger}
	var err error
	if cfg.Server == "" {
		err = e.startEmbedded()
	} else if err = e.connect(); err == nil {
		e.probePermissions(ctx)
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	if err := e.setup(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// startEmbedded runs a JetStream server inside this process: no listener,
// an in-process connection, the store under cfg.Dir. A lock file keeps two
// processes from opening one store.
func (e *Engine) startEmbedded() error {
	if e.cfg.Dir == "" {
		return errors.New("engine: no store directory for the embedded engine")
	}
	if err := os.MkdirAll(e.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("engine store: %w", err)
	}
	lock, err := lockDir(e.cfg.Dir)
	if err != nil {
		return err
	}
	e.lockFile = lock
	opts := &server.Options{
		ServerName: "sortie-embedded",
		JetStream:  true,
		StoreDir:   filepath.Join(e.cfg.Dir, "jetstream"),
		DontListen: true,
		NoSigs:     true,
		NoLog:      true,
		SyncAlways: e.cfg.SyncAlways,
		// Sortie limits chunk messages itself; findings are small.
		MaxPayload: 8 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("start embedded engine: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return errors.New("start embedded engine: not ready after 30s")
	}
	e.srv = srv
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name(e.cfg.Name))
	if err != nil {
		return fmt.Errorf("connect to embedded engine: %w", err)
	}
	return e.useConn(nc)
}

// connect dials an external server or cluster. The client reconnects for
// ever: a server restart or leader change is a pause, not an error.
func (e *Engine) connect() error {
	opts := []nats.Option{
		nats.Name(e.cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close
				e.log.Warn("engine connection lost", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			e.log.Info("engine connection restored", "server", redactURL(nc.ConnectedUrl()))
		}),
	}
	if e.cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(e.cfg.Creds))
	}
	var localToken string
	if e.cfg.Creds == "" && e.cfg.Token == "" && e.cfg.NKeySeedFile == "" && e.cfg.TLSCert == "" && loopbackURLs(e.cfg.Server) {
		// A loopback "sortie server" without authentication requires the
		// user's local token (LocalTokenFile).
		tok, err := LocalToken(false)
		if err == nil {
			localToken = tok
		} else if !errors.Is(err, fs.ErrNotExist) {
			e.log.Warn("cannot use the local server token", "err", err)
		}
	}
	if e.cfg.Token != "" {
		opts = append(opts, nats.Token(e.cfg.Token))
	}
	if e.cfg.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(e.cfg.NKeySeedFile)
		if err != nil {
			return fmt.Errorf("nkey seed %s: %w", e.cfg.NKeySeedFile, err)
		}
		opts = append(opts, o)
		// Replies come to inboxes only this key may subscribe to (the
		// roles' permissions), not to the "_INBOX.>" every client shares.
		if pub, err := seedPublicKey(e.cfg.NKeySeedFile); err == nil {
			opts = append(opts, nats.CustomInboxPrefix(InboxPrefix(pub)))
		}
	}
	if e.cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(e.cfg.TLSCA))
	}
	if e.cfg.TLSCert != "" || e.cfg.TLSKey != "" {
		opts = append(opts, nats.ClientCert(e.cfg.TLSCert, e.cfg.TLSKey))
	}
	nc, err := nats.Connect(e.cfg.Server, opts...)
	if err != nil && localToken != "" && errors.Is(err, nats.ErrAuthorization) {
		// The token is offered only to a server that asks for
		// authentication: a stock server with a no_auth_user refuses any
		// client that sends one.
		nc, err = nats.Connect(e.cfg.Server, append(opts, nats.Token(localToken))...)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redactURL(e.cfg.Server), err)
	}
	return e.useConn(nc)
}

func (e *Engine) useConn(nc *nats.Conn) error {
	e.nc = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	e.js = js
	return nil
}

// Embedded reports whether the engine runs inside this process.
func (e *Engine) Embedded() bool { return e.srv != nil }

// Origin names where runs of this engine live: "local", or the server
// URL without credentials.
func (e *Engine) Origin() string {
	if e.srv != nil {
		return "local"
	}
	return redactURL(e.cfg.Server)
}

// Close flushes what this process has sent (acknowledgements and publishes
// reach the server), closes the connection, then stops an embedded server.
// It is safe to call twice.
func (e *Engine) Close() error {
	if e.nc != nil && !e.nc.IsClosed() {
		// Bounded: a dead server must not hang the shutdown. Flush, not
		// Drain: messages still arriving for this process are of no use
		// now, and draining every subscription costs tens of ms.
		_ = e.nc.FlushTimeout(5 * time.Second)
		e.nc.Close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		e.srv = nil
	}
	if e.lockFile != nil {
		e.lockFile.Close()
		e.lockFile = nil
	}
	return nil
}

// redactURL hides credentials in a server URL list.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("REDACTED")
	return u.String()
}

// SigningKey is the key this engine's submits are signed with; nil when
// it has none.
func (e *Engine) SigningKey() *signing.Key { return e.cfg.SigningKey }
