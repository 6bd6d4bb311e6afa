package geodns

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// healthEndpoint is a real HTTP server standing in for an edge's health
// URL; it fails while failing is set.
type healthEndpoint struct {
	failing atomic.Bool
	srv     *httptest.Server
}

func newHealthEndpoint(t *testing.T) *healthEndpoint {
	h := &healthEndpoint{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// TestHealth walks an edge, then a PoP, then everything down and back up,
// asking as a London client each time.
func TestHealth(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(t, simPlaces...)
	cfg.Health = HealthConfig{Interval: 50 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2}
	cfg.MaxAnswers = 2
	endpoints := map[string]*healthEndpoint{}
	for i := range cfg.PoPs {
		for j := range cfg.PoPs[i].Edges {
			e := &cfg.PoPs[i].Edges[j]
			h := newHealthEndpoint(t)
			endpoints[e.Name] = h
			e.HealthURL = h.srv.URL + "/health"
		}
	}
	reg := prometheus.NewRegistry()
	s := startServer(t, cfg, Options{Registerer: reg})

	londonClient := func() []netip.Addr {
		q := withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), "127.1.0.0/24")
		r := exchange(t, s.Addr(), "udp", q, nil)
		if r.Rcode != dns.RcodeSuccess {
			t.Fatalf("rcode %s", dns.RcodeToString[r.Rcode])
		}
		return answerAddrs(r)
	}
	// stable waits until a few answers in a row satisfy ok.
	stable := func(what string, ok func([]netip.Addr) bool) {
		t.Helper()
		streak := 0
		waitFor(t, 10*time.Second, what, func() bool {
			if ok(londonClient()) {
				streak++
			} else {
				streak = 0
			}
			return streak >= 4
		})
	}
	has := func(addrs []netip.Addr, a string) bool { return slices.Contains(addrs, netip.MustParseAddr(a)) }
	samePoP := func(want string) func([]netip.Addr) bool {
		return func(addrs []netip.Addr) bool {
			for _, a := range addrs {
				if popOf(a) != want {
					return false
				}
			}
			return len(addrs) > 0
		}
	}

	stable("both London edges answered", func(a []netip.Addr) bool {
		return len(a) == 2 && has(a, "10.1.0.1") && has(a, "10.1.0.2")
	})

	endpoints["lon-1"].failing.Store(true)
	stable("lon-1 to leave the answers", func(a []netip.Addr) bool {
		return len(a) == 1 && has(a, "10.1.0.2")
	})
	if st := statusOf(s, "lon-1"); st.Healthy || st.Failures < 2 || st.LastError == "" {
		t.Errorf("HealthStatus of lon-1: %+v", st)
	}
	if v := gaugeValue(t, reg, "geodns_edge_healthy", "lon-1"); v != 0 {
		t.Errorf("geodns_edge_healthy{edge=lon-1} = %v, want 0", v)
	}

	endpoints["lon-1"].failing.Store(false)
	stable("lon-1 to come back", func(a []netip.Addr) bool {
		return len(a) == 2 && has(a, "10.1.0.1")
	})

	endpoints["lon-1"].failing.Store(true)
	endpoints["lon-2"].failing.Store(true)
	stable("London skipped for the next nearest, Ashburn", samePoP("ashburn"))

	for _, h := range endpoints {
		h.failing.Store(true)
	}
	stable("every edge of the nearest PoP when all are down", func(a []netip.Addr) bool {
		return len(a) == 2 && has(a, "10.1.0.1") && has(a, "10.1.0.2")
	})
	if v := counterValue(t, reg, "geodns_all_edges_down_answers_total"); v == 0 {
		t.Error("geodns_all_edges_down_answers_total not counted")
	}

	for _, h := range endpoints {
		h.failing.Store(false)
	}
	stable("London back whole", func(a []netip.Addr) bool {
		return len(a) == 2 && has(a, "10.1.0.1") && has(a, "10.1.0.2") && statusOf(s, "lon-1").Healthy
	})
	if v := gaugeValue(t, reg, "geodns_edge_healthy", "lon-1"); v != 1 {
		t.Errorf("geodns_edge_healthy{edge=lon-1} = %v, want 1", v)
	}
}

// TestHealthProbeFailures: status codes outside 2xx, refused connections
// and timeouts all count as failures.
func TestHealthProbeFailures(t *testing.T) {
	slow := make(chan struct{})
	t.Cleanup(func() { close(slow) })
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-slow:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	closed := httptest.NewServer(mux)
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		url  string
		fail string
	}{
		{srv.URL + "/ok", ""},
		{srv.URL + "/500", "status 500"},
		{srv.URL + "/missing", "status 404"},
		{srv.URL + "/slow", "deadline exceeded"},
		{closedURL + "/ok", "refused"},
	}
	for _, tc := range tests {
		err := probe(t.Context(), srv.Client(), tc.url, 200*time.Millisecond)
		switch {
		case tc.fail == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail)):
			t.Errorf("%s: error %v, want one containing %q", tc.url, err, tc.fail)
		}
	}
}

// TestRiseFall is the state machine of one edge.
func TestRiseFall(t *testing.T) {
	e := &edgeState{url: "http://x"}
	if e.up() || !e.unknown() {
		t.Fatal("a new edge is up or known before its first probe")
	}
	fail := errTest("down")
	steps := []struct {
		err         error
		wantUp      bool
		wantChanged bool
	}{
		{nil, true, true}, // the first result decides at once
		{nil, true, false},
		{fail, true, false}, // one failure: still up (fall 2)
		{nil, true, false},  // success resets the count
		{fail, true, false},
		{fail, false, true}, // second in a row: down
		{fail, false, false},
		{nil, false, false}, // one success: still down (rise 2)
		{fail, false, false},
		{nil, false, false},
		{nil, true, true}, // second in a row: up
	}
	for i, st := range steps {
		changed := e.record(st.err, fixedNow(), 2, 2)
		if e.unknown() {
			t.Fatalf("step %d: still unknown", i)
		}
		if e.up() != st.wantUp || changed != st.wantChanged {
			t.Fatalf("step %d: up=%v changed=%v, want %v %v", i, e.up(), changed, st.wantUp, st.wantChanged)
		}
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func statusOf(s *Server, edge string) EdgeHealth {
	for _, st := range s.HealthStatus() {
		if st.Edge == edge {
			return st
		}
	}
	return EdgeHealth{}
}

// metricValue finds a gathered sample by name and, when label is set, by
// any label value.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string, get func(m *dto.Metric) float64) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					match = true
				}
			}
			if match {
				total += get(m)
			}
		}
	}
	return total
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	return metricValue(t, reg, name, label, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	return metricValue(t, reg, name, "", func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}

// /status speaks snake_case JSON, as the edge's does.
func TestEdgeHealthJSONIsSnakeCase(t *testing.T) {
	b, err := json.Marshal(EdgeHealth{PoP: "eu", Edge: "e1", URL: "http://x/healthz", Healthy: true, Probed: true, LastError: "refused"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"pop":"eu"`, `"edge":"e1"`, `"healthy":true`, `"probed":true`, `"last_error":"refused"`, `"successes":0`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s lacks %s", b, k)
		}
	}
	if strings.ContainsAny(string(b[:2]), "P") || strings.Contains(string(b), `"Healthy"`) {
		t.Errorf("PascalCase keys in %s", b)
	}
}
