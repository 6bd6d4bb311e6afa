package fwdproxy

import "github.com/prometheus/client_golang/prometheus"

// metrics are the proxy's Prometheus metrics (see README.md).
type metrics struct {
	requests       *prometheus.CounterVec
	responses      *prometheus.CounterVec
	denied         *prometheus.CounterVec
	limits         *prometheus.CounterVec
	cacheResults   *prometheus.CounterVec
	hits           prometheus.Counter // cacheResults' children, resolved once
	misses         prometheus.Counter
	passes         prometheus.Counter
	get, connect   prometheus.Counter // requests' most common children
	authFailures   prometheus.Counter
	upstreamErrors prometheus.Counter
	tunnelBytes    *prometheus.CounterVec
	tunnelsTotal   prometheus.Counter
	conns          prometheus.Gauge
	reloads        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, p *Proxy) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fwdproxy_requests_total", Help: "Requests and CONNECTs received, by method.",
		}, []string{"method"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fwdproxy_refusals_total", Help: "Requests the proxy answered itself (errors, denials, PAC), by status class.",
		}, []string{"class"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fwdproxy_denied_total", Help: "Requests denied: by an access rule (rule) or by the destination address check after DNS (address).",
		}, []string{"by"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fwdproxy_limit_hits_total", Help: "Times a protective limit tripped, by limit.",
		}, []string{"limit"}),
		cacheResults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fwdproxy_cache_total", Help: "Absolute-form requests by cache result: hit, miss, revalidated, pass; collapsed counts the hits that waited for another request's fetch.",
		}, []string{"result"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fwdproxy_auth_failures_total", Help: "Proxy-Authorization credentials refused.",
		}),
		upstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fwdproxy_upstream_errors_total", Help: "Destinations that could not be reached or failed mid-request.",
		}),
		tunnelBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fwdproxy_tunnel_bytes_total", Help: "Bytes carried by CONNECT tunnels, by direction (up: client to server).",
		}, []string{"direction"}),
		tunnelsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fwdproxy_tunnels_total", Help: "CONNECT tunnels established.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fwdproxy_client_connections", Help: "Open client connections.",
		}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fwdproxy_rule_reloads_total", Help: "Access rule sets loaded.",
		}),
	}
	m.hits = m.cacheResults.WithLabelValues("hit")
	m.misses = m.cacheResults.WithLabelValues("miss")
	m.passes = m.cacheResults.WithLabelValues("pass")
	m.get = m.requests.WithLabelValues("GET")
	m.connect = m.requests.WithLabelValues("CONNECT")
	if reg != nil {
		reg.MustRegister(m.requests, m.responses, m.denied, m.limits, m.cacheResults, m.authFailures,
			m.upstreamErrors, m.tunnelBytes, m.tunnelsTotal, m.conns, m.reloads,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "fwdproxy_tunnels_open", Help: "Open CONNECT tunnels.",
			}, func() float64 { return float64(p.tunnels.Load()) }))
	}
	return m
}
