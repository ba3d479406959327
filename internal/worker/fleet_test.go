package worker_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/worker"
)

// rawFleet is a real loopback server, an engine that signs with the test
// key, a worker (cfg, with a recording locator) trusting that key, and a
// raw NATS client of an attacker who can reach the broker. invocations
// lists the targets of every tool run.
func rawFleet(t *testing.T, cfg worker.Config) (e *engine.Engine, nc *nats.Conn, js jetstream.JetStream, invocations func() []string) {
	t.Helper()
	srv, err := engine.StartServer(engine.ServerConfig{Listen: "127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t)), Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err = engine.Open(ctx, engine.Config{Server: srv.ClientURL(), SigningKey: enginetest.Key(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	cfg.Locate, invocations = enginetest.RecordingLocate(t)
	enginetest.StartWorker(t, e, cfg)
	nc, err = nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return e, nc, js, invocations
}
