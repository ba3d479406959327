package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

// Every listener but a loopback client port needs authentication; each
// refusal names its listener.
func TestListenersWithoutAuthAreRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, listener string
		cfg            engine.ServerConfig
		natsConfig     string
	}{
		{name: "client off loopback", listener: "client", cfg: engine.ServerConfig{Listen: "0.0.0.0:0"}},
		{name: "accounts without users", listener: "client", cfg: engine.ServerConfig{Listen: "0.0.0.0:0"},
			natsConfig: "accounts { A: {}, B: {} }\n"},
		{name: "no_auth_user", listener: "client", cfg: engine.ServerConfig{Listen: "0.0.0.0:0"},
			natsConfig: "accounts { A: { users: [ {user: a, password: aaaaaaaaaaaaaaaa} ] } }\nno_auth_user: a\n"},
		{name: "routes on loopback", listener: "cluster", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Token: "client-token-123", Name: "a", ClusterName: "c", ClusterListen: "127.0.0.1:0"}},
		{name: "routes off loopback", listener: "cluster", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Token: "client-token-123", Name: "a", ClusterName: "c", ClusterListen: "0.0.0.0:0"}},
		{name: "monitor off loopback", listener: "monitor", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Token: "client-token-123", Monitor: "0.0.0.0:0"}},
		{name: "websocket", listener: "websocket", cfg: engine.ServerConfig{Listen: "127.0.0.1:0"},
			natsConfig: "websocket { listen: \"0.0.0.0:-1\", no_tls: true }\n"},
		{name: "websocket no_auth_user", listener: "websocket", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Token: "client-token-123"},
			natsConfig: "accounts { A: { users: [ {user: a, password: aaaaaaaaaaaaaaaa} ] } }\nwebsocket { listen: \"127.0.0.1:-1\", no_tls: true, no_auth_user: a }\n"},
		{name: "leafnode", listener: "leafnode", cfg: engine.ServerConfig{Listen: "127.0.0.1:0"},
			natsConfig: "leafnodes { listen: \"0.0.0.0:-1\" }\n"},
		{name: "mqtt", listener: "mqtt", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Name: "m"},
			natsConfig: "mqtt { listen: \"127.0.0.1:-1\" }\n"},
		{name: "gateway", listener: "gateway", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Token: "client-token-123", Name: "g"},
			natsConfig: "gateway { name: g, listen: \"127.0.0.1:-1\" }\n"},
		// A user without a password lets anyone in as that user.
		{name: "client user without password", listener: "client", cfg: engine.ServerConfig{Listen: "0.0.0.0:0"},
			natsConfig: "authorization { users = [ { user: \"a\" } ] }\n"},
		{name: "client users, one without password", listener: "client", cfg: engine.ServerConfig{Listen: "0.0.0.0:0"},
			natsConfig: "authorization { users = [ { user: b, password: bbbbbbbbbbbbbbbb }, { user: a } ] }\n"},
		{name: "client username without password", listener: "client", cfg: engine.ServerConfig{Listen: "0.0.0.0:0"},
			natsConfig: "authorization { user: a }\n"},
		{name: "account user without password", listener: "client", cfg: engine.ServerConfig{Listen: "0.0.0.0:0"},
			natsConfig: "accounts { A: { users: [ {user: a} ] } }\n"},
		{name: "websocket user without password", listener: "websocket", cfg: engine.ServerConfig{Listen: "127.0.0.1:0"},
			natsConfig: "websocket { listen: \"127.0.0.1:-1\", no_tls: true, authorization { username: \"a\" } }\n"},
		{name: "leafnode user without password", listener: "leafnode", cfg: engine.ServerConfig{Listen: "127.0.0.1:0"},
			natsConfig: "leafnodes { listen: \"127.0.0.1:-1\", authorization { user: a } }\n"},
		{name: "leafnode users without password", listener: "leafnode", cfg: engine.ServerConfig{Listen: "127.0.0.1:0"},
			natsConfig: "leafnodes { listen: \"127.0.0.1:-1\", authorization { users = [ { user: a } ] } }\n"},
		{name: "gateway user without password", listener: "gateway", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Token: "client-token-123", Name: "g"},
			natsConfig: "gateway { name: g, listen: \"127.0.0.1:-1\", authorization { user: a } }\n"},
		{name: "route user without password", listener: "cluster", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Token: "client-token-123", Name: "r"},
			natsConfig: "cluster { name: c, listen: \"127.0.0.1:-1\", authorization { user: a } }\n"},
		// pprof has no authentication and shows the command line.
		{name: "profiler", listener: "profiler", cfg: engine.ServerConfig{Listen: "127.0.0.1:0", Token: "client-token-123"},
			natsConfig: "prof_port: -1\n"},
		{name: "profiler off loopback", listener: "profiler", cfg: engine.ServerConfig{Listen: "0.0.0.0:0", Token: "client-token-123"},
			natsConfig: "prof_port: -1\n"},
		{name: "monitor on the client host off loopback", listener: "monitor", cfg: engine.ServerConfig{Listen: "0.0.0.0:0", Token: "client-token-123"},
			natsConfig: "http_port: -1\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := c.cfg
			cfg.Data = t.TempDir()
			if c.natsConfig != "" {
				cfg.ConfigFile = filepath.Join(t.TempDir(), "nats.conf")
				if err := os.WriteFile(cfg.ConfigFile, []byte(c.natsConfig), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			srv, err := engine.StartServer(cfg)
			if err == nil {
				srv.Shutdown()
				t.Fatalf("started without authentication on the %s listener", c.listener)
			}
			var le *engine.ListenerError
			if !errors.Is(err, engine.ErrNoAuth) || !errors.As(err, &le) {
				t.Fatalf("error %v, want a ListenerError", err)
			}
			if le.Listener != c.listener || le.Hint == "" {
				t.Errorf("refused %q (hint %q), want the %s listener with a hint: %v", le.Listener, le.Hint, c.listener, err)
			}
		})
	}
}

// logWatch collects a server's log lines and wakes up waiters.
type logWatch struct {
	mu    sync.Mutex
	lines []string
	ch    chan struct{}
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	w.lines = append(w.lines, r.Message)
	w.mu.Unlock()
	select {
	case w.ch <- struct{}{}:
	default:
	}
	return nil
}
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *logWatch) WithGroup(string) slog.Handler      { return w }
func (w *logWatch) contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.Contains(strings.ToLower(l), s) {
			return true
		}
	}
	return false
}

// A server that dials a protected cluster's route without the route
// password is refused and reads nothing: the queued chunk (with its
// secrets) stays out of its reach, and its clients see no JetStream.
func TestRogueRouteIsRefused(t *testing.T) {
	t.Parallel()
	// Two members, so that JetStream has a quorum; the rogue dials the first.
	logs := &logWatch{ch: make(chan struct{}, 1)}
	ports := []int{enginetest.FreePort(t), enginetest.FreePort(t)}
	routePort := ports[0]
	var wg sync.WaitGroup
	errs := make([]error, 2)
	members := make([]*engine.Server, 2)
	for i := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := engine.ServerConfig{
				Listen: "127.0.0.1:0", Data: t.TempDir(), Token: "client-token-123", Name: "m" + strconv.Itoa(i),
				ClusterName: "c", ClusterListen: "127.0.0.1:" + strconv.Itoa(ports[i]), ClusterPassword: "route-password-0123456789",
				Routes: []string{"nats://127.0.0.1:" + strconv.Itoa(ports[1-i])},
			}
			if i == 0 {
				cfg.Logger = slog.New(logs)
			}
			srv, err := engine.StartServer(cfg)
			if err == nil {
				t.Cleanup(srv.Shutdown)
			}
			members[i], errs[i] = srv, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	rogue, err := server.NewServer(&server.Options{
		ServerName: "rogue", Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Cluster: server.ClusterOpts{Name: "c", Host: "127.0.0.1", Port: -1},
		Routes:  server.RoutesFromStr("nats://127.0.0.1:" + strconv.Itoa(routePort)),
	})
	if err != nil {
		t.Fatal(err)
	}
	go rogue.Start()
	t.Cleanup(rogue.Shutdown)
	if !rogue.ReadyForConnections(10 * time.Second) {
		t.Fatal("rogue server not ready")
	}
	deadline := time.After(30 * time.Second)
	// The member's routes say who joined. (The rogue's own route count is
	// no proof: it registers its side of a route before the member refuses
	// it.)
	joined := func() bool { return slices.Contains(members[0].RoutePeers(), "rogue") }
	for !logs.contains("authentication error") && !logs.contains("authorization violation") {
		if joined() {
			t.Fatal("the rogue server joined the cluster by route")
		}
		select {
		case <-logs.ch:
		case <-deadline:
			t.Fatalf("no route refusal logged in 30s; member's route peers: %v", members[0].RoutePeers())
		}
	}
	if joined() {
		t.Fatalf("the rogue server joined the cluster by route: %v", members[0].RoutePeers())
	}
	nc, err := nats.Connect(rogue.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request("$JS.API.STREAM.INFO."+engine.WorkStream, nil, 2*time.Second); err == nil {
		t.Fatal("a client of the rogue server reached the protected JetStream")
	}

	// Members advertise no addresses: a client keeps to the URLs it was
	// given, and a server that joined could not redirect it.
	cc, err := nats.Connect(members[0].ClientURL(), nats.Token("client-token-123"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Flush(); err != nil {
		t.Fatal(err)
	}
	if ds := cc.DiscoveredServers(); len(ds) != 0 {
		t.Errorf("the client was told of other servers: %v", ds)
	}
}

// Listeners that do authenticate start: users with passwords, and a
// monitor port without a host, which NATS binds to the loopback client
// host.
func TestListenersWithAuthStart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		cfg        engine.ServerConfig
		natsConfig string
	}{
		{name: "monitor port on the loopback client host", cfg: engine.ServerConfig{Listen: "127.0.0.1:0"}, natsConfig: "http_port: -1\n"},
		{name: "users with passwords", cfg: engine.ServerConfig{Listen: "127.0.0.1:0"},
			natsConfig: "authorization { users = [ { user: a, password: aaaaaaaaaaaaaaaa } ] }\nleafnodes { listen: \"127.0.0.1:-1\", authorization { user: l, password: llllllllllllllll } }\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := c.cfg
			cfg.Data = t.TempDir()
			cfg.ConfigFile = filepath.Join(t.TempDir(), "nats.conf")
			if err := os.WriteFile(cfg.ConfigFile, []byte(c.natsConfig), 0o600); err != nil {
				t.Fatal(err)
			}
			srv, err := engine.StartServer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv.Shutdown()
		})
	}
}

// writeTLS writes a CA and a server certificate for 127.0.0.1 it signed,
// and returns their paths.
func writeTLS(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caTmpl, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key")
	for path, b := range map[string]*pem.Block{ca: {Type: "CERTIFICATE", Bytes: caDER}, cert: {Type: "CERTIFICATE", Bytes: srvDER}, key: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

// Client certificates are the only authentication: allow_non_tls would
// let a plaintext client in without one, so it is refused off loopback;
// without it the server starts.
func TestAllowNonTLSDoesNotBypassClientCerts(t *testing.T) {
	t.Parallel()
	ca, cert, key := writeTLS(t)
	conf := filepath.Join(t.TempDir(), "nontls.conf")
	if err := os.WriteFile(conf, []byte("allow_non_tls: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := engine.ServerConfig{Listen: "0.0.0.0:0", Data: t.TempDir(), ConfigFile: conf, TLSCert: cert, TLSKey: key, TLSCA: ca}
	srv, err := engine.StartServer(cfg)
	if err == nil {
		srv.Shutdown()
		t.Fatal("started with allow_non_tls and client certificates as the only authentication")
	}
	var le *engine.ListenerError
	if !errors.As(err, &le) || le.Listener != "client" || !strings.Contains(le.Reason, "allow_non_tls") {
		t.Fatalf("error %v, want the client listener refused for allow_non_tls", err)
	}
	cfg.ConfigFile = ""
	cfg.Listen = "127.0.0.1:0"
	srv, err = engine.StartServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if nc, err := nats.Connect(srv.ClientURL(), nats.RootCAs(ca), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a client without a certificate connected")
	}
}
