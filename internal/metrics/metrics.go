// Package metrics is a small Prometheus instrumentation library for sortie
// workers and servers, built on the standard library only.
//
// It exists instead of prometheus/client_golang to keep the resident memory
// of idle workers low: it supports just counters, gauges and histograms with
// fixed label sets, and writes the text exposition format 0.0.4.
//
// Misuse that is a programming error (invalid or duplicate names, the wrong
// number of label values, decrementing a counter) panics, like in
// client_golang, so it is caught by the first test that reaches it.
package metrics

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// contentType is the media type of the text exposition format 0.0.4.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// DefaultDurationBuckets are histogram upper bounds, in seconds, that cover
// everything from a fast HTTP request to an hour-long scan.
var DefaultDurationBuckets = []float64{
	.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
}

// Registry holds a set of metrics and writes them in the Prometheus text
// format. The zero value is not usable; create one with NewRegistry.
// A Registry is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]family
	// taken holds every family and sample name in use, so a counter named
	// "x_count" cannot silently mix its samples into histogram "x".
	taken map[string]bool
}

// family is one registered metric with all its labelled children.
type family interface {
	desc() *desc
	// write appends the samples of all children, sorted by label values.
	write(b *bytes.Buffer)
	// value reports the sample for labelValues; ok is false if absent.
	value(labelValues []string) (v float64, ok bool)
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{families: map[string]family{}, taken: map[string]bool{}}
}

// Counter registers a counter, a value that only goes up, and returns the
// vector of its children, one per combination of label values. It panics if
// name or a label name is invalid or if name is already registered.
func (r *Registry) Counter(name, help string, labelNames ...string) *CounterVec {
	d := newDesc(name, help, "counter", labelNames)
	v := &CounterVec{vec: newVec(d, func() *Counter { return &Counter{} })}
	r.register(v, name)
	return v
}

// Gauge registers a gauge, a value that can go up and down, and returns the
// vector of its children. It panics like Counter.
func (r *Registry) Gauge(name, help string, labelNames ...string) *GaugeVec {
	d := newDesc(name, help, "gauge", labelNames)
	v := &GaugeVec{vec: newVec(d, func() *Gauge { return &Gauge{} })}
	r.register(v, name)
	return v
}

// Histogram registers a histogram with the given bucket upper bounds and
// returns the vector of its children. The +Inf bucket is always added; nil
// or empty buckets mean DefaultDurationBuckets. It panics like Counter, and
// also if the buckets are not strictly increasing or a label is named "le".
func (r *Registry) Histogram(name, help string, buckets []float64, labelNames ...string) *HistogramVec {
	d := newDesc(name, help, "histogram", labelNames)
	if slices.Contains(labelNames, "le") {
		panic(fmt.Sprintf("metrics: histogram %s: label name \"le\" is reserved for buckets", name))
	}
	upper := checkBuckets(name, buckets)
	v := &HistogramVec{vec: newVec(d, func() *Histogram {
		return &Histogram{upper: upper, counts: make([]uint64, len(upper)+1)}
	})}
	r.register(v, name, name+"_bucket", name+"_sum", name+"_count")
	return v
}

// register adds f under the given family and sample names.
func (r *Registry) register(f family, names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		if r.taken[n] {
			panic(fmt.Sprintf("metrics: %s: name %q already registered", names[0], n))
		}
	}
	for _, n := range names {
		r.taken[n] = true
	}
	r.families[names[0]] = f
}

// WriteTo writes all metrics to w in the Prometheus text exposition format
// 0.0.4, sorted by metric name and then by label values. Metrics that have
// labels but no children yet are left out. It implements io.WriterTo.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(r.render())
	return int64(n), err
}

// render returns the whole exposition. It is built in memory so that a slow
// scraper never holds any lock.
func (r *Registry) render() []byte {
	r.mu.Lock()
	fams := make([]family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.desc().name, b.desc().name) })

	var b bytes.Buffer
	for _, f := range fams {
		f.write(&b)
	}
	return b.Bytes()
}

// Handler returns an HTTP handler that serves the metrics to GET and HEAD
// requests, for mounting at /metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body := r.render()
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body) // a failed write means the client went away
	})
}

// Value returns the current value of the counter or gauge sample with the
// given label values, or the observation count of a histogram. It returns 0
// if there is no such metric or sample, without creating one. It is meant
// for tests.
func (r *Registry) Value(name string, labelValues ...string) float64 {
	r.mu.Lock()
	f := r.families[name]
	r.mu.Unlock()
	if f == nil {
		return 0
	}
	v, _ := f.value(labelValues)
	return v
}

// CounterVec is a registered counter; With selects one of its children.
type CounterVec struct{ vec *vec[Counter] }

// With returns the counter for the given label values, in the order the
// label names were registered, creating it at 0 on first use. It panics if
// the number of values differs from the number of label names.
func (v *CounterVec) With(labelValues ...string) *Counter { return v.vec.with(labelValues) }

func (v *CounterVec) desc() *desc { return v.vec.d }

func (v *CounterVec) write(b *bytes.Buffer) {
	v.vec.write(b, func(b *bytes.Buffer, values []string, c *Counter) {
		writeSample(b, v.vec.d.name, v.vec.d.labelNames, values, "", "", c.get())
	})
}

func (v *CounterVec) value(values []string) (float64, bool) {
	c, ok := v.vec.lookup(values)
	if !ok {
		return 0, false
	}
	return c.get(), true
}

// Counter is a single counter sample. It is safe for concurrent use.
type Counter struct{ f atomicFloat }

// Inc adds 1 to the counter.
func (c *Counter) Inc() { c.f.add(1) }

// Add adds v to the counter. It panics if v is negative or NaN, since either
// would break rate() for every later scrape.
func (c *Counter) Add(v float64) {
	if v < 0 || math.IsNaN(v) {
		panic(fmt.Sprintf("metrics: counter cannot add %v", v))
	}
	c.f.add(v)
}

func (c *Counter) get() float64 { return c.f.load() }

// GaugeVec is a registered gauge; With selects one of its children.
type GaugeVec struct{ vec *vec[Gauge] }

// With returns the gauge for the given label values, creating it at 0 on
// first use. It panics if the number of values is wrong.
func (v *GaugeVec) With(labelValues ...string) *Gauge { return v.vec.with(labelValues) }

func (v *GaugeVec) desc() *desc { return v.vec.d }

func (v *GaugeVec) write(b *bytes.Buffer) {
	v.vec.write(b, func(b *bytes.Buffer, values []string, g *Gauge) {
		writeSample(b, v.vec.d.name, v.vec.d.labelNames, values, "", "", g.f.load())
	})
}

func (v *GaugeVec) value(values []string) (float64, bool) {
	g, ok := v.vec.lookup(values)
	if !ok {
		return 0, false
	}
	return g.f.load(), true
}

// Gauge is a single gauge sample. It is safe for concurrent use.
type Gauge struct{ f atomicFloat }

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.f.store(v) }

// Inc adds 1 to the gauge.
func (g *Gauge) Inc() { g.f.add(1) }

// Dec subtracts 1 from the gauge.
func (g *Gauge) Dec() { g.f.add(-1) }

// Add adds v, which may be negative, to the gauge.
func (g *Gauge) Add(v float64) { g.f.add(v) }

// HistogramVec is a registered histogram; With selects one of its children.
type HistogramVec struct{ vec *vec[Histogram] }

// With returns the histogram for the given label values, creating it empty
// on first use. It panics if the number of values is wrong.
func (v *HistogramVec) With(labelValues ...string) *Histogram { return v.vec.with(labelValues) }

func (v *HistogramVec) desc() *desc { return v.vec.d }

func (v *HistogramVec) write(b *bytes.Buffer) {
	d := v.vec.d
	v.vec.write(b, func(b *bytes.Buffer, values []string, h *Histogram) {
		counts, sum, count := h.snapshot()
		var cum uint64
		for i, c := range counts {
			cum += c
			le := "+Inf"
			if i < len(h.upper) {
				le = formatFloat(h.upper[i])
			}
			writeSample(b, d.name+"_bucket", d.labelNames, values, "le", le, float64(cum))
		}
		writeSample(b, d.name+"_sum", d.labelNames, values, "", "", sum)
		writeSample(b, d.name+"_count", d.labelNames, values, "", "", float64(count))
	})
}

func (v *HistogramVec) value(values []string) (float64, bool) {
	h, ok := v.vec.lookup(values)
	if !ok {
		return 0, false
	}
	_, _, count := h.snapshot()
	return float64(count), true
}

// Histogram is a single histogram. It is safe for concurrent use.
type Histogram struct {
	upper []float64 // bucket upper bounds without +Inf; shared, read-only

	// A mutex rather than atomics keeps buckets, sum and count consistent
	// with each other in every scrape.
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last one is +Inf
	sum    float64
	count  uint64
}

// Observe records one observation of v.
func (h *Histogram) Observe(v float64) {
	// Buckets are inclusive upper bounds: the first bound >= v. NaN matches
	// none and lands in +Inf, as in client_golang.
	i := sort.SearchFloat64s(h.upper, v)
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.count++
	h.mu.Unlock()
}

func (h *Histogram) snapshot() (counts []uint64, sum float64, count uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.counts), h.sum, h.count
}

// desc describes a registered metric family.
type desc struct {
	name, help, typ string
	labelNames      []string
}

func newDesc(name, help, typ string, labelNames []string) *desc {
	if !validName(name, true) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for i, l := range labelNames {
		if !validName(l, false) || strings.HasPrefix(l, "__") {
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", name, l))
		}
		if slices.Contains(labelNames[:i], l) {
			panic(fmt.Sprintf("metrics: %s: duplicate label name %q", name, l))
		}
	}
	return &desc{name: name, help: help, typ: typ, labelNames: slices.Clone(labelNames)}
}

// validName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]* for metric
// names, or [a-zA-Z_][a-zA-Z0-9_]* for label names (colon == false).
func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' ||
			colon && c == ':' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// checkBuckets returns a private copy of the bucket bounds without a final
// +Inf, which is always exposed anyway.
func checkBuckets(name string, buckets []float64) []float64 {
	if len(buckets) == 0 {
		buckets = DefaultDurationBuckets
	}
	upper := slices.Clone(buckets)
	if math.IsInf(upper[len(upper)-1], 1) {
		upper = upper[:len(upper)-1]
	}
	for i, u := range upper {
		if math.IsNaN(u) || math.IsInf(u, 1) || i > 0 && !(u > upper[i-1]) {
			panic(fmt.Sprintf("metrics: histogram %s: buckets must be strictly increasing, got %v", name, buckets))
		}
	}
	return upper
}

// vec holds the children of one metric family, keyed by label values.
type vec[M any] struct {
	d         *desc
	newMetric func() *M

	mu       sync.RWMutex
	children map[string]*child[M]
}

type child[M any] struct {
	values []string
	m      *M
}

func newVec[M any](d *desc, newMetric func() *M) *vec[M] {
	v := &vec[M]{d: d, newMetric: newMetric, children: map[string]*child[M]{}}
	if len(d.labelNames) == 0 {
		// An unlabelled metric is exposed from the start, at its zero
		// value, so that dashboards and alerts see it before first use.
		v.with(nil)
	}
	return v
}

func (v *vec[M]) with(values []string) *M {
	if len(values) != len(v.d.labelNames) {
		panic(fmt.Sprintf("metrics: %s: got %d label values %q for label names %q",
			v.d.name, len(values), values, v.d.labelNames))
	}
	key := labelKey(values)
	v.mu.RLock()
	c := v.children[key]
	v.mu.RUnlock()
	if c != nil {
		return c.m
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.children[key]; c != nil {
		return c.m // created by someone else in the meantime
	}
	for _, s := range values {
		if !utf8.ValidString(s) {
			panic(fmt.Sprintf("metrics: %s: label value %q is not valid UTF-8", v.d.name, s))
		}
	}
	c = &child[M]{values: slices.Clone(values), m: v.newMetric()}
	v.children[key] = c
	return c.m
}

func (v *vec[M]) lookup(values []string) (*M, bool) {
	if len(values) != len(v.d.labelNames) {
		return nil, false
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	c := v.children[labelKey(values)]
	if c == nil {
		return nil, false
	}
	return c.m, true
}

// write writes the header and, in label value order, the samples of every
// child with sample. A family with no children writes nothing.
func (v *vec[M]) write(b *bytes.Buffer, sample func(*bytes.Buffer, []string, *M)) {
	v.mu.RLock()
	cs := make([]*child[M], 0, len(v.children))
	for _, c := range v.children {
		cs = append(cs, c)
	}
	v.mu.RUnlock()
	if len(cs) == 0 {
		return
	}
	slices.SortFunc(cs, func(a, b *child[M]) int { return slices.Compare(a.values, b.values) })

	if v.d.help != "" {
		fmt.Fprintf(b, "# HELP %s %s\n", v.d.name, helpEscaper.Replace(v.d.help))
	}
	fmt.Fprintf(b, "# TYPE %s %s\n", v.d.name, v.d.typ)
	for _, c := range cs {
		sample(b, c.values, c.m)
	}
}

// labelKey joins label values unambiguously: each is length-prefixed, so
// no value can contain a separator that fakes a boundary.
func labelKey(values []string) string {
	var b strings.Builder
	for _, s := range values {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// writeSample writes one sample line. extraName, if not empty, is a label
// appended after the others (the histogram "le").
func writeSample(b *bytes.Buffer, name string, labelNames, values []string, extraName, extraValue string, v float64) {
	b.WriteString(name)
	if len(labelNames) > 0 || extraName != "" {
		b.WriteByte('{')
		for i, l := range labelNames {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l)
			b.WriteString(`="`)
			_, _ = valueEscaper.WriteString(b, values[i]) // bytes.Buffer does not fail
			b.WriteByte('"')
		}
		if extraName != "" {
			if len(labelNames) > 0 {
				b.WriteByte(',')
			}
			b.WriteString(extraName)
			b.WriteString(`="`)
			_, _ = valueEscaper.WriteString(b, extraValue)
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatFloat(v))
	b.WriteByte('\n')
}

// formatFloat formats v like Prometheus does; strconv already spells the
// special values "+Inf", "-Inf" and "NaN" as the format requires.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// atomicFloat is a float64 updated with compare-and-swap, so hot counters
// need no mutex.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) load() float64   { return math.Float64frombits(f.bits.Load()) }
func (f *atomicFloat) store(v float64) { f.bits.Store(math.Float64bits(v)) }

func (f *atomicFloat) add(v float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}
