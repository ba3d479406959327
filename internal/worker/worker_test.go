package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/install"
	"github.com/sortie-sec/sortie/internal/tool"
	"github.com/sortie-sec/sortie/internal/worker"
)

func TestMain(m *testing.M) { os.Exit(enginetest.Main(m)) }

// targets returns n loopback targets.
func targets(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.0.0.%d", i+1)
	}
	return out
}

func startWorker(t *testing.T, e *engine.Engine, cfg worker.Config) *worker.Worker {
	t.Helper()
	return enginetest.StartWorker(t, e, cfg)
}

func submit(t *testing.T, e *engine.Engine, id string, tp engine.TaskPlan) {
	t.Helper()
	tp.ID, tp.Tool = "1", "faketool"
	err := e.Submit(context.Background(), engine.Plan{
		Run:   engine.RunRecord{ID: id, Kind: "task", Tool: "faketool", Targets: len(tp.Targets)},
		Tasks: []engine.TaskPlan{tp},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func wait(t *testing.T, e *engine.Engine, id string) engine.RunRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := e.WaitRun(ctx, id)
	if err != nil {
		t.Fatalf("run %s did not finish: %v", id, err)
	}
	return r
}

// findingIDs reads the run's findings of type typ and fails on a duplicate.
func findingIDs(t *testing.T, e *engine.Engine, run, typ string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	err := e.ReadFindings(context.Background(), run, func(b []byte) {
		var f struct {
			Type string `json:"_type"`
			ID   string `json:"_id"`
			URL  string `json:"url"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Errorf("bad finding %s: %v", b, err)
			return
		}
		if f.Type != typ {
			return
		}
		if _, dup := ids[f.ID]; dup {
			t.Errorf("duplicate finding %s (%s)", f.ID, f.URL)
		}
		ids[f.ID] = f.URL
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestRunFansIn(t *testing.T) {
	t.Parallel()
	e := enginetest.Embedded(t)
	startWorker(t, e, worker.Config{Concurrency: 4})
	submit(t, e, "run-fanin", engine.TaskPlan{Targets: targets(20), ChunkSize: 3, Options: map[string][]string{"lines": {"2"}}})
	r := wait(t, e, "run-fanin")
	if r.State != engine.RunDone {
		t.Fatalf("run state %s, want done", r.State)
	}
	tasks, err := e.Tasks(context.Background(), "run-fanin")
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks %v %v", tasks, err)
	}
	if tasks[0].Chunks != 7 || tasks[0].States[engine.ChunkDone] != 7 || tasks[0].State != engine.TaskDone {
		t.Fatalf("task record %+v", tasks[0])
	}
	if got := findingIDs(t, e, "run-fanin", "url"); len(got) != 40 {
		t.Fatalf("%d url findings, want 40", len(got))
	}
	chunks, _ := e.Chunks(context.Background(), "run-fanin")
	for _, c := range chunks {
		if c.Attempt != 1 || c.State != engine.ChunkDone {
			t.Errorf("chunk %s: state %s attempt %d", c.ID, c.State, c.Attempt)
		}
	}
}

// A worker without the tool's binary fails the chunk with an error finding
// that says how to install it, and the fan-in proceeds.
func TestMissingBinaryFailsTheChunk(t *testing.T) {
	t.Parallel()
	e := enginetest.Embedded(t)
	enginetest.StartWorker(t, e, worker.Config{Concurrency: 1,
		Locate: func(d *tool.Definition) (string, error) {
			return "", &install.MissingError{Tool: d.Name, Binary: d.Binary, Command: "sortie install " + d.Name}
		}})
	submit(t, e, "run-missing", engine.TaskPlan{Targets: targets(2)})
	if r := wait(t, e, "run-missing"); r.State != engine.RunFailed {
		t.Fatalf("run %s, want failed", r.State)
	}
	cs, err := e.Chunks(context.Background(), "run-missing")
	if err != nil || len(cs) != 1 || cs[0].State != engine.ChunkFailed || cs[0].Reason != "missing-binary" {
		t.Fatalf("chunks %+v %v", cs, err)
	}
	var msg string
	_ = e.ReadFindings(context.Background(), "run-missing", func(b []byte) {
		var f struct {
			Type    string `json:"_type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &f) == nil && f.Type == "error" {
			msg = f.Message
		}
	})
	if !strings.Contains(msg, "faketool is not installed") || !strings.Contains(msg, `"sortie install faketool"`) {
		t.Errorf("error finding %q does not name the install command", msg)
	}
}
