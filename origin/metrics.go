package origin

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the origin's Prometheus collectors. A nil *metrics records
// nothing.
type metrics struct {
	requests *prometheus.CounterVec
	bytes    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "origin_requests_total",
			Help: "Requests answered by the test origin (admin and health endpoints excluded), by status code; code 0 means the client went away first.",
		}, []string{"code"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "origin_response_body_bytes_total",
			Help: "Response body bytes written by the test origin.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.bytes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register origin metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(res result) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(strconv.Itoa(res.status)).Inc()
	if res.bytes > 0 {
		m.bytes.Add(float64(res.bytes))
	}
}
