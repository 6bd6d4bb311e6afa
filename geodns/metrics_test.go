package geodns

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestMetrics(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(t, simPlaces...)
	reg := prometheus.NewRegistry()
	s, err := New(cfg, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(name string, qtype uint16) {
		q, _ := query(name, qtype, 1232).Pack()
		if s.Handle(q, netipLoopback.Next(), false) == nil {
			t.Fatal("no response")
		}
	}
	for range 3 {
		ask("edge.cdn.example.com.", dns.TypeA)
	}
	ask("nope.cdn.example.com.", dns.TypeA)
	ask("edge.cdn.example.com.", 65000)

	want := map[string]float64{
		"ashburn/A/NOERROR":  3,
		"none/A/NXDOMAIN":    1,
		"none/OTHER/NOERROR": 1,
	}
	got := map[string]float64{}
	metricValue(t, reg, "geodns_queries_total", "", func(m *dto.Metric) float64 {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		got[l["pop"]+"/"+l["qtype"]+"/"+l["rcode"]] = m.GetCounter().GetValue()
		return 0
	})
	for k, v := range want {
		if got[k] != v {
			t.Errorf("geodns_queries_total{%s} = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	// 127.0.0.2 is not in the database: one miss, then hits for its /24.
	if v := metricValue(t, reg, "geodns_client_cache_total", "miss", func(m *dto.Metric) float64 { return m.GetCounter().GetValue() }); v != 1 {
		t.Errorf("cache misses %v, want 1", v)
	}
	if v := metricValue(t, reg, "geodns_client_cache_total", "hit", func(m *dto.Metric) float64 { return m.GetCounter().GetValue() }); v != 2 {
		t.Errorf("cache hits %v, want 2", v)
	}
	if v := gaugeValue(t, reg, "geodns_edge_healthy", "sin-2"); v != 1 {
		t.Errorf("geodns_edge_healthy{edge=sin-2} = %v", v)
	}
	if _, err := New(cfg, Options{Registerer: reg}); err == nil {
		t.Error("a second server registered the same metrics in one registry")
	}
}

// TestQueryCounterMemo: the fast path's counter memo in a scratch counts
// each query under its own server's metrics and its own PoP, when one
// scratch serves two servers and clients of alternating PoPs.
func TestQueryCounterMemo(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(t, simPlaces...)
	var regs [2]*prometheus.Registry
	var servers [2]*Server
	for i := range servers {
		regs[i] = prometheus.NewRegistry()
		s, err := New(cfg, Options{Registerer: regs[i]})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = s
	}
	q, _ := query("edge.cdn.example.com.", dns.TypeA, 1232).Pack()
	london, ashburn := netip.MustParseAddr("127.1.0.9"), netip.MustParseAddr("127.2.0.9")
	sc := newScratch()
	for i := range 10 {
		client := london
		if i%3 == 0 {
			client = ashburn
		}
		sc.reset()
		if servers[i%2].respond(q, client, false, sc) == nil {
			t.Fatal("no response")
		}
	}
	for i := range 4 { // then one server, alternating PoPs
		client := london
		if i%2 == 0 {
			client = ashburn
		}
		sc.reset()
		if servers[0].respond(q, client, false, sc) == nil {
			t.Fatal("no response")
		}
	}
	// Server 0 answered i = 0, 2, 4, 6, 8 (ashburn: 0, 6) and the four;
	// server 1 answered 1, 3, 5, 7, 9 (ashburn: 3, 9).
	for i, want := range []map[string]float64{{"london": 5, "ashburn": 4}, {"london": 3, "ashburn": 2}} {
		got := map[string]float64{}
		metricValue(t, regs[i], "geodns_queries_total", "", func(m *dto.Metric) float64 {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "pop" {
					got[lp.GetValue()] = m.GetCounter().GetValue()
				}
			}
			return 0
		})
		if len(got) != 2 || got["london"] != want["london"] || got["ashburn"] != want["ashburn"] {
			t.Errorf("server %d: queries by PoP %v, want %v", i, got, want)
		}
	}
}
