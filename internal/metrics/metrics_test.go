package metrics_test

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sortie-sec/sortie/internal/metrics"
)

// expose returns the registry's exposition and checks WriteTo's byte count.
func expose(t *testing.T, r *metrics.Registry) string {
	t.Helper()
	var b bytes.Buffer
	n, err := r.WriteTo(&b)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(b.Len()) {
		t.Errorf("WriteTo returned n=%d, wrote %d bytes", n, b.Len())
	}
	return b.String()
}

func TestExposition(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	// Registered out of name order: output must be sorted anyway.
	g := r.Gauge("sortie_workers_busy", "Workers running a task.").With()
	c := r.Counter("sortie_tasks_total", "Tasks finished, by tool and status.", "tool", "status")
	h := r.Histogram("sortie_task_duration_seconds", "Time a task took.", []float64{0.5, 1, 5}, "tool")
	r.Counter("sortie_unused_total", "Labelled, never used: not exposed.", "tool")

	c.With("nmap", "ok").Add(2)
	c.With("httpx", "ok").Add(1.5)
	c.With("httpx", "failed").Inc()
	g.Set(3)
	g.Inc()
	g.Dec()
	g.Add(-0.5)
	hh := h.With("nmap")
	hh.Observe(0.5) // on a bound: buckets are inclusive
	hh.Observe(0.75)
	hh.Observe(10)

	want := `# HELP sortie_task_duration_seconds Time a task took.
# TYPE sortie_task_duration_seconds histogram
sortie_task_duration_seconds_bucket{tool="nmap",le="0.5"} 1
sortie_task_duration_seconds_bucket{tool="nmap",le="1"} 2
sortie_task_duration_seconds_bucket{tool="nmap",le="5"} 2
sortie_task_duration_seconds_bucket{tool="nmap",le="+Inf"} 3
sortie_task_duration_seconds_sum{tool="nmap"} 11.25
sortie_task_duration_seconds_count{tool="nmap"} 3
# HELP sortie_tasks_total Tasks finished, by tool and status.
# TYPE sortie_tasks_total counter
sortie_tasks_total{tool="httpx",status="failed"} 1
sortie_tasks_total{tool="httpx",status="ok"} 1.5
sortie_tasks_total{tool="nmap",status="ok"} 2
# HELP sortie_workers_busy Workers running a task.
# TYPE sortie_workers_busy gauge
sortie_workers_busy 2.5
`
	if got := expose(t, r); got != want {
		t.Errorf("exposition mismatch\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestUnlabelledMetricsStartAtZero(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	r.Counter("c_total", "")
	r.Histogram("h_seconds", "", []float64{1, math.Inf(1)}) // a trailing +Inf is not doubled

	want := `# TYPE c_total counter
c_total 0
# TYPE h_seconds histogram
h_seconds_bucket{le="1"} 0
h_seconds_bucket{le="+Inf"} 0
h_seconds_sum 0
h_seconds_count 0
`
	if got := expose(t, r); got != want {
		t.Errorf("exposition mismatch\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestDefaultBuckets(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	r.Histogram("d_seconds", "", nil)
	got := strings.Count(expose(t, r), "d_seconds_bucket{")
	if want := len(metrics.DefaultDurationBuckets) + 1; got != want {
		t.Errorf("nil buckets gave %d bucket lines, want %d", got, want)
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	r.Counter("esc_total", "Line one\nback\\slash \"quoted\"", "path").
		With("a\\b\"c\nd").Inc()

	// HELP escapes only backslash and newline; label values also quotes.
	want := `# HELP esc_total Line one\nback\\slash "quoted"
# TYPE esc_total counter
esc_total{path="a\\b\"c\nd"} 1
`
	if got := expose(t, r); got != want {
		t.Errorf("exposition mismatch\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestFloatFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{0.1, "0.1"},
		{-2.5, "-2.5"},
		{1e6, "1e+06"},
		{123456, "123456"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
		{math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			r := metrics.NewRegistry()
			r.Gauge("g", "").With().Set(tt.v)
			want := "# TYPE g gauge\ng " + tt.want + "\n"
			if got := expose(t, r); got != want {
				t.Errorf("Set(%v): got %q, want %q", tt.v, got, want)
			}
		})
	}
}

func TestLabelValuesDoNotCollide(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	c := r.Counter("c_total", "", "a", "b")
	// Each pair would share a key if values were simply concatenated, or
	// joined with a separator that may occur in a value.
	children := [][2]string{{"x", ""}, {"", "x"}, {"a:b", ""}, {"a", "b:"}, {"a\x00b", ""}, {"a", "\x00b"}}
	for i, lv := range children {
		c.With(lv[0], lv[1]).Add(float64(i + 1))
	}
	for i, lv := range children {
		if got, want := r.Value("c_total", lv[0], lv[1]), float64(i+1); got != want {
			t.Errorf("Value(%q, %q) = %v, want %v", lv[0], lv[1], got, want)
		}
	}
}

func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 16, 1000
	r := metrics.NewRegistry()
	c := r.Counter("c_total", "", "tool")
	g := r.Gauge("g", "", "tool")
	h := r.Histogram("h_seconds", "", []float64{1}, "tool")

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				// With on every call: concurrent first use must create
				// one child, not one per goroutine.
				c.With("nmap").Inc()
				c.With("nmap").Add(0.5)
				g.With("nmap").Inc()
				g.With("nmap").Dec()
				h.With("nmap").Observe(2)
			}
		})
	}
	// Scrape while writers run, so -race sees reads against writes.
	wg.Go(func() {
		for range 50 {
			if _, err := r.WriteTo(io.Discard); err != nil {
				t.Errorf("WriteTo: %v", err)
			}
			r.Value("c_total", "nmap")
		}
	})
	wg.Wait()

	if got, want := r.Value("c_total", "nmap"), 1.5*workers*perWorker; got != want {
		t.Errorf("counter = %v, want %v", got, want)
	}
	if got := r.Value("g", "nmap"); got != 0 {
		t.Errorf("gauge = %v, want 0", got)
	}
	if got, want := r.Value("h_seconds", "nmap"), float64(workers*perWorker); got != want {
		t.Errorf("histogram count = %v, want %v", got, want)
	}
	out := expose(t, r)
	if !strings.Contains(out, `h_seconds_bucket{tool="nmap",le="1"} 0`+"\n") ||
		!strings.Contains(out, `h_seconds_bucket{tool="nmap",le="+Inf"} 16000`+"\n") ||
		!strings.Contains(out, `h_seconds_sum{tool="nmap"} 32000`+"\n") {
		t.Errorf("histogram samples wrong:\n%s", out)
	}
}

func TestValue(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	c := r.Counter("c_total", "", "tool")
	c.With("nmap").Add(4)
	r.Gauge("g", "").With().Set(-3)
	h := r.Histogram("h_seconds", "", []float64{1})
	h.With().Observe(0.5)
	h.With().Observe(5)

	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"c_total", []string{"nmap"}, 4},
		{"c_total", []string{"httpx"}, 0},
		{"c_total", nil, 0},                   // wrong label count: absent, no panic
		{"c_total", []string{"nmap", "x"}, 0}, // likewise
		{"g", nil, -3},
		{"h_seconds", nil, 2},
		{"missing_total", nil, 0},
	}
	for _, tt := range tests {
		if got := r.Value(tt.name, tt.labels...); got != tt.want {
			t.Errorf("Value(%q, %q) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	// Value must not create the children it was asked about.
	if out := expose(t, r); strings.Contains(out, "httpx") {
		t.Errorf("Value created a child:\n%s", out)
	}
}

// mustPanic reports whether f panics.
func mustPanic(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

func TestPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func(r *metrics.Registry)
	}{
		{"empty name", func(r *metrics.Registry) { r.Counter("", "") }},
		{"name starts with digit", func(r *metrics.Registry) { r.Counter("1abc", "") }},
		{"name with dash", func(r *metrics.Registry) { r.Gauge("a-b", "") }},
		{"name with space", func(r *metrics.Registry) { r.Gauge("a b", "") }},
		{"name non-ASCII", func(r *metrics.Registry) { r.Histogram("dur_é", "", nil) }},
		{"label with dash", func(r *metrics.Registry) { r.Counter("c", "", "bad-label") }},
		{"label starts with digit", func(r *metrics.Registry) { r.Counter("c", "", "1x") }},
		{"label with colon", func(r *metrics.Registry) { r.Counter("c", "", "a:b") }},
		{"label reserved prefix", func(r *metrics.Registry) { r.Counter("c", "", "__name") }},
		{"empty label", func(r *metrics.Registry) { r.Counter("c", "", "") }},
		{"duplicate label", func(r *metrics.Registry) { r.Counter("c", "", "a", "b", "a") }},
		{"histogram le label", func(r *metrics.Registry) { r.Histogram("h", "", nil, "le") }},
		{"duplicate registration", func(r *metrics.Registry) {
			r.Counter("c_total", "")
			r.Counter("c_total", "other help")
		}},
		{"same name, other type", func(r *metrics.Registry) {
			r.Counter("x", "")
			r.Gauge("x", "")
		}},
		{"counter clashes with histogram sample", func(r *metrics.Registry) {
			r.Histogram("h", "", nil)
			r.Counter("h_count", "")
		}},
		{"histogram clashes with gauge", func(r *metrics.Registry) {
			r.Gauge("h_sum", "")
			r.Histogram("h", "", nil)
		}},
		{"too few label values", func(r *metrics.Registry) { r.Counter("c", "", "a", "b").With("x") }},
		{"too many label values", func(r *metrics.Registry) { r.Gauge("g", "", "a").With("x", "y") }},
		{"label values on unlabelled", func(r *metrics.Registry) { r.Histogram("h", "", nil).With("x") }},
		{"invalid UTF-8 label value", func(r *metrics.Registry) { r.Counter("c", "", "a").With("\xff") }},
		{"counter add negative", func(r *metrics.Registry) { r.Counter("c", "").With().Add(-1) }},
		{"counter add NaN", func(r *metrics.Registry) { r.Counter("c", "").With().Add(math.NaN()) }},
		{"buckets decreasing", func(r *metrics.Registry) { r.Histogram("h", "", []float64{1, 0.5}) }},
		{"buckets repeated", func(r *metrics.Registry) { r.Histogram("h", "", []float64{1, 1}) }},
		{"bucket NaN", func(r *metrics.Registry) { r.Histogram("h", "", []float64{1, math.NaN()}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !mustPanic(func() { tt.f(metrics.NewRegistry()) }) {
				t.Error("did not panic")
			}
		})
	}
}

// TestNoPanics guards TestPanics from passing on over-eager validation.
func TestNoPanics(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	f := func() {
		r.Counter("sortie:tasks_total", "", "_tool", "Status2").With("", "ünïcode \"ok\"").Add(0)
		r.Gauge(":g", "", "a").With("x").Add(-5)
		r.Histogram("_h", "", []float64{-1, 0, 1}, "lf").With("y").Observe(math.Inf(-1))
		r.Gauge("h", "") // a family name alone does not reserve its prefix
		r.Counter("_h_total", "")
	}
	if mustPanic(f) {
		t.Error("valid registrations panicked")
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	r.Counter("c_total", "Help.", "tool").With("nmap").Add(7)
	h := r.Handler()

	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: status %d, want 200", method, rec.Code)
		}
		if got, want := rec.Header().Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
			t.Errorf("%s: Content-Type %q, want %q", method, got, want)
		}
		if method == http.MethodGet {
			if got, want := rec.Body.String(), expose(t, r); got != want {
				t.Errorf("GET body %q, want %q", got, want)
			}
		}
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", rec.Code)
	}
}

func TestHandlerOverHTTP(t *testing.T) {
	t.Parallel()
	r := metrics.NewRegistry()
	r.Gauge("up", "").With().Set(1)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Header.Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
		t.Errorf("Content-Type %q, want %q", got, want)
	}
	if got, want := string(body), "# TYPE up gauge\nup 1\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}
