package chaos_test

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/sortie-sec/sortie/internal/engine"
)

// A worker killed outright holds its chunk only until the lease expires;
// another worker takes it over as attempt 2 and the findings the first one
// stored are not stored twice.
func TestWorkerSIGKILL(t *testing.T) {
	t.Parallel()
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	js := jetStream(t, url)
	w1 := worker(t, "w1", url)
	found := follow(t, e, "sigkill")

	tg := targets(3)
	submit(t, e, "sigkill", engine.TaskPlan{Targets: tg, Options: opts(2, "1s")})
	found.wait(t, urlsOf(tg[:1], 2)...)
	w1.Signal(t, syscall.SIGKILL)
	<-w1.Done()

	w2 := worker(t, "w2", url)
	r := waitRun(t, e, "sigkill")
	if r.State != engine.RunDone {
		t.Errorf("run state %s, want done", r.State)
	}
	cs := chunks(t, e, "sigkill")
	if len(cs) != 1 {
		t.Fatalf("chunk records %+v, want one", cs)
	}
	assertChunk(t, cs["1.0"], engine.ChunkDone, 2, "w2")
	tr := task(t, e, "sigkill", "1")
	if tr.State != engine.TaskDone || tr.States[engine.ChunkDone] != 1 {
		t.Errorf("task record %+v, want done", tr)
	}
	assertURLs(t, readFindings(t, e, "sigkill"), urlsOf(tg, 2))
	if !strings.Contains(w2.Output(), `"attempt":2`) {
		t.Errorf("w2 did not log attempt 2")
	}
	if dls := deadLetters(t, e, "sigkill"); len(dls) != 0 {
		t.Errorf("dead letters %+v", dls)
	}
	queueDrained(t, js)
}

// A chunk whose tool kills its worker on every attempt is abandoned after
// --max-attempts: an error finding, a dead letter, and the fan-in proceeds
// with the task's healthy chunks done.
func TestTaskKillsItsWorker(t *testing.T) {
	t.Parallel()
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	js := jetStream(t, url)

	// Chunks 0 [.1 .2], 1 [.3 .4], 2 [.5 .6]: the tool kills its worker
	// when it gets 127.0.0.3, that is in chunk 1 only.
	tg := targets(6)
	submit(t, e, "killer", engine.TaskPlan{Targets: tg, ChunkSize: 2,
		Options: opts(1, "200ms", "kill_parent_on", "127.0.0.3")})
	done := runDone(t, e, "killer")

	// One slot per worker, so a death takes no healthy chunk with it.
	// Each death is answered by a new worker, as a Deployment would.
	var dead []string
	var r engine.RunRecord
	finished := false
	for i := 1; !finished; i++ {
		if i > 4 {
			t.Fatalf("%d workers died; the chunk was never abandoned", len(dead))
		}
		w := startWorker(t, fmt.Sprintf("w%d", i), url, "--lease", "2s", "--max-attempts", "2")
		select {
		case <-w.Done():
			if !exitedKilled(w) {
				t.Fatalf("%s exited with %v, want killed by its tool", w.Name, w.Cmd.ProcessState)
			}
			dead = append(dead, w.Name)
		case r = <-done:
			finished = true
		}
	}
	if !slices.Equal(dead, []string{"w1", "w2"}) {
		t.Errorf("workers killed: %v, want w1 and w2 (one per attempt)", dead)
	}
	if r.State != engine.RunPartial {
		t.Errorf("run state %s, want partial", r.State)
	}
	cs := chunks(t, e, "killer")
	assertChunk(t, cs["1.0"], engine.ChunkDone, 1, "")
	assertChunk(t, cs["1.2"], engine.ChunkDone, 1, "")
	k := cs["1.1"]
	assertChunk(t, k, engine.ChunkAbandoned, 2, "w2")
	if !strings.Contains(k.Reason, "abandoned after 2 attempts") {
		t.Errorf("abandoned chunk's reason %q", k.Reason)
	}
	tr := task(t, e, "killer", "1")
	if tr.State != engine.TaskPartial || tr.States[engine.ChunkDone] != 2 || tr.States[engine.ChunkAbandoned] != 1 {
		t.Errorf("task record %+v, want partial: 2 done, 1 abandoned", tr)
	}
	dls := deadLetters(t, e, "killer")
	if len(dls) != 1 || dls[0].Task != "1" || dls[0].Chunk != "1" || dls[0].Attempts != 2 || dls[0].Reason != k.Reason {
		t.Errorf("dead letters %+v, want one for chunk 1 after 2 attempts", dls)
	}
	f := readFindings(t, e, "killer")
	assertURLs(t, f, urlsOf(slices.Concat(tg[:2], tg[4:]), 1))
	if !slices.ContainsFunc(f.errors, func(m string) bool { return strings.Contains(m, "abandoned after 2 attempts") }) {
		t.Errorf("no error finding for the abandoned chunk: %q", f.errors)
	}
	queueDrained(t, js)
}

// A worker paused past its lease (SIGSTOP: a VM freeze, a GC pause) wakes
// up to find its chunk taken over: it writes nothing, acknowledges nothing,
// and says so; the new owner's result stands.
func TestZombieWorker(t *testing.T) {
	t.Parallel()
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	js := jetStream(t, url)
	w1 := worker(t, "w1", url)
	found := follow(t, e, "zombie")

	tg := targets(4)
	submit(t, e, "zombie", engine.TaskPlan{Targets: tg, Options: opts(1, "1s")})
	found.wait(t, urlsOf(tg[:1], 1)...)
	w1.Signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { _ = w1.Cmd.Process.Signal(syscall.SIGCONT) })

	// The lease expires; w2 claims attempt 2 and runs it. The zombie wakes
	// while w2 still runs the chunk.
	w2 := worker(t, "w2", url)
	w2.WaitOutput(t, `"msg":"chunk started"`, stepTimeout)
	w1.Signal(t, syscall.SIGCONT)
	w1.WaitOutput(t, "lease lost", stepTimeout)

	r := waitRun(t, e, "zombie")
	if r.State != engine.RunDone {
		t.Errorf("run state %s, want done", r.State)
	}
	cs := chunks(t, e, "zombie")
	if len(cs) != 1 {
		t.Fatalf("chunk records %+v, want one", cs)
	}
	assertChunk(t, cs["1.0"], engine.ChunkDone, 2, "w2")
	tr := task(t, e, "zombie", "1")
	if tr.State != engine.TaskDone || tr.States[engine.ChunkDone] != 1 || len(tr.States) != 1 {
		t.Errorf("task record %+v, want one done chunk counted once", tr)
	}
	assertURLs(t, readFindings(t, e, "zombie"), urlsOf(tg, 1))
	w2.WaitOutput(t, `"msg":"chunk finished"`, stepTimeout)
	if !strings.Contains(w2.Output(), `"state":"done"`) {
		t.Errorf("w2 did not finish the chunk as done")
	}
	if n := count(w1, `"msg":"chunk finished"`); n != 0 {
		t.Errorf("the zombie finished the chunk %d times", n)
	}
	if n := count(w1, "acknowledge"); n != 0 {
		t.Errorf("the zombie tried to acknowledge")
	}
	queueDrained(t, js)
}
