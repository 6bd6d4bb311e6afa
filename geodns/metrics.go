package geodns

import (
	"fmt"
	"sync"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. They always exist; with
// a nil Registerer they are simply not registered.
type metrics struct {
	queries       *prometheus.CounterVec
	geoipFailures prometheus.Counter
	edgeUp        *prometheus.GaugeVec
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
	allDown       prometheus.Counter
	malformed     prometheus.Counter
	dropped       *prometheus.CounterVec
	reloads       *prometheus.CounterVec

	mu      sync.RWMutex
	counter map[queryKey]prometheus.Counter // guarded by mu: resolved label sets
}

type queryKey struct {
	pop   string
	qtype uint16
	rcode int
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "geodns_client_cache_total",
		Help: "Client network PoP ranking cache lookups by result (hit, miss).",
	}, []string{"result"})
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodns_queries_total",
			Help: "DNS queries answered, by chosen PoP (none when no PoP was involved), query type and response code.",
		}, []string{"pop", "qtype", "rcode"}),
		geoipFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "geodns_geoip_lookup_failures_total",
			Help: "GeoIP lookups that returned an error; the client got the default PoPs.",
		}),
		edgeUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "geodns_edge_healthy",
			Help: "1 if the edge passes its health checks, else 0.",
		}, []string{"pop", "edge"}),
		cacheHits:   cache.WithLabelValues("hit"),
		cacheMisses: cache.WithLabelValues("miss"),
		allDown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "geodns_all_edges_down_answers_total",
			Help: "Answers given with every edge of a PoP because no edge anywhere was healthy.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "geodns_malformed_queries_total",
			Help: "Packets that did not parse as DNS messages.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodns_dropped_packets_total",
			Help: "Packets dropped without an answer, by reason (response: QR set; opcode: unassigned opcode; short: shorter than a header; tcp_limit: a TCP connection over the limit of 1024 open ones).",
		}, []string{"reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geodns_reloads_total",
			Help: "Configuration reloads by result (ok, error).",
		}, []string{"result"}),
		counter: map[queryKey]prometheus.Counter{},
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.queries, m.geoipFailures, m.edgeUp, cache, m.allDown, m.malformed, m.dropped, m.reloads} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register geodns metrics: %w", err)
		}
	}
	return m, nil
}

// query counts one answered query. Resolved counters are kept in a map so
// the common case costs a read lock and no allocation.
func (m *metrics) query(pop string, qtype uint16, rcode int) {
	m.counterFor(pop, qtype, rcode).Inc()
}

// queryMemo is query for a caller that answers many queries alike (a UDP
// reader's scratch): the counter last resolved through memo is used again
// without the map and its lock while pop, qtype and rcode stay the same.
func (m *metrics) queryMemo(memo *counterMemo, pop string, qtype uint16, rcode int) {
	if memo.m != m || memo.pop != pop || memo.qtype != qtype || memo.rcode != rcode {
		*memo = counterMemo{m: m, pop: pop, qtype: qtype, rcode: rcode, c: m.counterFor(pop, qtype, rcode)}
	}
	memo.c.Inc()
}

// counterMemo remembers one resolved query counter; see queryMemo.
type counterMemo struct {
	m     *metrics
	pop   string
	qtype uint16
	rcode int
	c     prometheus.Counter
}

func (m *metrics) counterFor(pop string, qtype uint16, rcode int) prometheus.Counter {
	if pop == "" {
		pop = "none"
	}
	k := queryKey{pop: pop, qtype: qtypeBucket(qtype), rcode: rcode}
	m.mu.RLock()
	c, ok := m.counter[k]
	m.mu.RUnlock()
	if !ok {
		c = m.queries.WithLabelValues(pop, qtypeLabel(k.qtype), rcodeLabel(rcode))
		m.mu.Lock()
		m.counter[k] = c
		m.mu.Unlock()
	}
	return c
}

func (m *metrics) setEdge(pop, edge string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.edgeUp.WithLabelValues(pop, edge).Set(v)
}

// labelled reports whether a query type has its own label value; others
// count as OTHER so that a client cannot grow the label set.
func labelled(t uint16) bool {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeTXT, dns.TypeMX,
		dns.TypeNS, dns.TypeSOA, dns.TypeANY, dns.TypeSRV, dns.TypePTR,
		dns.TypeCAA, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeDS, dns.TypeDNSKEY,
		dns.TypeAXFR, dns.TypeIXFR, dns.TypeHINFO:
		return true
	}
	return false
}

func qtypeBucket(t uint16) uint16 {
	if labelled(t) {
		return t
	}
	return 0
}

func qtypeLabel(t uint16) string {
	if t == 0 || !labelled(t) {
		return "OTHER"
	}
	return dns.TypeToString[t]
}

func rcodeLabel(rcode int) string {
	if rcode == dns.RcodeBadVers {
		// 16 is BADVERS in an OPT and BADSIG in a TSIG (RFC 6891 §9,
		// RFC 8945); the table says BADSIG, and we never sign with TSIG.
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return fmt.Sprint(rcode)
}
