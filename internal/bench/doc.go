// Package bench holds sortie's end-to-end benchmarks of the engine and the
// worker, the figures of the reliability contract (DESIGN.md §4) and of
// capacity planning:
//
//   - BenchmarkEviction: SIGTERM to a "sortie worker" process running a
//     chunk, until the run is finished in the engine with its partial
//     findings.
//   - BenchmarkHardKill: SIGKILL to a worker holding a chunk, until another
//     worker starts the chunk's second attempt.
//   - BenchmarkCancel: "sortie runs cancel" of a run whose chunks run on two
//     worker processes, until the run is finished, cancelled.
//   - BenchmarkThroughput: chunks per second of a fake tool that exits at
//     once, with an embedded engine and an in-process worker, and with a
//     "sortie server" and a "sortie worker" process over loopback TCP; and
//     the peak memory of each.
//   - BenchmarkToolSpawn: the fake tool alone, the floor under Throughput.
//   - BenchmarkIdleWorker: the memory of a worker process with nothing to do.
//
// The package has no tests: everything here is a benchmark, which starts
// real processes and runs only with -bench. scripts/bench runs them all
// with the iteration counts the figures need and prints them; each one also
// runs alone:
//
//	go test -run XXX -bench Eviction -benchtime 50x ./internal/bench/
//
// Each iteration of a benchmark is one trial; the figures are reported as
// custom metrics (medians and percentiles over the trials) and the default
// ns/op is suppressed where a trial's total time means nothing.
package bench
