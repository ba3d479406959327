package bench

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

// BenchmarkEviction measures the eviction bound of DESIGN.md §4: a "sortie
// worker" process (--eviction finalize) runs a one-target chunk of the fake
// tool, which has printed its finding and sleeps 30s obeying SIGINT; the
// worker gets SIGTERM. Each iteration is one trial with a fresh worker
// process (an evicted worker exits); the server process is shared.
//
// The clock starts just before SIGTERM is sent. Reported, over the trials
// (nearest-rank percentiles, so with 50 trials p99 is the largest):
//
//   - p50-ms, p99-ms: until engine.WaitRun, watching the run record from
//     this process since before the signal, returns the finished run. This
//     is what a waiting client sees: the worker's last write plus its
//     delivery to a watcher.
//   - rec-p50-ms, rec-p99-ms: until the run record's Finished time, stamped
//     by the worker that completed the fan-in (same host, same clock),
//     just before its write.
//   - exit-p50-ms: until the worker process has exited.
//
// Every trial also checks that the run ended partial with its finding.
//
//	go test -run XXX -bench Eviction -benchtime 50x ./internal/bench/
func BenchmarkEviction(b *testing.B) {
	_, url := enginetest.Server(b, "")
	e := connect(b, url)
	opts := map[string][]string{"sleep": {"30s"}}
	var waited, recorded, exited []time.Duration
	trial := 0
	for b.Loop() {
		trial++
		run := fmt.Sprintf("evict-%d", trial)
		w := enginetest.Worker(b, fmt.Sprintf("evict-w%d", trial), url, "--eviction", "finalize", "--concurrency", "1")
		submit(b, e, run, []string{"127.0.0.1"}, 1, opts)
		done := waitRun(e, run, 2*time.Minute)
		// The tool has printed its line, the worker has stored the finding:
		// the chunk is running with partial findings to keep.
		waitFinding(b, e, run, "url", time.Minute)
		exit := make(chan time.Time, 1)
		go func() { <-w.Done(); exit <- time.Now() }()

		t0 := time.Now()
		w.Signal(b, syscall.SIGTERM)
		var f finished
		var exitAt time.Time
		select {
		case f = <-done:
		case exitAt = <-exit:
			// The worker writes the result before it exits; its watcher
			// may hear of it a moment later. Not at all: the worker
			// left without finishing the chunk.
			select {
			case f = <-done:
			case <-time.After(10 * time.Second):
				b.Fatalf("%s exited on one SIGTERM without finishing run %s:\n%s", w.Describe(), run, w.Output())
			}
		}
		if f.err != nil {
			b.Fatalf("run %s: %v\n%s", run, f.err, w.Output())
		}
		if exitAt.IsZero() {
			select {
			case exitAt = <-exit:
			case <-time.After(time.Minute):
				b.Fatalf("%s did not exit within a minute of SIGTERM", w.Describe())
			}
		}
		waited = append(waited, f.at.Sub(t0))
		recorded = append(recorded, f.run.Finished.Sub(t0))
		exited = append(exited, exitAt.Sub(t0))

		if f.run.State != engine.RunPartial {
			b.Fatalf("run %s ended %s, want partial", run, f.run.State)
		}
		if n := countFindings(b, e, run, "url"); n != 1 {
			b.Fatalf("run %s has %d url findings, want the 1 printed before the eviction", run, n)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(percentile(waited, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(waited, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(recorded, 50)), "rec-p50-ms")
	b.ReportMetric(ms(percentile(recorded, 99)), "rec-p99-ms")
	b.ReportMetric(ms(percentile(exited, 50)), "exit-p50-ms")
	b.Logf("eviction, %d trials: SIGTERM -> WaitRun returns p50 %.1fms p90 %.1fms max %.1fms; -> run record finished p50 %.1fms max %.1fms; -> worker exited p50 %.1fms",
		len(waited), ms(percentile(waited, 50)), ms(percentile(waited, 90)), ms(percentile(waited, 100)),
		ms(percentile(recorded, 50)), ms(percentile(recorded, 100)), ms(percentile(exited, 50)))
}
