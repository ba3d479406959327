package chaos_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sortie-sec/sortie/internal/engine"
)

// Messages a worker must never run — unsigned (unreadable, oversized,
// naming no chunk, naming a chunk no run planned), or signed but naming a
// tool outside the registry, with invalid options or a target that would
// be a flag — are dead-lettered with their reason and removed from the
// queue; the signed chunks end abandoned so their tasks complete; the
// worker goes on serving.
func TestPoisonMessages(t *testing.T) {
	t.Parallel()
	_, url := server(t, "", t.TempDir())
	e := connect(t, url, 1)
	js := jetStream(t, url)
	w := worker(t, "w1", url)

	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	forged, _ := json.Marshal(engine.Chunk{Run: "ghost", Task: "1", ID: "0", Index: 0, Of: 1, Pool: engine.DefaultPool,
		Tool: "faketool", Targets: []string{"127.0.0.1"}})
	raw := map[string][]byte{
		"malformed": []byte("not json {"),
		"oversized": []byte(`{"run":"big","targets":["` + strings.Repeat("a", engine.MaxChunkBytes) + `"]}`),
		"anonymous": []byte(`{"task":"1","id":"0","tool":"faketool","pool":"default","targets":["127.0.0.1"]}`),
		"forged":    forged,
	}
	for _, name := range []string{"malformed", "oversized", "anonymous", "forged"} {
		if _, err := js.Publish(ctx, "sortie.work."+engine.DefaultPool, raw[name]); err != nil {
			t.Fatalf("publish %s message: %v", name, err)
		}
	}
	// Planned chunks that fail the worker's checks, and a good one last.
	submitPlan(t, e, engine.Plan{
		Run: engine.RunRecord{ID: "bad", Kind: "workflow"},
		Tasks: []engine.TaskPlan{
			{ID: "1", Tool: "nosuchtool", Targets: []string{"127.0.0.1"}},
			{ID: "2", Tool: "faketool", Targets: []string{"127.0.0.1"}, Options: map[string][]string{"bogus": {"1"}}},
			{ID: "3", Tool: "faketool", Targets: []string{"127.0.0.1"}, Options: map[string][]string{"lines": {"many"}}},
			{ID: "4", Tool: "faketool", Targets: []string{"-oops"}},
			{ID: "5", Tool: "faketool", Targets: targets(2), Options: opts(1, "0s")},
		},
	})
	r := waitRun(t, e, "bad")
	if r.State != engine.RunPartial {
		t.Errorf("run state %s, want partial", r.State)
	}
	want := map[string]string{"1": "unknown tool", "2": "invalid options", "3": "invalid options", "4": "rejected target"}
	for id, reason := range want {
		if r.TasksDone[id] != engine.TaskFailed {
			t.Errorf("task %s: %s, want failed", id, r.TasksDone[id])
		}
		c := chunks(t, e, "bad")[id+".0"]
		assertChunk(t, c, engine.ChunkAbandoned, 0, "")
		if !strings.Contains(c.Reason, reason) {
			t.Errorf("chunk %s.0: reason %q, want %q", id, c.Reason, reason)
		}
	}
	if r.TasksDone["5"] != engine.TaskDone {
		t.Errorf("task 5: %s, want done", r.TasksDone["5"])
	}
	assertChunk(t, chunks(t, e, "bad")["5.0"], engine.ChunkDone, 1, "w1")

	dls := deadLetters(t, e, "bad")
	if len(dls) != len(want) {
		t.Errorf("%d dead letters for run bad, want %d: %+v", len(dls), len(want), dls)
	}
	for _, dl := range dls {
		if !strings.Contains(dl.Reason, want[dl.Task]) || dl.Chunk != "0" || dl.Worker != "w1" {
			t.Errorf("dead letter %+v, want chunk 0 of a bad task with reason %q", dl, want[dl.Task])
		}
	}
	f := readFindings(t, e, "bad")
	assertURLs(t, f, urlsOf(targets(2), 1))
	if len(f.errors) != len(want) {
		t.Errorf("error findings %q, want one per dead-lettered chunk", f.errors)
	}
	for _, m := range f.errors {
		if !strings.HasPrefix(m, "chunk not run: ") {
			t.Errorf("error finding %q", m)
		}
	}

	// The raw messages carry no signature: each is dead-lettered unrun
	// with that reason, and names no run (what it names is only a claim).
	queueDrained(t, js)
	var payloads []string
	for _, dl := range deadLetters(t, e, "") {
		if !strings.Contains(dl.Reason, "unsigned chunk") {
			continue
		}
		if dl.Run != "" || dl.Chunk != "" {
			t.Errorf("an unsigned message's dead letter names a chunk: %+v", dl)
		}
		if n := len(dl.Payload); n == 0 || n > 1024 {
			t.Errorf("unsigned message's dead letter keeps %d bytes of it, want its start", n)
		}
		payloads = append(payloads, dl.Payload)
	}
	if len(payloads) != len(raw) {
		t.Errorf("dead letters of raw messages %q, want one for each of %d", payloads, len(raw))
	}
	if !slices.ContainsFunc(payloads, func(p string) bool { return strings.HasPrefix(p, "not json") }) {
		t.Errorf("no dead letter keeps the malformed message: %q", payloads)
	}
	if n := len(deadLetters(t, e, "")); n != len(raw)+len(want) {
		t.Errorf("%d dead letters in all, want %d", n, len(raw)+len(want))
	}
	if f := readFindings(t, e, "ghost"); len(f.urls) != 0 {
		t.Errorf("the forged chunk ran: %v", f.urls)
	}

	// Only the good chunk ran, and the worker is still serving.
	if n := count(w, `"msg":"chunk started"`); n != 1 {
		t.Errorf("the worker started %d chunks, want only the good one", n)
	}
	select {
	case <-w.Done():
		t.Fatalf("the worker exited: %v", w.Cmd.ProcessState)
	default:
	}
	submit(t, e, "after", engine.TaskPlan{Targets: targets(1), Options: opts(1, "0s")})
	if r := waitRun(t, e, "after"); r.State != engine.RunDone {
		t.Errorf("run after the poison: %s, want done", r.State)
	}
}
