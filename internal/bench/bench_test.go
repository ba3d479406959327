package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/enginetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	enginetest.RemoveBuildDir()
	os.Exit(code)
}

// connect opens a client engine on a server started by the benchmark.
func connect(b *testing.B, url string) *engine.Engine {
	b.Helper()
	e, err := engine.Open(context.Background(), engine.Config{Server: url, Name: "sortie-bench", SigningKey: enginetest.Key(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// submit submits a run of one faketool task.
func submit(b *testing.B, e *engine.Engine, run string, targets []string, chunkSize int, opts map[string][]string) {
	b.Helper()
	err := e.Submit(context.Background(), engine.Plan{
		Run: engine.RunRecord{ID: run, Kind: "task", Tool: "faketool", Targets: len(targets)},
		Tasks: []engine.TaskPlan{{
			ID: "1", Tool: "faketool", Targets: targets, ChunkSize: chunkSize, Options: opts,
		}},
	})
	if err != nil {
		b.Fatalf("submit %s: %v", run, err)
	}
}

// loopbackTargets returns n distinct loopback addresses: 127.0.0.1, ...
func loopbackTargets(n int) []string {
	out := make([]string, n)
	for i := range out {
		j := i + 1
		out[i] = fmt.Sprintf("127.%d.%d.%d", j>>16&0xff, j>>8&0xff, j&0xff)
	}
	return out
}

// finished is what a WaitRun started before a trial's stimulus returned,
// and when.
type finished struct {
	run engine.RunRecord
	err error
	at  time.Time
}

// waitRun calls WaitRun in the background and sends its result, stamped
// with the time it returned. The watch is set up before waitRun returns a
// moment later; callers start it well before the stimulus.
func waitRun(e *engine.Engine, run string, timeout time.Duration) <-chan finished {
	ch := make(chan finished, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		r, err := e.WaitRun(ctx, run)
		ch <- finished{run: r, err: err, at: time.Now()}
	}()
	return ch
}

// waitFinding blocks until the run has a finding of type typ in the engine.
func waitFinding(b *testing.B, e *engine.Engine, run, typ string, timeout time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	found := make(chan struct{}, 1)
	_, err := e.FollowFindings(ctx, run, func(line []byte) {
		var f struct {
			Type string `json:"_type"`
		}
		if json.Unmarshal(line, &f) == nil && f.Type == typ {
			select {
			case found <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	select {
	case <-found:
	case <-ctx.Done():
		b.Fatalf("run %s: no %s finding within %s", run, typ, timeout)
	}
}

// countFindings counts the run's findings of type typ.
func countFindings(b *testing.B, e *engine.Engine, run, typ string) int {
	b.Helper()
	n := 0
	err := e.ReadFindings(context.Background(), run, func(line []byte) {
		var f struct {
			Type string `json:"_type"`
		}
		if json.Unmarshal(line, &f) == nil && f.Type == typ {
			n++
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// logTime is the time of the first JSON log line of p whose msg is msg and
// whose attributes include attrs (compared as JSON values).
func logTime(b *testing.B, p *enginetest.Proc, msg string, attrs map[string]any) time.Time {
	b.Helper()
	sc := bufio.NewScanner(strings.NewReader(p.Output()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil || l["msg"] != msg {
			continue
		}
		for k, v := range attrs {
			if fmt.Sprint(l[k]) != fmt.Sprint(v) {
				continue lines
			}
		}
		s, _ := l["time"].(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			b.Fatalf("%s: log time %q: %v", p.Describe(), s, err)
		}
		return t
	}
	b.Fatalf("%s: no log line %q with %v:\n%s", p.Describe(), msg, attrs, p.Output())
	return time.Time{}
}

// procStatusMB reads a memory field of /proc/PID/status ("VmRSS",
// "VmHWM") in MiB.
func procStatusMB(b *testing.B, pid int, field string) float64 {
	b.Helper()
	name := "/proc/self/status"
	if pid != 0 {
		name = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			b.Fatalf("%s: %q: %v", name, line, err)
		}
		return kb / 1024
	}
	b.Fatalf("%s: no %s", name, field)
	return 0
}

// cpuTimes are the CPU times (user + system) of a process and of its
// children it has waited for, from /proc/PID/stat (pid 0: this process).
type cpuTimes struct{ self, children time.Duration }

// clockTick is the unit of /proc/PID/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func readCPU(b *testing.B, pid int) cpuTimes {
	b.Helper()
	name := "/proc/self/stat"
	if pid != 0 {
		name = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	// "pid (comm) state ppid ...": utime, stime, cutime, cstime are fields
	// 14 to 17, the 12th to 15th after the command.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		b.Fatalf("%s: %q", name, s)
	}
	var t [4]int64
	for i := range t {
		if t[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			b.Fatalf("%s: %q: %v", name, s, err)
		}
	}
	return cpuTimes{self: time.Duration(t[0]+t[1]) * clockTick, children: time.Duration(t[2]+t[3]) * clockTick}
}

func (c cpuTimes) sub(d cpuTimes) cpuTimes {
	return cpuTimes{self: c.self - d.self, children: c.children - d.children}
}

// perChunkMS is d per chunk, in milliseconds.
func perChunkMS(d time.Duration, chunks int) float64 { return ms(d) / float64(chunks) }

// resetPeakRSS sets this process's VmHWM back to its current RSS (Linux
// 4.0+), so a peak measured afterwards belongs to what follows.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset the peak RSS (%v): it includes everything before", err)
	}
}

// percentile is the nearest-rank percentile p (0 < p <= 100) of ds: with
// 50 samples, p99 is the largest.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// median is the middle of xs (the mean of the two middles when even).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
