package l4

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the balancer's Prometheus metrics (per-backend health comes
// from the lb pool's cdn_lb_* collector, pool="l4").
type metrics struct {
	reg           prometheus.Registerer
	cs            []prometheus.Collector
	flows         *prometheus.CounterVec
	backendFlows  *prometheus.GaugeVec
	bytesUp       prometheus.Counter
	bytesDown     prometheus.Counter
	connectErrors *prometheus.CounterVec
	refused       *prometheus.CounterVec
	idleTimeouts  prometheus.Counter
	evicted       prometheus.Counter
	expired       prometheus.Counter
	moved         prometheus.Counter
	quicRouted    prometheus.Counter
}

func newMetrics(b *Balancer, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reg: reg,
		flows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdn_l4_flows_total",
			Help: "Flows started (TCP connections, UDP flows), by protocol and backend."}, []string{"proto", "backend"}),
		backendFlows: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cdn_l4_backend_flows",
			Help: "Tracked flows per backend."}, []string{"backend"}),
		bytesUp: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdn_l4_bytes_total",
			Help: "Bytes forwarded, by direction.", ConstLabels: prometheus.Labels{"direction": "to_backend"}}),
		bytesDown: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdn_l4_bytes_total",
			Help: "Bytes forwarded, by direction.", ConstLabels: prometheus.Labels{"direction": "to_client"}}),
		connectErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdn_l4_connect_errors_total",
			Help: "Failed connects (TCP) or sockets (UDP) to a backend."}, []string{"backend"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cdn_l4_refused_total",
			Help: "Flows refused, by reason: no_backend, client_limit, conntrack_full."}, []string{"reason"}),
		idleTimeouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdn_l4_tcp_idle_timeouts_total",
			Help: "TCP connections closed by tcp_idle_timeout."}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdn_l4_conntrack_evictions_total",
			Help: "UDP flows evicted because the tracking table was full."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdn_l4_conntrack_expired_total",
			Help: "UDP flows forgotten after udp_idle_timeout."}),
		moved: prometheus.NewCounter(prometheus.CounterOpts{Name: "cdn_l4_flows_moved_total",
			Help: "Tracked UDP flows moved because their backend failed."}),
	}
	m.quicRouted = prometheus.NewCounter(prometheus.CounterOpts{Name: "cdn_l4_quic_cid_routed_total",
		Help: "UDP flows placed by the server ID in a QUIC connection ID rather than by the flow hash."})
	entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cdn_l4_conntrack_entries",
		Help: "Flows in the connection-tracking table."}, func() float64 { return float64(b.tracked.Load()) })
	limit := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cdn_l4_conntrack_limit",
		Help: "The table's bound, conntrack.size."}, func() float64 { return float64(b.cfg.ConntrackSize) })
	draining := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cdn_l4_backends_draining",
		Help: "Backends being drained."}, func() float64 {
		b.mu.Lock()
		defer b.mu.Unlock()
		n := 0
		for _, be := range b.backends {
			if be.draining.Load() {
				n++
			}
		}
		return float64(n)
	})
	m.cs = []prometheus.Collector{m.flows, m.backendFlows, m.bytesUp, m.bytesDown, m.connectErrors,
		m.refused, m.idleTimeouts, m.evicted, m.expired, m.moved, m.quicRouted, entries, limit, draining}
	if reg != nil {
		for i, c := range m.cs {
			if err := reg.Register(c); err != nil {
				for _, r := range m.cs[:i] {
					reg.Unregister(r)
				}
				return nil, fmt.Errorf("l4: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.cs {
		m.reg.Unregister(c)
	}
}

// bind looks up be's metric children once.
func (m *metrics) bind(be *backend) {
	be.tcpFlows = m.flows.WithLabelValues("tcp", be.cfg.Name)
	be.udpFlows = m.flows.WithLabelValues("udp", be.cfg.Name)
	be.gauge = m.backendFlows.WithLabelValues(be.cfg.Name)
	be.connectErrs = m.connectErrors.WithLabelValues(be.cfg.Name)
}
