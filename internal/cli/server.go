package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/metrics"
	"github.com/sortie-sec/sortie/internal/report"
)

// serverOptions are the flags of `sortie server`.
type serverOptions struct {
	// Listen is the client address. Defaults to 127.0.0.1:4222.
	Listen string
	// Data is the JetStream store. Defaults to
	// $XDG_DATA_HOME/sortie/server.
	Data string
	// Name is the server's name in a cluster. Defaults to the host name.
	Name string
	// NKeysFile lists the public nkeys allowed in, one per line. Defaults
	// to none.
	NKeysFile string
	// NATSConfig is a NATS server config file for anything else.
	NATSConfig string
	// TLSServerCert, TLSServerKey, TLSClientCA: TLS for clients.
	TLSServerCert, TLSServerKey, TLSClientCA string
	// Cluster settings: name, route listener and the other members' routes.
	ClusterName, ClusterListen string
	Routes                     []string
	// ClusterUser is the route user. Defaults to "sortie-route".
	ClusterUser string
	// ClusterPassword authenticates routes (prefer the environment,
	// SORTIE_CLUSTER_PASSWORD). Defaults to ClusterPasswordFile's content.
	ClusterPassword string
	// ClusterPasswordFile holds the route password. Defaults to the auth
	// directory's route.password, else none (clustering refused).
	ClusterPasswordFile string
	// AuthDir holds one nkey per role and the route password, generated
	// on first start. Defaults to none (no roles).
	AuthDir string
	// AuthInit creates AuthDir and exits without serving.
	AuthInit bool
	// Monitor is the NATS monitoring address. Defaults to none.
	Monitor string
	// SyncAlways fsyncs every write.
	SyncAlways bool
	// Metrics serves sortie's Prometheus metrics (queues, workers, dead
	// letters). Defaults to none.
	Metrics metricsOptions
}

func newServerCommand(g *globalOptions) *cobra.Command {
	opts := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a NATS JetStream server for a fleet of workers",
		Long: `Run a standalone NATS server with JetStream: the engine a fleet of workers and
CLIs share (they connect with --server URL).

It listens on loopback unless told otherwise, and refuses to start when a
listener other than a loopback client port lacks authentication: the client
port off loopback needs a token (SORTIE_SERVER_TOKEN or --server-token),
nkeys (--auth-dir DIR or --nkeys FILE), client certificates (--tls-client-ca)
or users in a NATS config file (--nats-config); cluster routes always need a
route password (--cluster-password-file, SORTIE_CLUSTER_PASSWORD, or the one
--auth-dir generates); websocket, leafnode, MQTT and gateway listeners need
authentication; NATS monitoring (--monitor) stays on loopback. On loopback
without any authentication, it requires a token it makes for its user
(/tmp/sortie-UID/server.token, 0600): that user's clients of a loopback
--server use it by themselves, other local users are refused.

--auth-dir DIR generates, on first start, one nkey per role (operator.nk,
submitter.nk, worker.nk) with least-privilege permissions, a route password,
and nats-roles.conf for a stock NATS server; clients connect with
--nkey DIR/ROLE.nk. When the users come from --nats-config instead (the
generated nats-roles.conf, say), --nkey FILE is the seed of the server's own
client, which creates sortie's streams and buckets. Any NATS server 2.11 or newer with JetStream works as
well; docs/engine.md lists what sortie creates.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:4222", "client `HOST:PORT`")
	f.StringVar(&opts.Data, "data", "", "JetStream store `DIR` (default $XDG_DATA_HOME/sortie/server)")
	f.StringVar(&opts.Name, "name", "", "server name, unique in a cluster")
	f.StringVar(&opts.NKeysFile, "nkeys", "", "`FILE` of public user nkeys allowed in, one per line")
	f.StringVar(&opts.NATSConfig, "nats-config", "", "NATS server config `FILE` (accounts, operators, ...)")
	f.StringVar(&opts.TLSServerCert, "tls-server-cert", "", "server certificate `FILE` (turns on TLS)")
	f.StringVar(&opts.TLSServerKey, "tls-server-key", "", "server key `FILE`")
	f.StringVar(&opts.TLSClientCA, "tls-client-ca", "", "CA `FILE` that client certificates must chain to")
	f.StringVar(&opts.ClusterName, "cluster-name", "sortie", "cluster name")
	f.StringVar(&opts.ClusterListen, "cluster-listen", "", "cluster route `HOST:PORT` (turns clustering on)")
	f.StringSliceVar(&opts.Routes, "routes", nil, "other members' routes, nats://host:port, comma-separated (the route credentials are added)")
	f.StringVar(&opts.ClusterUser, "cluster-user", engine.DefaultClusterUser, "route user")
	f.StringVar(&opts.ClusterPassword, "cluster-password", "", "route password (prefer SORTIE_CLUSTER_PASSWORD: flags show in ps)")
	f.StringVar(&opts.ClusterPasswordFile, "cluster-password-file", "", "`FILE` holding the route password, the same on every member")
	f.StringVar(&opts.AuthDir, "auth-dir", "", "`DIR` of role nkeys (operator, submitter, worker) and route password, generated on first start")
	f.BoolVar(&opts.AuthInit, "auth-init", false, "create the --auth-dir keys and exit (to copy them into Secrets)")
	f.StringVar(&opts.Monitor, "monitor", "", "NATS monitoring endpoint `HOST:PORT` (/varz, /jsz)")
	f.BoolVar(&opts.SyncAlways, "sync-always", false, "fsync every write (survives power loss; slower)")
	opts.Metrics.flags(f)
	return cmd
}

func runServer(ctx context.Context, g *globalOptions, opts *serverOptions) error {
	if err := checkListenFlags(opts); err != nil {
		return err
	}
	log := g.logger()
	data := opts.Data
	if data == "" {
		d, err := report.DataDir()
		if err != nil {
			return err
		}
		data = filepath.Join(d, "server")
	}
	var nkeys []string
	if opts.NKeysFile != "" {
		var err error
		if nkeys, err = readNKeys(opts.NKeysFile); err != nil {
			return usageError{err}
		}
	}
	if _, err := opts.Metrics.token(); err != nil {
		return err
	}
	clusterPassword, err := opts.clusterPassword()
	if err != nil {
		return err
	}
	if g.engine.Token != "" && opts.NKeysFile != "" {
		return usageError{withHint(errors.New("a server token and --nkeys exclude each other (NATS would ignore the token)"),
			"use one: --nkeys FILE, or SORTIE_SERVER_TOKEN; --auth-dir DIR gives roles")}
	}
	var auth *engine.AuthDir
	if opts.AuthDir != "" {
		if g.engine.Token != "" || opts.NKeysFile != "" {
			return usageError{withHint(errors.New("--auth-dir excludes a server token and --nkeys"),
				"with --auth-dir, clients connect with --nkey DIR/ROLE.nk; unset SORTIE_SERVER_TOKEN and --nkeys")}
		}
		if auth, err = engine.LoadAuthDir(opts.AuthDir); err != nil {
			return usageError{withHint(fmt.Errorf("--auth-dir: %w", err), "give a directory of your own, mode 0700, without symlinks")}
		}
	}
	if opts.AuthInit {
		if auth == nil {
			return usagef("--auth-init needs --auth-dir DIR")
		}
		if len(auth.Generated) == 0 {
			fmt.Fprintf(g.stdout, "%s already holds every key; nothing generated\n", auth.Dir)
			return nil
		}
		printRoles(g.stdout, auth)
		return nil
	}
	token, localToken := g.engine.Token, false
	if token == "" && nkeys == nil && auth == nil && opts.NATSConfig == "" && opts.TLSClientCA == "" && loopbackListen(opts.Listen) {
		// Loopback is shared by every local user: without authentication
		// any of them could read the work (header secrets included) and
		// administer JetStream. The user's own token keeps them out; the
		// user's clients find it by themselves.
		if token, err = engine.LocalToken(true); err != nil {
			return withHint(err, "remove it (it is made again), or give SORTIE_SERVER_TOKEN or --auth-dir DIR")
		}
		localToken = true
	}
	srv, err := engine.StartServer(engine.ServerConfig{
		Listen: opts.Listen, Data: data, Name: opts.Name, Token: token, NKeys: nkeys, Auth: auth,
		ConfigFile: opts.NATSConfig, TLSCert: opts.TLSServerCert, TLSKey: opts.TLSServerKey, TLSCA: opts.TLSClientCA,
		ClusterName: opts.ClusterName, ClusterListen: opts.ClusterListen, Routes: opts.Routes,
		ClusterUser: opts.ClusterUser, ClusterPassword: clusterPassword,
		NKeySeedFile: g.engine.NKey,
		Monitor:      opts.Monitor, SyncAlways: opts.SyncAlways, Logger: log,
	})
	if errors.Is(err, engine.ErrNoAuth) {
		return usageError{withHint(err, listenerHints(err))}
	}
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// Restricted roles cannot create streams or buckets: the server does
	// it at start, when it can authenticate its own client. A cluster
	// member does it in the background: it waits for its peers.
	setupCtx, stopSetup := context.WithCancel(ctx)
	var setupDone sync.WaitGroup
	defer func() { stopSetup(); setupDone.Wait() }()
	if auth != nil || g.engine.NKey != "" || nkeys == nil && opts.NATSConfig == "" {
		if opts.ClusterListen == "" {
			e, err := srv.Connect(ctx, g.engine.Replicas)
			if err != nil {
				srv.Shutdown()
				return fmt.Errorf("create sortie's streams and buckets: %w", err)
			}
			e.Close()
		} else {
			setupDone.Add(1)
			go func() {
				defer setupDone.Done()
				setupInBackground(setupCtx, srv, g.engine.Replicas, log)
			}()
		}
	}
	if opts.Metrics.Addr != "" {
		stop, err := serveServerMetrics(ctx, srv, opts.Metrics, g.engine.Replicas, log)
		if err != nil {
			srv.Shutdown()
			return err
		}
		defer stop()
	}
	log.Info("sortie server ready", "url", srv.ClientURL(), "data", data)
	fmt.Fprintf(g.stdout, "sortie server listening on %s (data in %s)\n", srv.ClientURL(), data)
	if localToken {
		fmt.Fprintf(g.stdout, "clients of this user on this machine authenticate by themselves with %s; other users are refused\n", engine.LocalTokenFile())
	}
	if auth != nil && len(auth.Generated) > 0 {
		printRoles(g.stdout, auth)
	}
	select {
	case <-ctx.Done():
	case <-sigs:
	}
	log.Info("sortie server stopping")
	stopSetup()
	setupDone.Wait()
	srv.Shutdown()
	return nil
}

// setupInBackground creates sortie's streams and buckets once the cluster
// has a JetStream leader, retrying until it succeeds or ctx ends.
func setupInBackground(ctx context.Context, srv *engine.Server, replicas int, log *slog.Logger) {
	wait := time.Second
	for {
		e, err := srv.Connect(ctx, replicas)
		if err == nil {
			e.Close()
			log.Info("sortie's streams and buckets are ready")
			return
		}
		log.Warn("cannot create sortie's streams and buckets yet; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 15*time.Second)
	}
}

// clusterPassword is --cluster-password (or its environment variable), or
// the content of --cluster-password-file.
func (o *serverOptions) clusterPassword() (string, error) {
	if o.ClusterPasswordFile == "" {
		return strings.TrimSpace(o.ClusterPassword), nil
	}
	if o.ClusterPassword != "" {
		return "", usagef("--cluster-password and --cluster-password-file exclude each other")
	}
	b, err := os.ReadFile(o.ClusterPasswordFile)
	if err != nil {
		return "", usagef("--cluster-password-file: %v", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// checkListenFlags refuses a HOST:PORT flag that is not one: a usage error,
// before anything starts.
func checkListenFlags(opts *serverOptions) error {
	for _, f := range []struct{ name, value string }{
		{"--listen", opts.Listen}, {"--cluster-listen", opts.ClusterListen}, {"--monitor", opts.Monitor},
	} {
		if f.value == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(f.value); err != nil {
			return usageError{withHint(fmt.Errorf("%s %s: %w", f.name, f.value, err), "give HOST:PORT, such as 127.0.0.1:4222")}
		}
	}
	return nil
}

// listenerHints gathers the hints of the listeners refused.
func listenerHints(err error) string {
	var hints []string
	var visit func(error)
	visit = func(err error) {
		var le *engine.ListenerError
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				visit(e)
			}
		} else if errors.As(err, &le) {
			hints = append(hints, le.Listener+": "+le.Hint)
		}
	}
	visit(err)
	return strings.Join(hints, "\nhint: ")
}

// printRoles says, once (when the keys are generated), how each role
// connects.
func printRoles(w io.Writer, a *engine.AuthDir) {
	fmt.Fprintf(w, "generated role keys in %s (kept there; shown once):\n", a.Dir)
	for _, r := range engine.Roles {
		fmt.Fprintf(w, "  %-11s --nkey %s\n", string(r)+":", a.SeedFile(r))
	}
	fmt.Fprintf(w, "  routes:     %s (the same file on every cluster member)\n", filepath.Join(a.Dir, engine.RoutePasswordFile))
	fmt.Fprintf(w, "  stock NATS: %s\n", filepath.Join(a.Dir, engine.RolesConfigFile))
}

// readNKeys reads public nkeys, one per line; # starts a comment.
func readNKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--nkeys: %w", err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.HasPrefix(line, "U") || len(line) != 56 {
			return nil, fmt.Errorf("%s:%d: %q is not a public user nkey (56 characters starting with U)", path, n, line)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no nkeys", path)
	}
	return keys, sc.Err()
}

// serveServerMetrics serves gauges read from the engine at each scrape:
// work queue depth per pool, live workers per pool, dead letters. The
// server's own client connects at the first scrape, so a cluster member
// does not wait for its peers to start.
func serveServerMetrics(ctx context.Context, srv *engine.Server, mo metricsOptions, replicas int, log *slog.Logger) (stop func(), err error) {
	reg := metrics.NewRegistry()
	waiting := reg.Gauge("sortie_queue_waiting", "Chunks not yet delivered, by pool.", "pool")
	inFlight := reg.Gauge("sortie_queue_in_flight", "Chunks delivered and not yet acknowledged, by pool.", "pool")
	redelivered := reg.Gauge("sortie_queue_redelivered", "Pending chunks delivered more than once, by pool.", "pool")
	workers := reg.Gauge("sortie_workers_live", "Workers with a fresh heartbeat, by pool.", "pool")
	dead := reg.Gauge("sortie_dead_letters", "Dead letters stored.")
	up := reg.Gauge("sortie_engine_up", "1 when the last scrape could read the engine.")
	var mu sync.Mutex
	var e *engine.Engine
	collect := func(rctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if e == nil {
			c, err := srv.Connect(rctx, replicas)
			if err != nil {
				return err
			}
			e = c
		}
		qs, err := e.Queues(rctx)
		if err != nil {
			return err
		}
		for _, q := range qs {
			waiting.With(q.Pool).Set(float64(q.Waiting))
			inFlight.With(q.Pool).Set(float64(q.InFlight))
			redelivered.With(q.Pool).Set(float64(q.Redelivered))
		}
		ws, err := e.Workers(rctx)
		if err != nil {
			return err
		}
		byPool := map[string]int{}
		for _, w := range ws {
			byPool[w.Pool]++
		}
		for _, q := range qs {
			workers.With(q.Pool).Set(float64(byPool[q.Pool]))
		}
		n, err := e.DeadLetterCount(rctx)
		if err != nil {
			return err
		}
		dead.With().Set(float64(n))
		return nil
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := collect(rctx); err != nil {
			log.Warn("metrics: read engine", "err", err)
			up.With().Set(0)
		} else {
			up.With().Set(1)
		}
		reg.Handler().ServeHTTP(w, r)
	})
	tok, err := mo.token()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", requireBearer(tok, handler))
	// Health for probes, without the token: only "ok" or the reason. NATS
	// monitoring, which has it too, stays on loopback.
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.Healthz(r.URL.Query().Get("js-enabled-only") == "true"); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	stopHTTP, err := serveMux(mo.Addr, mux, tok != "", log)
	if err != nil {
		return nil, err
	}
	return func() {
		stopHTTP()
		mu.Lock()
		defer mu.Unlock()
		if e != nil {
			e.Close()
		}
	}, nil
}

// loopbackListen reports whether --listen names a loopback host.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
