package engine_test

import (
	"context"
	"errors"
	"log/slog"
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
