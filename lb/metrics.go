package lb

import "github.com/prometheus/client_golang/prometheus"

// poolMetrics exports a pool's live backend state at scrape time, reading
// the same atomics the policies read, so nothing has to keep gauges in
// step. The pool is a constant label, so pools of different names share
// one registry.
type poolMetrics struct {
	p *Pool

	healthy, available, inflight, ejected *prometheus.Desc
	ejections, probes, probeFailures      *prometheus.Desc
}

func newPoolMetrics(p *Pool) *poolMetrics {
	labels := prometheus.Labels{"pool": p.cfg.Name}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("cdn_lb_"+name, help, []string{"backend"}, labels)
	}
	return &poolMetrics{
		p:             p,
		healthy:       d("backend_healthy", "1 if the backend passes active health checks, else 0."),
		available:     d("backend_available", "1 if policies may pick the backend (healthy, not ejected, below max_conns), else 0."),
		inflight:      d("backend_inflight", "Requests in flight to the backend."),
		ejected:       d("backend_ejected", "1 while the backend is ejected by passive health checks, else 0."),
		ejections:     d("ejections_total", "Passive-health ejections of the backend."),
		probes:        d("health_probes_total", "Active health probes sent to the backend."),
		probeFailures: d("health_probe_failures_total", "Active health probes of the backend that failed."),
	}
}

// Describe implements prometheus.Collector.
func (m *poolMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.healthy, m.available, m.inflight, m.ejected, m.ejections, m.probes, m.probeFailures} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *poolMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, b := range m.p.state.Load().backends {
		id := b.ID()
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, id)
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), id)
		}
		gauge(m.healthy, bool01(b.Healthy()))
		gauge(m.available, bool01(b.Available()))
		gauge(m.inflight, float64(b.Inflight()))
		gauge(m.ejected, bool01(b.Ejected()))
		counter(m.ejections, b.Ejections())
		counter(m.probes, b.probes.Load())
		counter(m.probeFailures, b.probeFails.Load())
	}
}

func bool01(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
