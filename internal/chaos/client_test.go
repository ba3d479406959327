package chaos_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

// A run lives in the engine, not in the CLI that submitted it: killing
// "sortie x --server" mid-run changes nothing for the workers.
func TestSubmittingCLIDies(t *testing.T) {
	t.Parallel()
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	js := jetStream(t, url)
	w := worker(t, "w1", url)

	tg := targets(4)
	args := append([]string{"x", "faketool"}, tg...)
	args = append(args, "--server", url, "--tools-dir", enginetest.ToolsDir(t), "--signing-key", enginetest.KeyFile(t),
		"--chunk-size", "1", "--lines", "2", "--sleep", "500ms")
	cli := enginetest.Start(t, "sortie x", args...)

	// The run id is the CLI's to choose: find it in the engine.
	var id string
	enginetest.WaitFor(t, "the CLI's run in the engine", stepTimeout, func(ctx context.Context) (bool, error) {
		runs, err := e.Runs(ctx)
		if len(runs) == 1 {
			id = runs[0].ID
		}
		return id != "", err
	})
	// Submitted means every chunk is enqueued: Submit publishes
	// run.submitted after that.
	submitted := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := e.FollowEvents(ctx, id, func(ev engine.Event) {
		if ev.Type == "run.submitted" {
			close(submitted)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-submitted:
	case <-cli.Done():
		t.Fatalf("the CLI exited before the run was submitted: %v", cli.Cmd.ProcessState)
	}
	w.WaitOutput(t, `"msg":"chunk started"`, stepTimeout)
	if r, err := e.Run(ctx, id); err != nil || r.State.Terminal() {
		t.Fatalf("run %s before the CLI dies: %+v %v, want running", id, r, err)
	}
	cli.Signal(t, syscall.SIGKILL)
	<-cli.Done()
	if !exitedKilled(cli) {
		t.Fatalf("CLI exited with %v before it was killed", cli.Cmd.ProcessState)
	}

	r := waitRun(t, e, id)
	if r.State != engine.RunDone {
		t.Errorf("run state %s, want done", r.State)
	}
	cs := chunks(t, e, id)
	if len(cs) != len(tg) {
		t.Errorf("%d chunk records, want %d", len(cs), len(tg))
	}
	for i := range tg {
		assertChunk(t, cs[fmt.Sprintf("1.%d", i)], engine.ChunkDone, 1, "w1")
	}
	assertURLs(t, readFindings(t, e, id), urlsOf(tg, 2))
	queueDrained(t, js)
}

// Cancelling a run stops its running chunks on every worker, keeps what
// they found, settles the chunks nobody started, and leaves finished
// chunks done; none of the settled chunks runs later.
func TestCancelRun(t *testing.T) {
	t.Parallel()
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	js := jetStream(t, url)
	w1 := worker(t, "w1", url)
	w2 := worker(t, "w2", url)
	found := follow(t, e, "cancel")

	// Task 1 is quick and finishes before the cancel; task 2's chunks
	// print their target, then wait far longer than the test.
	quick, slow := targets(2), []string{"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15"}
	submitPlan(t, e, engine.Plan{
		Run: engine.RunRecord{ID: "cancel", Kind: "workflow"},
		Tasks: []engine.TaskPlan{
			{ID: "1", Tool: "faketool", Targets: quick, ChunkSize: 1, Options: opts(1, "0s")},
			{ID: "2", Tool: "faketool", Targets: slow, ChunkSize: 1, Options: opts(1, "10m")},
		},
	})
	// Each worker runs one chunk at a time: once both have started a
	// slow chunk, the quick ones are done.
	var running []string
	enginetest.WaitFor(t, "a slow chunk running on each worker", stepTimeout, func(ctx context.Context) (bool, error) {
		cs, err := e.Chunks(ctx, "cancel")
		running = running[:0]
		for _, c := range cs {
			if c.Task == "2" && c.State == engine.ChunkRunning {
				running = append(running, c.ID)
			}
		}
		return len(running) == 2, err
	})
	var runningTargets []string
	for _, id := range running {
		i, err := strconv.Atoi(id)
		if err != nil {
			t.Fatalf("chunk id %q", id)
		}
		runningTargets = append(runningTargets, slow[i])
	}
	found.wait(t, urlsOf(runningTargets, 1)...)

	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if _, err := e.CancelRun(ctx, "cancel"); err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, e, "cancel")
	if r.State != engine.RunCancelled || !r.CancelRequested {
		t.Errorf("run %+v, want cancelled", r)
	}
	if r.TasksDone["1"] != engine.TaskDone || r.TasksDone["2"] != engine.TaskCancelled {
		t.Errorf("tasks %v, want 1 done and 2 cancelled", r.TasksDone)
	}
	// The chunks settled without running are still in the queue; the
	// workers drop them. Only then is "never run" a fact.
	queueDrained(t, js)
	cs := chunks(t, e, "cancel")
	if len(cs) != len(quick)+len(slow) {
		t.Errorf("%d chunk records, want %d", len(cs), len(quick)+len(slow))
	}
	for i := range quick {
		assertChunk(t, cs[fmt.Sprintf("1.%d", i)], engine.ChunkDone, 1, "")
	}
	for i := range slow {
		c := cs[fmt.Sprintf("2.%d", i)]
		if slices.Contains(running, c.ID) {
			assertChunk(t, c, engine.ChunkCancelled, 1, "")
		} else {
			assertChunk(t, c, engine.ChunkCancelled, 0, "")
		}
		if c.Reason != "cancelled" {
			t.Errorf("chunk 2.%d: reason %q, want cancelled", i, c.Reason)
		}
	}
	owners := []string{cs["2."+running[0]].Worker, cs["2."+running[1]].Worker}
	slices.Sort(owners)
	if !slices.Equal(owners, []string{"w1", "w2"}) {
		t.Errorf("running chunks were owned by %v, want one on each worker", owners)
	}
	tr := task(t, e, "cancel", "2")
	if tr.State != engine.TaskCancelled || tr.States[engine.ChunkCancelled] != len(slow) {
		t.Errorf("task 2 %+v, want cancelled with %d cancelled chunks", tr, len(slow))
	}
	assertURLs(t, readFindings(t, e, "cancel"), slices.Concat(urlsOf(quick, 1), urlsOf(runningTargets, 1)))
	if n := count(w1, `"msg":"chunk started"`) + count(w2, `"msg":"chunk started"`); n != len(quick)+len(running) {
		t.Errorf("the workers started %d chunks, want %d", n, len(quick)+len(running))
	}
	for _, w := range []*enginetest.Proc{w1, w2} {
		select {
		case <-w.Done():
			t.Errorf("%s exited: %v", w.Name, w.Cmd.ProcessState)
		default:
		}
	}
	if dls := deadLetters(t, e, "cancel"); len(dls) != 0 {
		t.Errorf("dead letters %+v", dls)
	}
}
