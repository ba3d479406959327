package chaos_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

// A server restarted while chunks run (same port, same store) loses
// nothing: clients reconnect, chunks finish or are redelivered, and every
// finding is stored once.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t))
	srv, url := server(t, addr, dir)
	e := connect(t, url, 1)
	w := worker(t, "w1", url, "--concurrency", "2")

	tg := targets(8)
	submit(t, e, "restart", engine.TaskPlan{Targets: tg, ChunkSize: 1, Options: opts(2, "1s")})
	// Restart once the run is under way, with chunks in flight.
	w.WaitOutput(t, `"msg":"chunk finished"`, stepTimeout)
	srv.Signal(t, syscall.SIGTERM)
	if err := srv.Wait(t, stepTimeout); err != nil {
		t.Fatalf("server exited with %v", err)
	}
	server(t, addr, dir)

	r := waitRun(t, e, "restart")
	if r.State != engine.RunDone {
		t.Errorf("run state %s, want done", r.State)
	}
	cs := chunks(t, e, "restart")
	if len(cs) != len(tg) {
		t.Errorf("%d chunk records, want %d", len(cs), len(tg))
	}
	for id, c := range cs {
		if c.State != engine.ChunkDone {
			t.Errorf("chunk %s: state %s (%s) after %d attempts", id, c.State, c.Reason, c.Attempt)
		}
	}
	tr := task(t, e, "restart", "1")
	if tr.State != engine.TaskDone || tr.States[engine.ChunkDone] != len(tg) {
		t.Errorf("task record %+v, want %d done chunks", tr, len(tg))
	}
	assertURLs(t, readFindings(t, e, "restart"), urlsOf(tg, 2))
	if dls := deadLetters(t, e, "restart"); len(dls) != 0 {
		t.Errorf("dead letters %+v", dls)
	}
	if !strings.Contains(w.Output(), "engine connection restored") {
		t.Errorf("the worker never reconnected")
	}
	queueDrained(t, jetStream(t, url))
}

// On a three-node cluster with three replicas, killing the server that
// leads the work queue mid-run is a pause: the others elect a leader,
// clients reconnect, and the run completes with every finding once.
func TestClusterLeaderKilled(t *testing.T) {
	t.Parallel()
	type node struct {
		name, addr, route string
		proc              *enginetest.Proc
	}
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = &node{
			name:  fmt.Sprintf("n%d", i+1),
			addr:  "127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t)),
			route: "nats://127.0.0.1:" + strconv.Itoa(enginetest.FreePort(t)),
		}
	}
	var urls []string
	for _, n := range nodes {
		var routes []string
		for _, o := range nodes {
			if o != n {
				routes = append(routes, o.route)
			}
		}
		n.proc = enginetest.Start(t, "server "+n.name, "server", "--listen", n.addr, "--data", t.TempDir(), "--log-level", "warn",
			"--name", n.name, "--cluster-name", "chaos", "--cluster-listen", strings.TrimPrefix(n.route, "nats://"),
			"--routes", strings.Join(routes, ","), "--cluster-password", "chaos-route-password")
		urls = append(urls, "nats://"+n.addr)
	}
	for _, n := range nodes {
		n.proc.WaitOutput(t, "sortie server listening", startTimeout)
	}
	url := strings.Join(urls, ",")

	// The cluster takes a moment to elect its JetStream meta leader.
	var e *engine.Engine
	enginetest.WaitFor(t, "the cluster accepts sortie's streams", startTimeout, func(ctx context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		e, err = engine.Open(ctx, engine.Config{Server: url, Replicas: 3, Name: "chaos-test", SigningKey: enginetest.Key(t)})
		return err == nil, err
	})
	t.Cleanup(func() { e.Close() })
	js := jetStream(t, url)

	// A long lease: the election may take a few seconds, which is not a
	// worker failure.
	w1 := worker(t, "w1", url, "--replicas", "3", "--lease", "10s")
	worker(t, "w2", url, "--replicas", "3", "--lease", "10s")

	tg := targets(8)
	submit(t, e, "failover", engine.TaskPlan{Targets: tg, ChunkSize: 1, Options: opts(2, "1s")})
	w1.WaitOutput(t, `"msg":"chunk finished"`, stepTimeout)

	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	s, err := js.Stream(ctx, engine.WorkStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("work stream: %d replicas, cluster %+v", info.Config.Replicas, info.Cluster)
	}
	var leader *node
	for _, n := range nodes {
		if n.name == info.Cluster.Leader {
			leader = n
		}
	}
	if leader == nil {
		t.Fatalf("work stream leader %q is none of the nodes", info.Cluster.Leader)
	}
	leader.proc.Signal(t, syscall.SIGKILL)
	<-leader.proc.Done()

	r := waitRun(t, e, "failover")
	if r.State != engine.RunDone {
		t.Errorf("run state %s, want done", r.State)
	}
	cs := chunks(t, e, "failover")
	if len(cs) != len(tg) {
		t.Errorf("%d chunk records, want %d", len(cs), len(tg))
	}
	for id, c := range cs {
		if c.State != engine.ChunkDone {
			t.Errorf("chunk %s: state %s (%s) after %d attempts", id, c.State, c.Reason, c.Attempt)
		}
	}
	tr := task(t, e, "failover", "1")
	if tr.State != engine.TaskDone || tr.States[engine.ChunkDone] != len(tg) {
		t.Errorf("task record %+v, want %d done chunks", tr, len(tg))
	}
	assertURLs(t, readFindings(t, e, "failover"), urlsOf(tg, 2))
	if dls := deadLetters(t, e, "failover"); len(dls) != 0 {
		t.Errorf("dead letters %+v", dls)
	}
	queueDrained(t, js)
	if info, err := s.Info(ctx); err != nil || info.Cluster == nil || info.Cluster.Leader == leader.name {
		t.Errorf("work stream after the kill: %+v %v, want a new leader", info, err)
	}
}
