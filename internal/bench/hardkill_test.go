package bench

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

// hardKillLease is the lease of both workers of BenchmarkHardKill.
const hardKillLease = 3 * time.Second

// BenchmarkHardKill measures the hard-kill bound of DESIGN.md §4: worker A
// (--lease 3s) runs a chunk of the fake tool sleeping 30s; worker B, same
// pool and lease, is started once A runs the chunk, so it is idle and
// fetching; A gets SIGKILL. The clock starts just before the signal and
// stops when B starts attempt 2 of the chunk:
//
//   - p50-ms, max-ms: B's "chunk started" log line (attempt 2), by its
//     timestamp (same host, same clock).
//   - rec-p50-ms: the chunk record's Started time of attempt 2, stamped by
//     B's claim just before the log line.
//   - bound-ms: lease + 1s, the target to compare with.
//
// A renews its lease every third of it, so the redelivery comes 2/3 to 3/3
// of a lease after the kill, depending on where the kill falls between two
// renewals. Trial i kills A at 1 + (i mod 5 + 0.5)/5 renewal periods after
// its "chunk started" line: five trials spread the kills evenly over one
// period, the first soon after a renewal (near the worst case). The wait
// before the kill is the one sleep here: it places the stimulus. Each
// iteration is one trial with fresh workers and ends by evicting B
// (SIGTERM) to finish the run; the server process is shared.
//
//	go test -run XXX -bench HardKill -benchtime 5x ./internal/bench/
func BenchmarkHardKill(b *testing.B) {
	_, url := enginetest.Server(b, "")
	e := connect(b, url)
	lease := "--lease=" + hardKillLease.String()
	opts := map[string][]string{"sleep": {"30s"}}
	var logged, recorded []time.Duration
	trial := 0
	for b.Loop() {
		trial++
		run := fmt.Sprintf("hardkill-%d", trial)
		wa := enginetest.Worker(b, fmt.Sprintf("hk-a%d", trial), url, lease, "--concurrency", "1")
		submit(b, e, run, []string{"127.0.0.1"}, 1, opts)
		wa.WaitOutput(b, `"msg":"chunk started"`, time.Minute)
		claimed := logTime(b, wa, "chunk started", map[string]any{"run_id": run})
		wb := enginetest.Worker(b, fmt.Sprintf("hk-b%d", trial), url, lease, "--concurrency", "1")
		period := hardKillLease / 3
		phase := time.Duration(2*((trial-1)%5)+1) * period / 10
		time.Sleep(time.Until(claimed.Add(period + phase)))

		t0 := time.Now()
		wa.Signal(b, syscall.SIGKILL)
		wb.WaitOutput(b, `"msg":"chunk started"`, time.Minute)
		startedAt := logTime(b, wb, "chunk started", map[string]any{"attempt": 2, "run_id": run})
		logged = append(logged, startedAt.Sub(t0))
		recs, err := e.Chunks(context.Background(), run)
		if err != nil || len(recs) != 1 || recs[0].Attempt != 2 || recs[0].Started == nil {
			b.Fatalf("run %s: chunk records %+v, %v; want one at attempt 2", run, recs, err)
		}
		recorded = append(recorded, recs[0].Started.Sub(t0))

		done := waitRun(e, run, time.Minute)
		wb.Signal(b, syscall.SIGTERM)
		if f := <-done; f.err != nil || f.run.State != engine.RunPartial {
			b.Fatalf("run %s: %s, %v; want partial after evicting B", run, f.run.State, f.err)
		}
		_ = wb.Wait(b, time.Minute)
		_ = wa.Wait(b, time.Minute)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(percentile(logged, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(logged, 100)), "max-ms")
	b.ReportMetric(ms(percentile(recorded, 50)), "rec-p50-ms")
	b.ReportMetric(ms(hardKillLease+time.Second), "bound-ms")
	b.Logf("hard kill, %d trials, lease %s: SIGKILL -> attempt 2 started (B's log) %v",
		len(logged), hardKillLease, logged)
}
