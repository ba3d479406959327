package worker

import (
	"errors"
	"time"

	"github.com/sortie-sec/sortie/internal/engine"
	"github.com/sortie-sec/sortie/internal/metrics"
)

// workerMetrics are the worker's Prometheus metrics.
type workerMetrics struct {
	chunks       *metrics.CounterVec
	duration     *metrics.HistogramVec
	renewals     *metrics.CounterVec
	redeliveries *metrics.CounterVec
	abandoned    *metrics.CounterVec
	rejected     *metrics.CounterVec
	evictions    *metrics.CounterVec
	findings     *metrics.CounterVec
}

func newMetrics(r *metrics.Registry) *workerMetrics {
	return &workerMetrics{
		chunks:       r.Counter("sortie_chunks_total", "Chunks finished by this worker, by outcome.", "pool", "outcome"),
		duration:     r.Histogram("sortie_chunk_duration_seconds", "Time from claim to result of a chunk.", metrics.DefaultDurationBuckets, "pool"),
		renewals:     r.Counter("sortie_lease_renewals_total", "Lease renewals (heartbeats) sent.", "pool"),
		redeliveries: r.Counter("sortie_redeliveries_total", "Chunk messages received more than once.", "pool"),
		abandoned:    r.Counter("sortie_chunks_abandoned_total", "Chunks dead-lettered: invalid, or out of attempts.", "pool"),
		rejected:     r.Counter("sortie_chunks_rejected_total", "Chunk messages dead-lettered unrun and not counted in any run: unsigned, untrusted or tampered, or continuations no chunk requeued.", "pool"),
		evictions:    r.Counter("sortie_evictions_total", "Running chunks ended by an eviction, by policy applied.", "pool", "policy"),
		findings:     r.Counter("sortie_findings_ingested_total", "Findings published by this worker.", "pool"),
	}
}

func (m *workerMetrics) observe(pool string, o engine.Outcome, d time.Duration, cause error, policy Eviction) {
	m.chunks.With(pool, string(o.State)).Inc()
	m.duration.With(pool).Observe(d.Seconds())
	m.findings.With(pool).Add(float64(o.Findings))
	if errors.Is(cause, ErrEvicted) && o.Reason != "" && o.State == engine.ChunkPartial {
		p := string(Finalize)
		if len(o.Remainder) > 0 {
			p = string(policy)
		}
		m.evictions.With(pool, p).Inc()
	}
}
