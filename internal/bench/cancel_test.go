package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

// BenchmarkCancel measures the cancel bound of DESIGN.md §4: a run of four
// chunks running on two "sortie worker" processes (two slots each), whose
// fake tools have printed a finding and sleep 30s obeying SIGINT, is
// cancelled with engine.CancelRun (what "sortie runs cancel" calls). The
// clock runs from the call until the run is finished, as WaitRun sees it.
// Each trial checks that every chunk ended cancelled and the four findings
// printed before the cancel are kept.
//
//	go test -run XXX -bench Cancel -benchtime 10x ./internal/bench/
func BenchmarkCancel(b *testing.B) {
	_, url := enginetest.Server(b, "")
	e := connect(b, url)
	for i := 1; i <= 2; i++ {
		enginetest.Worker(b, fmt.Sprintf("cancel-w%d", i), url, "--concurrency", "2")
	}
	opts := map[string][]string{"sleep": {"30s"}}
	var took []time.Duration
	trial := 0
	for b.Loop() {
		trial++
		run := fmt.Sprintf("cancel-%d", trial)
		submit(b, e, run, loopbackTargets(4), 1, opts)
		enginetest.WaitFor(b, "four chunks running with their finding", time.Minute, func(ctx context.Context) (bool, error) {
			cs, err := e.Chunks(ctx, run)
			n := 0
			for _, c := range cs {
				if c.State == engine.ChunkRunning {
					n++
				}
			}
			return n == 4 && countFindings(b, e, run, "url") == 4, err
		})
		done := waitRun(e, run, time.Minute)
		t0 := time.Now()
		if _, err := e.CancelRun(context.Background(), run); err != nil {
			b.Fatal(err)
		}
		f := <-done
		if f.err != nil {
			b.Fatalf("run %s: %v", run, f.err)
		}
		took = append(took, f.at.Sub(t0))
		if f.run.State != engine.RunCancelled {
			b.Fatalf("run %s ended %s, want cancelled", run, f.run.State)
		}
		cs, err := e.Chunks(context.Background(), run)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			if c.State != engine.ChunkCancelled {
				b.Fatalf("run %s chunk %s ended %s, want cancelled", run, c.ID, c.State)
			}
		}
		if n := countFindings(b, e, run, "url"); n != 4 {
			b.Fatalf("run %s kept %d url findings, want 4", run, n)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(percentile(took, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(took, 100)), "max-ms")
	b.Logf("cancel, %d trials of 4 running chunks on 2 worker processes: CancelRun -> run finished p50 %.1fms max %.1fms",
		len(took), ms(percentile(took, 50)), ms(percentile(took, 100)))
}
