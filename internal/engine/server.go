package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig configures "sortie server": a standalone NATS server with
// JetStream for a fleet.
type ServerConfig struct {
	// Listen is the client address. Defaults to 127.0.0.1:4222.
	Listen string
	// Data is the JetStream store directory. Required.
	Data string
	// Name is the server's name, unique in a cluster. Defaults to the
	// host name.
	Name string
	// Token requires clients to present this token. Defaults to none.
	Token string
	// NKeys are the public nkeys (U...) of the users allowed in. Defaults
	// to none.
	NKeys []string
	// ConfigFile is a NATS server configuration file (accounts, JWT
	// operators, ...). Its settings come first; the flags above override
	// the ones they name. Defaults to none.
	ConfigFile string
	// TLSCert and TLSKey turn on TLS for clients; TLSCA verifies client
	// certificates when set. Defaults to no TLS.
	TLSCert, TLSKey, TLSCA string
	// Auth is the auth directory of "--auth-dir": one user per role, with
	// its permissions, and the route password when ClusterPassword is
	// empty. It excludes Token and NKeys. Defaults to none.
	Auth *AuthDir
	// NKeySeedFile is the nkey seed the server's own client (setup,
	// metrics) authenticates with, when the users come from ConfigFile.
	// Defaults to the auth directory's operator key, else Token.
	NKeySeedFile string
	// ClusterName, ClusterListen and Routes form a cluster: three servers
	// with the same name, each listing the others' cluster addresses.
	// Defaults to a single server.
	ClusterName   string
	ClusterListen string
	Routes        []string
	// ClusterUser and ClusterPassword authenticate routes: incoming ones
	// must present them, and they are added to the Routes that carry no
	// credentials of their own. Clustering requires them (or route
	// authentication in ConfigFile). ClusterUser defaults to "sortie-route";
	// ClusterPassword to the auth directory's, else none.
	ClusterUser, ClusterPassword string
	// Monitor is the address of the NATS monitoring endpoint (/varz,
	// /jsz). Defaults to none.
	Monitor string
	// SyncAlways fsyncs every write. Defaults to a periodic sync.
	SyncAlways bool
	// Logger receives the server's own log. Defaults to none.
	Logger *slog.Logger
}

// ErrNoAuth is the refusal of a listener without authentication.
var ErrNoAuth = errors.New("refusing a listener without authentication")

// MinRoutePassword is the shortest route password accepted.
const MinRoutePassword = 16

// DefaultClusterUser is the route user when none is given.
const DefaultClusterUser = "sortie-route"

// Server is a running "sortie server".
type Server struct {
	srv   *server.Server
	token string // for the server's own in-process client
	seed  string // idem, an nkey seed file (the operator's)
}

// StartServer starts the server and returns once it accepts clients.
func StartServer(cfg ServerConfig) (*Server, error) {
	opts := &server.Options{}
	if cfg.ConfigFile != "" {
		o, err := server.ProcessConfigFile(cfg.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("server config %s: %w", cfg.ConfigFile, err)
		}
		opts = o
	}
	if cfg.Listen == "" && opts.Host == "" {
		cfg.Listen = "127.0.0.1:4222"
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("--listen %s: %w", cfg.Listen, err)
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.Data == "" {
		return nil, errors.New("no data directory")
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	opts.JetStream, opts.StoreDir, opts.SyncAlways = true, cfg.Data, cfg.SyncAlways
	opts.NoSigs = true
	opts.MaxPayload = 8 << 20
	if cfg.Name != "" {
		opts.ServerName = cfg.Name
	}
	if cfg.Auth != nil && (cfg.Token != "" || len(cfg.NKeys) > 0) {
		// NATS ignores a token once users exist: refuse rather than
		// silently drop one way in.
		return nil, errors.New("the auth directory's roles exclude a token and --nkeys")
	}
	if cfg.Token != "" && len(cfg.NKeys) > 0 {
		return nil, errors.New("a token and nkeys exclude each other (NATS would ignore the token)")
	}
	if cfg.Token != "" {
		opts.Authorization = cfg.Token
	}
	for _, k := range cfg.NKeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: k})
	}
	if cfg.Auth != nil {
		for _, r := range Roles {
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: cfg.Auth.Keys[r], Permissions: RolePermissions(r, cfg.Auth.Keys[r])})
		}
		if cfg.ClusterPassword == "" {
			cfg.ClusterPassword = cfg.Auth.RoutePassword
		}
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey, CaFile: cfg.TLSCA, Verify: cfg.TLSCA != ""})
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify = tc, true, cfg.TLSCA != ""
	}
	if cfg.ClusterListen != "" {
		host, port, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("--cluster-listen %s: %w", cfg.ClusterListen, err)
		}
		opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = cfg.ClusterName, host, port
		if opts.ServerName == "" {
			return nil, errors.New("a cluster member needs a name (--name)")
		}
	}
	if cfg.ClusterPassword != "" {
		if len(cfg.ClusterPassword) < MinRoutePassword {
			return nil, fmt.Errorf("route password shorter than %d characters", MinRoutePassword)
		}
		if cfg.ClusterUser == "" {
			cfg.ClusterUser = DefaultClusterUser
		}
		opts.Cluster.Username, opts.Cluster.Password = cfg.ClusterUser, cfg.ClusterPassword
	}
	for _, r := range cfg.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("route %q: want nats://host:port", redactURL(r))
		}
		if u.User == nil && opts.Cluster.Username != "" {
			u.User = url.UserPassword(opts.Cluster.Username, opts.Cluster.Password)
		}
		opts.Routes = append(opts.Routes, u)
	}
	// Clients are told only the URLs they were given: a server that
	// joined the cluster cannot advertise itself to them.
	opts.Cluster.NoAdvertise = true
	if cfg.Monitor != "" {
		host, port, err := splitHostPort(cfg.Monitor)
		if err != nil {
			return nil, fmt.Errorf("--monitor %s: %w", cfg.Monitor, err)
		}
		opts.HTTPHost, opts.HTTPPort = host, port
	}
	if err := checkListeners(opts); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	if cfg.Logger != nil {
		srv.SetLoggerV2(&slogAdapter{l: cfg.Logger}, false, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(60 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start server: not accepting clients after 60s (see the log)")
	}
	seed := cfg.NKeySeedFile
	if seed == "" && cfg.Auth != nil {
		seed = cfg.Auth.SeedFile(RoleOperator)
	}
	return &Server{srv: srv, token: cfg.Token, seed: seed}, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// RoutePeers names the servers this one has established routes with (a
// name once per route: NATS pools several routes per peer).
func (s *Server) RoutePeers() []string {
	rz, err := s.srv.Routez(&server.RoutezOptions{})
	if err != nil {
		return nil
	}
	var names []string
	for _, r := range rz.Routes {
		names = append(names, r.RemoteName)
	}
	return names
}

// Healthz is nil when the server accepts clients with JetStream on and,
// unless jsEnabledOnly, this member is current with the streams it holds.
func (s *Server) Healthz(jsEnabledOnly bool) error {
	h := s.srv.Healthz(&server.HealthzOptions{JSEnabledOnly: jsEnabledOnly})
	if h.Status == "ok" {
		return nil
	}
	if h.Error != "" {
		return errors.New(h.Error)
	}
	return fmt.Errorf("status %s", h.Status)
}

// Shutdown stops the server; JetStream state is flushed to disk first.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func splitHostPort(s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if p == 0 {
		p = server.RANDOM_PORT // NATS reads port 0 as its default, 4222
	}
	return strings.Trim(host, "[]"), p, nil
}

// slogAdapter sends the NATS server's log to slog.
type slogAdapter struct{ l *slog.Logger }

func (a *slogAdapter) Noticef(f string, v ...any) {
	a.l.Info(fmt.Sprintf(f, v...), "component", "nats")
}
func (a *slogAdapter) Warnf(f string, v ...any) { a.l.Warn(fmt.Sprintf(f, v...), "component", "nats") }
func (a *slogAdapter) Fatalf(f string, v ...any) {
	a.l.Error(fmt.Sprintf(f, v...), "component", "nats")
}
func (a *slogAdapter) Errorf(f string, v ...any) {
	a.l.Error(fmt.Sprintf(f, v...), "component", "nats")
}
func (a *slogAdapter) Debugf(f string, v ...any) {
	a.l.Debug(fmt.Sprintf(f, v...), "component", "nats")
}
func (a *slogAdapter) Tracef(f string, v ...any) {}
