package bench

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/enginetest"
)

// idleFor is how long a worker is left alone before its memory is read.
const idleFor = 5 * time.Second

// BenchmarkIdleWorker measures the memory of a "sortie worker" process
// (default flags: concurrency = CPUs, lease 30s) connected to a "sortie
// server" process with nothing to do: each iteration starts a worker,
// leaves it idle for 5s (it fetches, heartbeats and waits) and reads its
// VmRSS, then stops it. rss-MB is the median over the iterations, peak-MB
// the median VmHWM (startup included).
//
//	go test -run XXX -bench IdleWorker -benchtime 3x ./internal/bench/
func BenchmarkIdleWorker(b *testing.B) {
	_, url := enginetest.Server(b, "")
	var rss, peak []float64
	i := 0
	for b.Loop() {
		i++
		w := enginetest.Worker(b, fmt.Sprintf("idle-%d", i), url)
		// A benchmark of idleness: waiting is the stimulus.
		time.Sleep(idleFor)
		rss = append(rss, procStatusMB(b, w.Cmd.Process.Pid, "VmRSS"))
		peak = append(peak, procStatusMB(b, w.Cmd.Process.Pid, "VmHWM"))
		w.Signal(b, syscall.SIGTERM)
		if err := w.Wait(b, time.Minute); err != nil {
			b.Fatalf("%s: %v\n%s", w.Describe(), err, w.Output())
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(rss), "rss-MB")
	b.ReportMetric(median(peak), "peak-MB")
	b.Logf("idle worker after %s: VmRSS %.1f MiB (all: %.1f), VmHWM %.1f MiB", idleFor, median(rss), rss, median(peak))
}
