package geodns

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestReloadUnderLoad swaps configurations and databases while clients
// query over UDP and TCP: every query gets a complete, correct answer.
func TestReloadUnderLoad(t *testing.T) {
	// Two databases that place 127.1/16 differently, and two zones whose
	// London PoP has different addresses, so each answer tells which
	// snapshot served it.
	dbA := writeCityDB(t, simPlaces...)
	moved := slices.Clone(simPlaces)
	moved[0].lat, moved[0].lon = 1.3, 103.8 // 127.1/16 now in Singapore
	dbB := writeCityDB(t, moved...)
	cfgA := testConfig()
	cfgA.GeoIPPath = dbA
	cfgB := testConfig()
	cfgB.GeoIPPath = dbB
	cfgB.SOA.Serial = 2
	cfgB.Records = append(cfgB.Records, Record{Name: "new.cdn.example.com.", Type: "TXT", Value: `"b"`})

	s := startServer(t, cfgA, Options{})
	queries := 150
	if testing.Short() {
		queries = 40
	}
	var failures atomic.Int64
	var errs sync.Map
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		network := []string{"udp", "tcp"}[w%2]
		wg.Go(func() {
			c := &dns.Client{Net: network, Timeout: 5 * time.Second}
			local := fmt.Sprintf("127.1.0.%d", 10+w)
			if network == "udp" {
				c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(local)}}
			} else {
				c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
			}
			for i := 0; i < queries; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, _, err := c.Exchange(query("edge.cdn.example.com.", dns.TypeA, 1232), s.Addr())
				switch {
				case err != nil:
					errs.Store(err.Error(), true)
					failures.Add(1)
				case r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2:
					errs.Store(r.String(), true)
					failures.Add(1)
				default:
					p := answerPoPs(r)
					if len(p) != 1 || (p[0] != "london" && p[0] != "singapore") {
						errs.Store(fmt.Sprint(p), true)
						failures.Add(1)
					}
				}
			}
		})
	}
	// Handle, in process, on more goroutines.
	for range 2 {
		wg.Go(func() {
			q, _ := query("www.cdn.example.com.", dns.TypeA, 1232).Pack()
			for i := 0; i < queries*4; i++ {
				out := s.Handle(q, netip.MustParseAddr("127.1.2.3"), false)
				var r dns.Msg
				if out == nil || r.Unpack(out) != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
					failures.Add(1)
				}
			}
		})
	}
	reloads := 0
	for i := range 20 {
		cfg := cfgA
		if i%2 == 0 {
			cfg = cfgB
		}
		if err := s.Reload(cfg); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		reloads++
	}
	// A bad reload leaves the running configuration in place.
	bad := cfgA
	bad.GeoIPPath = "/nonexistent/city.mmdb"
	if err := s.Reload(bad); err == nil || !strings.Contains(err.Error(), "/nonexistent/city.mmdb") {
		t.Errorf("reload with a missing database: %v", err)
	}
	wg.Wait()
	close(stop)
	if n := failures.Load(); n > 0 {
		var sample []string
		errs.Range(func(k, _ any) bool { sample = append(sample, k.(string)); return len(sample) < 3 })
		t.Fatalf("%d queries failed during %d reloads, e.g. %q", n, reloads, sample)
	}
	// The last good reload (cfgA, i=19) is in force.
	r := exchange(t, s.Addr(), "udp", query(testZone, dns.TypeSOA, 0), nil)
	if soa := r.Answer[0].(*dns.SOA); soa.Serial != 2024010101 {
		t.Errorf("serial %d after reloads, want cfgA's", soa.Serial)
	}
	if err := s.Reload(cfgB); err != nil {
		t.Fatal(err)
	}
	r = exchange(t, s.Addr(), "udp", query("new.cdn.example.com.", dns.TypeTXT, 0), nil)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("record added by reload: %v", r)
	}
	r = exchange(t, s.Addr(), "udp", query("edge.cdn.example.com.", dns.TypeA, 0), &net.UDPAddr{IP: net.ParseIP("127.1.0.99")})
	if p := answerPoPs(r); !slices.Equal(p, []string{"singapore"}) {
		t.Errorf("after reload to the moved database: %v, want singapore", p)
	}
}

// TestReloadKeepsHealth: an edge that is down stays down across a reload
// that keeps it, and HealthStatus follows the new PoP list.
func TestReloadKeepsHealth(t *testing.T) {
	cfg := testConfig()
	cfg.Health = HealthConfig{Interval: time.Hour}
	cfg.PoPs[0].Edges[0].HealthURL = "http://127.0.0.1:1/health" // never probed: no ListenAndServe
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	st := s.states[edgeKey("london", cfg.PoPs[0].Edges[0])]
	s.mu.Unlock()
	st.healthy.Store(false)
	cfg.PoPs = cfg.PoPs[:2]
	cfg.DefaultPoPs = nil
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	hs := s.HealthStatus()
	if len(hs) != 4 {
		t.Fatalf("%d edges after reload, want 4", len(hs))
	}
	if hs[0].Edge != "lon-1" || hs[0].Healthy {
		t.Errorf("lon-1 after reload: %+v", hs[0])
	}
}
