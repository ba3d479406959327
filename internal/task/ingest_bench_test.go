package task

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sortie-sec/sortie/internal/finding"
	"github.com/sortie-sec/sortie/internal/report"
	"github.com/sortie-sec/sortie/internal/tool"
)

// BenchmarkIngest measures the path every stdout line of a tool takes:
// parse (httpx JSON line) + normalise + stamp (id) + dedupe + write to
// findings.jsonl. One op is one line; each line yields a url and a
// technology finding. Run it as the figure:
//
//	go test -run XXX -bench Ingest -benchtime 1000000x -count 5 ./internal/task/
func BenchmarkIngest(b *testing.B) {
	d, _ := tool.NewRegistry().Lookup("httpx")
	fw, err := report.OpenFindings(filepath.Join(b.TempDir(), "findings.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	scope := finding.Scope{Run: "bench", Source: finding.Source{Tool: "httpx"}}
	now := time.Now()
	written := 0
	lp := &tool.LineParser{Def: d, PC: &tool.ParseContext{}, Emit: func(f finding.Finding) {
		finding.Stamp(f, scope, now)
		if ok, err := fw.Write(f); err != nil {
			b.Fatal(err)
		} else if ok {
			written++
		}
	}}
	prefix := []byte(`{"timestamp":"2026-11-28T15:16:52.306139713Z","port":"8080","url":"http://127.0.0.1:8080/p/`)
	suffix := []byte(`","input":"http://127.0.0.1:8080","title":"About us","scheme":"http","webserver":"nginx/1.18.0","content_type":"text/html","method":"GET","host":"127.0.0.1","host_ip":"127.0.0.1","path":"/p","time":"2.33168ms","a":["127.0.0.1"],"tech":["Nginx:1.18.0"],"words":7,"lines":1,"status_code":200,"content_length":161,"failed":false}`)
	line := make([]byte, 0, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		line = append(strconv.AppendInt(append(line[:0], prefix...), int64(i), 10), suffix...)
		lp.Feed(line)
	}
	if err := fw.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if lp.Stats.Garbage != 0 {
		b.Fatalf("garbage: %v", lp.Stats.FirstError)
	}
	b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "findings/s")
}
