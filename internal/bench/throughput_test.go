package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
	"github.com/sortie-sec/sortie/internal/tool"
	"github.com/sortie-sec/sortie/internal/worker"
)

const (
	// throughputChunks is the size of a throughput run: one target per chunk.
	throughputChunks = 10000
	// throughputConcurrency is the worker's concurrency.
	throughputConcurrency = 8
)

// BenchmarkThroughput measures chunks per second end to end: one run of
// 10,000 one-target chunks of the fake tool, which prints one line and
// exits at once, served by one worker with concurrency 8; the clock runs
// from Submit (which stores the records and enqueues every chunk) until
// WaitRun returns the finished run. Each iteration is one run; chunks/s is
// the median over the iterations.
//
//   - embedded: an embedded engine and an in-process worker, as local mode
//     runs. peak-MB is this process's VmHWM since the engine was opened
//     (reset through /proc/self/clear_refs): engine, worker and the
//     benchmark's own heap together, and the test binary too.
//   - tcp: a "sortie server" process and a "sortie worker" process over
//     loopback TCP; this process only submits and waits. server-peak-MB
//     and worker-peak-MB are their VmHWM at the end (the worker logs two
//     lines per chunk at info level, as deployed).
//
// The CPU time spent per chunk, over the timed runs, says where the time
// goes without a profiler in each process: cpu-ms/chunk (embedded: this
// process, engine and worker), server-, worker- and client-cpu-ms/chunk
// (tcp), and tool-cpu-ms/chunk, the fake tools the worker started and
// reaped. On 2 cores, chunks/s cannot exceed 2000 / (sum of them).
//
// Every chunk spawns the tool: on a small machine the fork and exec of
// 10,000 processes is a large part of the time.
//
//	go test -run XXX -bench Throughput -benchtime 1x ./internal/bench/
func BenchmarkThroughput(b *testing.B) {
	targets := loopbackTargets(throughputChunks)
	b.Run("embedded", func(b *testing.B) {
		e, err := engine.Open(context.Background(), engine.Config{Dir: b.TempDir(), SigningKey: enginetest.Key(b)})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		resetPeakRSS(b)
		w, err := worker.New(worker.Config{
			Trust:  enginetest.Trust(b),
			Engine: e, Registry: enginetest.Registry(b), Locate: enginetest.Locate(b),
			Concurrency: throughputConcurrency, WorkDir: b.TempDir(),
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			w.Stop(ctx)
		}()
		cpu0 := readCPU(b, 0)
		rates := throughputRuns(b, e, "embedded", targets)
		cpu := readCPU(b, 0).sub(cpu0)
		chunks := len(rates) * len(targets)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(median(rates), "chunks/s")
		b.ReportMetric(procStatusMB(b, 0, "VmHWM"), "peak-MB")
		b.ReportMetric(perChunkMS(cpu.self, chunks), "cpu-ms/chunk")
		b.ReportMetric(perChunkMS(cpu.children, chunks), "tool-cpu-ms/chunk")
	})
	// The same with /bin/true as the tool: what sortie costs per chunk
	// when the tool costs almost nothing (a Go fake tool burns ~10 ms of
	// CPU per start on this machine, /bin/true ~3 ms).
	b.Run("embedded-true", func(b *testing.B) {
		reg := enginetest.Registry(b)
		d, err := tool.ParseDefinition("exit0.yaml", []byte(exit0YAML))
		if err != nil {
			b.Fatal(err)
		}
		if err := reg.Add(d); err != nil {
			b.Fatal(err)
		}
		e, err := engine.Open(context.Background(), engine.Config{Dir: b.TempDir(), SigningKey: enginetest.Key(b)})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		resetPeakRSS(b)
		enginetest.StartWorker(b, e, worker.Config{Registry: reg, Concurrency: throughputConcurrency,
			Locate: func(*tool.Definition) (string, error) { return exec.LookPath("true") }})
		cpu0 := readCPU(b, 0)
		rates := throughputRunsOf(b, e, "embedded-true", "exit0", targets)
		cpu := readCPU(b, 0).sub(cpu0)
		chunks := len(rates) * len(targets)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(median(rates), "chunks/s")
		b.ReportMetric(procStatusMB(b, 0, "VmHWM"), "peak-MB")
		b.ReportMetric(perChunkMS(cpu.self, chunks), "cpu-ms/chunk")
		b.ReportMetric(perChunkMS(cpu.children, chunks), "tool-cpu-ms/chunk")
	})
	b.Run("tcp", func(b *testing.B) {
		srv, url := enginetest.Server(b, "")
		wp := enginetest.Worker(b, "throughput", url, "--concurrency", fmt.Sprint(throughputConcurrency))
		e := connect(b, url)
		srvPID, workerPID := srv.Cmd.Process.Pid, wp.Cmd.Process.Pid
		srv0, worker0, self0 := readCPU(b, srvPID), readCPU(b, workerPID), readCPU(b, 0)
		rates := throughputRuns(b, e, "tcp", targets)
		srvCPU, workerCPU, selfCPU := readCPU(b, srvPID).sub(srv0), readCPU(b, workerPID).sub(worker0), readCPU(b, 0).sub(self0)
		chunks := len(rates) * len(targets)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(median(rates), "chunks/s")
		b.ReportMetric(procStatusMB(b, srvPID, "VmHWM"), "server-peak-MB")
		b.ReportMetric(procStatusMB(b, workerPID, "VmHWM"), "worker-peak-MB")
		b.ReportMetric(perChunkMS(srvCPU.self, chunks), "server-cpu-ms/chunk")
		b.ReportMetric(perChunkMS(workerCPU.self, chunks), "worker-cpu-ms/chunk")
		b.ReportMetric(perChunkMS(workerCPU.children, chunks), "tool-cpu-ms/chunk")
		b.ReportMetric(perChunkMS(selfCPU.self, chunks), "client-cpu-ms/chunk")
	})
}

// exit0YAML is a tool that does nothing: /bin/true, given a target file.
const exit0YAML = `name: exit0
binary: "true"
inputs: [ip, host, url, string]
input: {mode: file, flag: -l}
output: {format: lines}
findings:
  - type: ip
    fields: {ip: "{line}"}
`

// throughputRuns runs one throughput run of the fake tool per iteration
// and returns the rates in chunks per second.
func throughputRuns(b *testing.B, e *engine.Engine, mode string, targets []string) []float64 {
	return throughputRunsOf(b, e, mode, "faketool", targets)
}

// throughputRunsOf is throughputRuns for any tool.
func throughputRunsOf(b *testing.B, e *engine.Engine, mode, toolName string, targets []string) []float64 {
	var rates []float64
	i := 0
	for b.Loop() {
		i++
		run := fmt.Sprintf("throughput-%s-%d", mode, i)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		start := time.Now()
		err := e.Submit(ctx, engine.Plan{
			Run:   engine.RunRecord{ID: run, Kind: "task", Tool: toolName, Targets: len(targets)},
			Tasks: []engine.TaskPlan{{ID: "1", Tool: toolName, Targets: targets, ChunkSize: 1}},
		})
		if err != nil {
			b.Fatalf("submit %s: %v", run, err)
		}
		r, err := e.WaitRun(ctx, run)
		elapsed := time.Since(start)
		cancel()
		if err != nil {
			b.Fatalf("run %s: %v", run, err)
		}
		if r.State != engine.RunDone {
			b.Fatalf("run %s ended %s, want done", run, r.State)
		}
		rates = append(rates, float64(len(targets))/elapsed.Seconds())
		b.Logf("%s: %d chunks in %s: %.0f chunks/s", mode, len(targets), elapsed.Round(time.Millisecond), rates[len(rates)-1])
	}
	return rates
}

// BenchmarkToolSpawn is the floor under BenchmarkThroughput: the fake tool
// alone, started with os/exec 8 at a time on one target file, its output
// read, without sortie. tool-cpu-ms/spawn is the tool's CPU time and
// exec-cpu-ms/spawn this process's (fork, exec, pipes). spawns/s bounds the chunks/s of any worker that
// starts one process per chunk on this machine.
//
//	go test -run XXX -bench ToolSpawn -benchtime 5000x ./internal/bench/
func BenchmarkToolSpawn(b *testing.B) {
	bin := enginetest.FakeTool(b)
	list := filepath.Join(b.TempDir(), "targets.txt")
	if err := os.WriteFile(list, []byte("127.0.0.1\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism((throughputConcurrency + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	start, cpu0 := time.Now(), readCPU(b, 0)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := exec.Command(bin, "-l", list).Output()
			if err != nil || len(out) == 0 {
				b.Errorf("faketool: %v, %q", err, out)
				return
			}
		}
	})
	elapsed, cpu := time.Since(start), readCPU(b, 0).sub(cpu0)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "spawns/s")
	b.ReportMetric(perChunkMS(cpu.children, b.N), "tool-cpu-ms/spawn")
	b.ReportMetric(perChunkMS(cpu.self, b.N), "exec-cpu-ms/spawn")
}
