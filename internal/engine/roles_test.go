package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/worker"
)

// rolesServer is a "sortie server --auth-dir" with its streams and buckets
// created by the operator, as runServer does.
func rolesServer(t *testing.T, logger *slog.Logger) (*engine.Server, *engine.AuthDir) {
	t.Helper()
	auth, err := engine.LoadAuthDir(filepath.Join(t.TempDir(), "auth"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := engine.StartServer(engine.ServerConfig{Listen: "127.0.0.1:0", Data: t.TempDir(), Auth: auth, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	e, err := srv.Connect(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	return srv, auth
}

// violations is a raw client of one role that collects the permission
// violations the server reports to it.
type violations struct {
	nc   *nats.Conn
	errs chan error
}

func rawClient(t *testing.T, url, seed string) *violations {
	t.Helper()
	v := &violations{errs: make(chan error, 16)}
	opt, err := nats.NkeyOptionFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	v.nc, err = nats.Connect(url, opt, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		v.errs <- err
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.nc.Close)
	return v
}

// denied publishes to subject and waits for the server's violation.
func (v *violations) denied(t *testing.T, what, subject string) {
	t.Helper()
	if err := v.nc.PublishMsg(&nats.Msg{Subject: subject, Reply: v.nc.NewRespInbox(), Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	v.wait(t, what, fmt.Sprintf("permissions violation for publish to %q", subject))
}

func (v *violations) wait(t *testing.T, what, want string) {
	t.Helper()
	if err := v.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-v.errs:
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
			t.Errorf("%s: %v, want %s", what, err, want)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s: allowed (no permissions violation in 10s)", what)
	}
}

// With the roles of --auth-dir a real run works end to end with the
// submitter and worker keys, and neither key can do another role's part.
func TestRolesLeastPrivilege(t *testing.T) {
	t.Parallel()
	logs := &logWatch{ch: make(chan struct{}, 1)}
	srv, auth := rolesServer(t, slog.New(logs))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	we, err := engine.Open(ctx, engine.Config{Server: srv.ClientURL(), NKeySeedFile: auth.SeedFile(engine.RoleWorker)})
	if err != nil {
		t.Fatalf("worker key: %v", err)
	}
	t.Cleanup(func() { we.Close() })
	enginetest.StartWorker(t, we, worker.Config{ID: "w1", Concurrency: 2})

	se, err := engine.Open(ctx, engine.Config{Server: srv.ClientURL(), NKeySeedFile: auth.SeedFile(engine.RoleSubmitter), SigningKey: enginetest.Key(t)})
	if err != nil {
		t.Fatalf("submitter key: %v", err)
	}
	t.Cleanup(func() { se.Close() })
	plan := engine.Plan{Run: engine.RunRecord{ID: "roles1", Tool: "faketool"}, Tasks: []engine.TaskPlan{{
		ID: "1", Tool: "faketool", Targets: []string{"a.test", "b.test", "c.test"}, ChunkSize: 1, Options: map[string][]string{"lines": {"2"}},
	}}}
	if err := se.Submit(ctx, plan); err != nil {
		t.Fatalf("submit: %v", err)
	}
	run, err := se.WaitRun(ctx, "roles1")
	if err != nil || run.State != engine.RunDone {
		t.Fatalf("run: %+v %v, want done", run, err)
	}
	n := 0
	if err := se.ReadFindings(ctx, "roles1", func(b []byte) {
		if strings.Contains(string(b), `"_type":"url"`) {
			n++
		}
	}); err != nil || n != 6 {
		t.Fatalf("submitter read %d url findings (%v), want 6", n, err)
	}
	if _, err := se.CancelRun(ctx, "roles1"); err != nil {
		t.Errorf("submitter cancel of a finished run: %v", err)
	}

	// The submitter cancels a running run: chunks claimed by the live
	// worker stop, the one never claimed is settled when a worker takes it.
	plan.Run.ID = "roles2"
	plan.Tasks[0].Options = map[string][]string{"sleep": {"30s"}}
	plan.Tasks[0].Targets = []string{"a.test", "b.test", "c.test"}
	if err := se.Submit(ctx, plan); err != nil {
		t.Fatalf("submit: %v", err)
	}
	enginetest.WaitFor(t, "a chunk of roles2 running", 30*time.Second, func(ctx context.Context) (bool, error) {
		cs, err := se.Chunks(ctx, "roles2")
		return len(cs) > 0, err
	})
	if _, err := se.CancelRun(ctx, "roles2"); err != nil {
		t.Errorf("submitter cancel: %v", err)
	}
	if run, err := se.WaitRun(ctx, "roles2"); err != nil || run.State != engine.RunCancelled {
		t.Errorf("cancelled run: %+v %v, want cancelled", run, err)
	}

	logs.mu.Lock()
	for _, l := range logs.lines {
		if strings.Contains(strings.ToLower(l), "violation") {
			t.Errorf("the run itself was denied: %s", l)
		}
	}
	logs.mu.Unlock()

	sub := rawClient(t, srv.ClientURL(), auth.SeedFile(engine.RoleSubmitter))
	wrk := rawClient(t, srv.ClientURL(), auth.SeedFile(engine.RoleWorker))
	pool := "pool-" + engine.DefaultPool
	sub.denied(t, "submitter fetches work", "$JS.API.CONSUMER.MSG.NEXT."+engine.WorkStream+"."+pool)
	sub.denied(t, "submitter acks work", "$JS.ACK."+engine.WorkStream+"."+pool+".1.1.1.0.0")
	sub.denied(t, "submitter creates a work consumer", "$JS.API.CONSUMER.CREATE."+engine.WorkStream+".spy.sortie.work.default")
	sub.denied(t, "submitter writes a chunk record", "$KV."+engine.ChunksBucket+".roles1.1.0")
	sub.denied(t, "submitter writes a heartbeat", "$KV."+engine.WorkersBucket+".w1")
	wrk.denied(t, "worker raises a cancel flag", "$KV."+engine.CancelBucket+".roles1")
	wrk.denied(t, "worker creates a stream", "$JS.API.STREAM.CREATE.EVIL")
	// The worker creates only consumers filtered (in the subject, which
	// the server holds the config to) on one pool's work.
	wrk.denied(t, "worker creates a legacy durable (any filter)", "$JS.API.CONSUMER.DURABLE.CREATE."+engine.WorkStream+"."+pool)
	wrk.denied(t, "worker creates an unfiltered consumer", "$JS.API.CONSUMER.CREATE."+engine.WorkStream+"."+pool)
	wrk.denied(t, "worker filters a pool on another stream subject", "$JS.API.CONSUMER.CREATE."+engine.WorkStream+"."+pool+".sortie.events.x")
	// The filter in the subject is the one the server applies: a body
	// naming another is refused, so the pool stays on its work.
	body := `{"stream_name":"` + engine.WorkStream + `","config":{"durable_name":"` + pool + `","filter_subject":"sortie.work.nowhere","ack_policy":"explicit"}}`
	inbox := engine.InboxPrefix(auth.Keys[engine.RoleWorker]) + ".retarget"
	replies, err := wrk.nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := wrk.nc.PublishRequest("$JS.API.CONSUMER.CREATE."+engine.WorkStream+"."+pool+".sortie.work."+engine.DefaultPool, inbox, []byte(body)); err != nil {
		t.Fatal(err)
	}
	resp, err := replies.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no answer to the retargeting request: %v", err)
	}
	if !strings.Contains(string(resp.Data), `"err_code":10131`) { // filtered subject mismatch
		t.Errorf("worker retargets its pool through the request body: %s", resp.Data)
	}
	for _, c := range []*violations{sub, wrk} {
		for _, s := range []string{engine.WorkStream, engine.FindingsStream, "KV_" + engine.RunsBucket} {
			c.denied(t, "delete stream "+s, "$JS.API.STREAM.DELETE."+s)
			c.denied(t, "purge stream "+s, "$JS.API.STREAM.PURGE."+s)
		}
		c.denied(t, "delete the work consumer", "$JS.API.CONSUMER.DELETE."+engine.WorkStream+"."+pool)
		// Replies to other clients (work fetched by a worker included)
		// go to inboxes no other key may read.
		if _, err := c.nc.SubscribeSync("_INBOX.>"); err != nil {
			t.Fatal(err)
		}
		c.wait(t, "subscribe to every inbox", `permissions violation for subscription to "_INBOX.>"`)
	}
	// Nothing was deleted: the operator still sees every stream.
	op, err := engine.Open(ctx, engine.Config{Server: srv.ClientURL(), NKeySeedFile: auth.SeedFile(engine.RoleOperator)})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if _, err := op.Run(ctx, "roles1"); err != nil {
		t.Errorf("run record after the attempts: %v", err)
	}
}

// The auth directory is created 0700 with 0600 files, keeps its keys
// across starts, and follows no symlink.
func TestAuthDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "auth")
	a, err := engine.LoadAuthDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Generated) != 5 {
		t.Errorf("generated %v, want 3 keys, the route password and the NATS config", a.Generated)
	}
	for _, r := range engine.Roles {
		fi, err := os.Lstat(a.SeedFile(r))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", a.SeedFile(r), fi.Mode(), err)
		}
	}
	b, err := engine.LoadAuthDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Generated) != 0 || b.Keys[engine.RoleWorker] != a.Keys[engine.RoleWorker] || b.RoutePassword != a.RoutePassword {
		t.Errorf("second load generated %v or changed keys", b.Generated)
	}

	// A planted symlink is neither followed nor overwritten.
	planted := filepath.Join(t.TempDir(), "auth")
	if err := os.MkdirAll(planted, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(planted, "worker.nk")); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.LoadAuthDir(planted); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("planted symlink: %v, want a refusal", err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep" {
		t.Errorf("the symlink's target was written: %q", data)
	}
	// A seed others can read is refused.
	if err := os.Chmod(a.SeedFile(engine.RoleSubmitter), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.LoadAuthDir(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("seed readable by others: %v, want a refusal", err)
	}
}
