package purge

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets cover loopback (sub-millisecond) to a slow intercontinental
// bus (seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .15, .25, .5, 1, 2.5, 5, 10}

// reuse registers c with reg and returns it, or returns the collector
// registered before with the same description (two APIs, or a restarted
// node, of one process sharing a registry). A nil reg registers nothing.
// The first error is kept in *errp and later calls do nothing.
func reuse[T prometheus.Collector](reg prometheus.Registerer, c T, errp *error) T {
	if reg == nil || *errp != nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		*errp = fmt.Errorf("register purge metrics: %w", err)
	}
	return c
}

// apiMetrics are the admin API's series.
type apiMetrics struct {
	requests      *prometheus.CounterVec // by HTTP status code
	propagation   prometheus.Histogram   // publish → one node's confirmation
	completion    prometheus.Histogram   // publish → every expected node confirmed
	confirmations *prometheus.CounterVec // by result: ok, failed
	missing       prometheus.Counter     // expected nodes not answering in time
}

func newAPIMetrics(reg prometheus.Registerer, constLabels prometheus.Labels) (*apiMetrics, error) {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdn_purge_api_requests_total", Help: "Purge API requests by HTTP status code.", ConstLabels: constLabels,
		}, []string{"code"}),
		propagation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cdn_purge_propagation_seconds", Help: "Time from publishing a purge to one node's confirmation that it applied it.", ConstLabels: constLabels,
			Buckets: latencyBuckets,
		}),
		completion: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cdn_purge_completion_seconds", Help: "Time from publishing a purge to the confirmation of the last expected node.", ConstLabels: constLabels,
			Buckets: latencyBuckets,
		}),
		confirmations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdn_purge_confirmations_total", Help: "Node confirmations received, by result (ok, failed).", ConstLabels: constLabels,
		}, []string{"result"}),
		missing: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdn_purge_missing_total", Help: "Announced nodes that did not confirm a purge before the API answered.", ConstLabels: constLabels,
		}),
	}
	var err error
	m.requests = reuse(reg, m.requests, &err)
	m.propagation = reuse(reg, m.propagation, &err)
	m.completion = reuse(reg, m.completion, &err)
	m.confirmations = reuse(reg, m.confirmations, &err)
	m.missing = reuse(reg, m.missing, &err)
	return m, err
}

// nodeMetrics are a node's series, labelled with its name.
type nodeMetrics struct {
	applied  prometheus.Counter
	failures prometheus.Counter
	invalid  prometheus.Counter
	delay    prometheus.Histogram // event time → applied here
	synced   prometheus.Gauge
}

func newNodeMetrics(reg prometheus.Registerer, node string) (*nodeMetrics, error) {
	constLabels := prometheus.Labels{"node": node}
	m := &nodeMetrics{
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdn_purge_events_applied_total", Help: "Purge events applied by this node.", ConstLabels: constLabels,
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdn_purge_apply_failures_total", Help: "Attempts to apply a purge event that failed (each is retried).", ConstLabels: constLabels,
		}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdn_purge_events_invalid_total", Help: "Undecodable purge events dropped from the log.", ConstLabels: constLabels,
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cdn_purge_apply_delay_seconds", Help: "Time from a purge's time to its application on this node (includes catching up after downtime).", ConstLabels: constLabels,
			Buckets: append(append([]float64{}, latencyBuckets...), 60, 600, 3600),
		}),
		synced: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdn_purge_synced", Help: "1 when this node has applied every purge in the log, 0 while catching up or cut off from the bus.", ConstLabels: constLabels,
		}),
	}
	var err error
	m.applied = reuse(reg, m.applied, &err)
	m.failures = reuse(reg, m.failures, &err)
	m.invalid = reuse(reg, m.invalid, &err)
	m.delay = reuse(reg, m.delay, &err)
	m.synced = reuse(reg, m.synced, &err)
	return m, err
}
