package edge

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus series.
type metrics struct {
	requests        *prometheus.CounterVec   // by protocol, cache result, status class
	bytesSent       *prometheus.CounterVec   // by cache result
	duration        *prometheus.HistogramVec // by cache result
	upstreamLatency *prometheus.HistogramVec // by upstream set
	upstreamErrors  *prometheus.CounterVec   // by upstream set, backend
	collapsed       prometheus.Counter
	purgeRefetch    prometheus.Counter
	resumed         prometheus.Counter
	limitTrips      *prometheus.CounterVec // protective limits that tripped, by limit
	reloads         *prometheus.CounterVec // configuration reloads, by result
	memBytes        prometheus.GaugeFunc
	compressed      *prometheus.CounterVec // responses served compressed, by encoding
	compressIn      *prometheus.CounterVec // bytes compressed, by encoding
	compressOut     *prometheus.CounterVec // compressed bytes produced, by encoding
	byReq           sync.Map               // reqKey → *reqCounters
}

func newMetrics(reg prometheus.Registerer, s *Proxy) *metrics {
	constLabels := prometheus.Labels{"node": s.cfg.Name, "role": string(s.cfg.Role)}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdn_requests_total", Help: "Client requests by protocol, cache result and status class.", ConstLabels: constLabels,
		}, []string{"proto", "cache", "code"}),
		bytesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdn_response_bytes_total", Help: "Response body bytes sent to clients, by cache result.", ConstLabels: constLabels,
		}, []string{"cache"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cdn_request_duration_seconds", Help: "Time to serve a client request, by cache result.", ConstLabels: constLabels,
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"cache"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cdn_upstream_header_seconds", Help: "Time until upstream response headers, by upstream set.", ConstLabels: constLabels,
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"upstream"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdn_upstream_errors_total", Help: "Failed upstream requests (transport errors and broken bodies).", ConstLabels: constLabels,
		}, []string{"upstream", "backend"}),
		collapsed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdn_collapsed_requests_total", Help: "Requests that waited on another request's upstream fetch.", ConstLabels: constLabels,
		}),
		purgeRefetch: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdn_purge_refetch_total", Help: "Shield answers older than a purge applied here, fetched again with no-cache.", ConstLabels: constLabels,
		}),
		resumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdn_upstream_resumed_total", Help: "Bodies resumed from another shield after a shield failed mid-body.", ConstLabels: constLabels,
		}),
		limitTrips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdn_limit_trips_total", Help: "Protective limits that tripped, by limit.", ConstLabels: constLabels,
		}, []string{"limit"}),
	}
	m.reloads = newReloadMetric(reg, constLabels)
	m.compressed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdn_compressed_responses_total", Help: "Responses served from a compressed variant, by encoding.", ConstLabels: constLabels,
	}, []string{"encoding"})
	m.compressIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdn_compression_input_bytes_total", Help: "Bytes compressed into cached variants, by encoding.", ConstLabels: constLabels,
	}, []string{"encoding"})
	m.compressOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdn_compression_output_bytes_total", Help: "Bytes of compressed variants produced, by encoding.", ConstLabels: constLabels,
	}, []string{"encoding"})
	m.memBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cdn_cache_memory_bytes", Help: "Bytes charged to the memory tier.", ConstLabels: constLabels,
	}, func() float64 { return float64(s.mem.Used()) })
	for _, c := range []prometheus.Collector{m.requests, m.bytesSent, m.duration, m.upstreamLatency, m.upstreamErrors, m.collapsed, m.purgeRefetch, m.resumed, m.limitTrips, m.compressed, m.compressIn, m.compressOut, m.memBytes} {
		reg.MustRegister(c)
	}
	return m
}

type reqKey struct {
	proto, result string
	class         int
}

type reqCounters struct {
	requests prometheus.Counter
	bytes    prometheus.Counter
	duration prometheus.Observer
}

// forRequest returns the series for one request's labels, resolving each
// label combination once (WithLabelValues hashes labels on every call).
func (m *metrics) forRequest(proto, result string, class int) *reqCounters {
	k := reqKey{proto, result, class}
	if v, ok := m.byReq.Load(k); ok {
		return v.(*reqCounters)
	}
	rc := &reqCounters{
		requests: m.requests.WithLabelValues(proto, result, strconv.Itoa(class)+"xx"),
		bytes:    m.bytesSent.WithLabelValues(result),
		duration: m.duration.WithLabelValues(result),
	}
	v, _ := m.byReq.LoadOrStore(k, rc)
	return v.(*reqCounters)
}

// observe records one finished request in metrics and the access log.
func (s *Proxy) observe(r *http.Request, w *statusWriter, info *reqInfo, start time.Time) {
	code := w.code
	if code == 0 {
		code = http.StatusOK
	}
	result := info.status
	if result == "" {
		result = "other"
	}
	proto := "h1"
	switch r.ProtoMajor {
	case 2:
		proto = "h2"
	case 3:
		proto = "h3"
	}
	elapsed := s.cfg.Now().Sub(start)
	rc := s.metrics.forRequest(proto, result, code/100)
	rc.requests.Inc()
	rc.bytes.Add(float64(w.bytes))
	rc.duration.Observe(elapsed.Seconds())
	if s.cfg.AccessLog {
		s.log.Info("request",
			"client", r.RemoteAddr, "proto", r.Proto, "method", r.Method, "host", r.Host, "uri", r.RequestURI,
			"status", code, "bytes", w.bytes, "cache", result, "duration_ms", float64(elapsed.Microseconds())/1000,
			"ua", r.UserAgent())
	}
}
