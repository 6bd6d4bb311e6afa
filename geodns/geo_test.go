package geodns

import (
	"math"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestECSWithMaxMindDB locates ECS prefixes in MaxMind's own test City
// database and checks the nearest PoP answers, with a scope prefix length
// that is true for the answer (RFC 7871 §7.2.1).
func TestECSWithMaxMindDB(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = maxmindDB(t, "GeoLite2-City-Test.mmdb")
	s := startServer(t, cfg, Options{})

	tests := []struct {
		name      string
		ecs       string
		qtype     uint16
		wantPoP   string
		wantScope uint8
	}{
		// 81.2.69.142/31 is London: the scope is the database network.
		{"London", "81.2.69.142/32", dns.TypeA, "london", 31},
		{"Linköping goes to London", "89.160.20.112/32", dns.TypeA, "london", 28},
		{"Milton WA goes to Ashburn", "216.160.83.56/32", dns.TypeA, "ashburn", 29},
		// 2001:218::/32 is Tokyo: a /48 source is decided by the /32.
		{"Tokyo over IPv6 goes to Singapore", "2001:218:1::/48", dns.TypeA, "singapore", 32},
		{"Tokyo, AAAA falls to the nearest PoP with IPv6", "2001:218:1::/48", dns.TypeAAAA, "london", 32},
		{"unknown address gets the default PoP", "8.8.8.0/24", dns.TypeA, "ashburn", 0},
		{"multicast ECS gets the default PoP (reserved)", "224.1.2.0/24", dns.TypeA, "ashburn", 4},
		{"link-local IPv6 ECS gets the default PoP", "fe80::/64", dns.TypeA, "ashburn", 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := withECS(query("edge.cdn.example.com.", tc.qtype, 1232), tc.ecs)
			r := exchange(t, s.Addr(), "udp", q, nil)
			if got := answerPoPs(r); !slices.Equal(got, []string{tc.wantPoP}) {
				t.Errorf("answer from %v (%v), want %s", got, answerAddrs(r), tc.wantPoP)
			}
			e := responseECS(r)
			if e == nil {
				t.Fatal("ECS not echoed")
			}
			sent := findECS(q.IsEdns0())
			if e.Family != sent.Family || e.SourceNetmask != sent.SourceNetmask || !e.Address.Equal(sent.Address) {
				t.Errorf("ECS echoed as %v, sent %v", e, sent)
			}
			if tc.wantScope != 0 || tc.wantPoP != "ashburn" {
				if e.SourceScope != tc.wantScope {
					t.Errorf("scope /%d, want /%d", e.SourceScope, tc.wantScope)
				}
			} else if e.SourceScope == 0 || e.SourceScope > e.SourceNetmask {
				// Not in the database: the scope is the empty network's
				// length, which must not exceed the source prefix.
				t.Errorf("scope /%d for an unknown address with source /%d", e.SourceScope, e.SourceNetmask)
			}
		})
	}

	t.Run("source prefix 0 is scope 0 (RFC 7871 §7.1.2)", func(t *testing.T) {
		q := withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), "0.0.0.0/0")
		r := exchange(t, s.Addr(), "udp", q, nil)
		if e := responseECS(r); e == nil || e.SourceScope != 0 {
			t.Errorf("ECS %v, want scope 0", e)
		}
	})
	t.Run("static answers are scope 0", func(t *testing.T) {
		q := withECS(query(testZone, dns.TypeMX, 1232), "81.2.69.142/32")
		r := exchange(t, s.Addr(), "udp", q, nil)
		if e := responseECS(r); e == nil || e.SourceScope != 0 {
			t.Errorf("ECS %v, want scope 0", e)
		}
	})
	t.Run("CNAME to a geo name is scoped", func(t *testing.T) {
		q := withECS(query("assets.cdn.example.com.", dns.TypeA, 1232), "81.2.69.142/32")
		r := exchange(t, s.Addr(), "tcp", q, nil)
		if e := responseECS(r); e == nil || e.SourceScope != 31 {
			t.Errorf("ECS %v, want scope 31", e)
		}
		if got := answerPoPs(r); !slices.Equal(got, []string{"london"}) {
			t.Errorf("answer from %v", got)
		}
	})
	t.Run("no ECS in, none out", func(t *testing.T) {
		r := exchange(t, s.Addr(), "udp", query("edge.cdn.example.com.", dns.TypeA, 1232), nil)
		if responseECS(r) != nil {
			t.Error("ECS in the response to a query without one")
		}
		// 127.0.0.1 is not in MaxMind's test database: default PoP.
		if got := answerPoPs(r); !slices.Equal(got, []string{"ashburn"}) {
			t.Errorf("answer from %v, want the default", got)
		}
	})
}

// TestSourceAddressWithSimulationDB: without ECS the querier's own address
// is located, loopback included, as the simulation's database places
// 127.1/16, 127.2/16 and 127.3/16.
func TestSourceAddressWithSimulationDB(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(t, simPlaces...)
	s := startServer(t, cfg, Options{})
	tests := []struct {
		from    string
		network string
		want    string
	}{
		{"127.1.0.5", "udp", "london"},
		{"127.2.0.5", "udp", "ashburn"},
		{"127.3.0.5", "udp", "singapore"},
		{"127.1.0.6", "tcp", "london"},
		{"127.3.0.6", "tcp", "singapore"},
		{"127.0.0.1", "udp", "ashburn"}, // not in the database: default
	}
	for _, tc := range tests {
		t.Run(tc.from+"/"+tc.network, func(t *testing.T) {
			var local net.Addr = &net.UDPAddr{IP: net.ParseIP(tc.from)}
			if tc.network == "tcp" {
				local = &net.TCPAddr{IP: net.ParseIP(tc.from)}
			}
			r := exchange(t, s.Addr(), tc.network, query("www.cdn.example.com.", dns.TypeA, 1232), local)
			if got := answerPoPs(r); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("answer from %v, want %s", got, tc.want)
			}
		})
	}
	t.Run("ECS beats the source address", func(t *testing.T) {
		q := withECS(query("www.cdn.example.com.", dns.TypeA, 1232), "127.3.9.0/24")
		r := exchange(t, s.Addr(), "udp", q, &net.UDPAddr{IP: net.ParseIP("127.1.0.7")})
		if got := answerPoPs(r); !slices.Equal(got, []string{"singapore"}) {
			t.Errorf("answer from %v, want singapore", got)
		}
		if e := responseECS(r); e == nil || e.SourceScope != 16 {
			t.Errorf("ECS %v, want scope 16 (the database network)", e)
		}
	})
}

// TestOverrides: country then continent lists come before distance.
func TestOverrides(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(t, simPlaces...)
	cfg.Countries = map[string][]string{"gb": {"singapore"}}
	cfg.Continents = map[string][]string{"SA": {"london"}, "OC": {"ashburn"}}
	s := startServer(t, cfg, Options{})
	tests := []struct {
		ecs, want string
	}{
		{"127.1.0.0/24", "singapore"},     // GB override (lower-case key works)
		{"198.51.100.0/24", "london"},     // DE: no override, nearest
		{"203.0.113.0/24", "ashburn"},     // OC continent override
		{"192.0.2.0/24", "london"},        // BR, no coordinates: continent SA
		{"2001:db8:1::/48", "london"},     // FR over IPv6: nearest
		{"127.2.0.0/24", "ashburn"},       // US: nearest
		{"127.3.0.0/24", "singapore"},     // JP: nearest
		{"100.64.0.0/24", "ashburn"},      // not in the database: default
		{"2001:db8:ffff::/48", "ashburn"}, // not in the database: default
	}
	for _, tc := range tests {
		t.Run(tc.ecs, func(t *testing.T) {
			r := exchange(t, s.Addr(), "udp", withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), tc.ecs), nil)
			if got := answerPoPs(r); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("answer from %v, want %s", got, tc.want)
			}
		})
	}
}

// TestCountryDB: a Country database has no coordinates, so only the
// overrides and the default order apply.
func TestCountryDB(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = maxmindDB(t, "GeoLite2-Country-Test.mmdb")
	cfg.Countries = map[string][]string{"GB": {"london"}}
	cfg.Continents = map[string][]string{"AS": {"singapore"}}
	s := startServer(t, cfg, Options{})
	for ecs, want := range map[string]string{
		"81.2.69.142/32":   "london",
		"2001:218:1::/48":  "singapore",
		"216.160.83.56/32": "ashburn", // US: no override, no coordinates: default
	} {
		r := exchange(t, s.Addr(), "udp", withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), ecs), nil)
		if got := answerPoPs(r); !slices.Equal(got, []string{want}) {
			t.Errorf("%s: answer from %v, want %s", ecs, got, want)
		}
	}
}

// TestRank is the PoP choice as a pure function of a location.
func TestRank(t *testing.T) {
	c := Config{
		PoPs: []PoP{
			{Name: "london", Lat: 51.51, Lon: -0.13, Weight: 1},
			{Name: "frankfurt", Lat: 50.11, Lon: 8.68, Weight: 1},
			{Name: "ashburn", Lat: 39.04, Lon: -77.49, Weight: 1},
		},
		Countries:   map[string][]string{"CH": {"ashburn"}},
		Continents:  map[string][]string{"AF": {"frankfurt", "london"}},
		DefaultPoPs: []string{"frankfurt"},
	}
	weighted := c
	weighted.PoPs = slices.Clone(c.PoPs)
	weighted.PoPs[1].Weight = 2 // Frankfurt has twice London's capacity
	names := func(rk *ranker, r ranking) string {
		var s []string
		for _, i := range r {
			s = append(s, rk.pops[i].Name)
		}
		return strings.Join(s, ",")
	}
	paris := location{Found: true, HasCoords: true, Lat: 48.86, Lon: 2.35, Country: "FR", Continent: "EU"}
	tests := []struct {
		name string
		cfg  Config
		loc  location
		want string
	}{
		{"unknown: default list, then config order", c, location{}, "frankfurt,london,ashburn"},
		{"Paris is nearest London (344 km vs 479 km)", c, paris, "london,frankfurt,ashburn"},
		{"weight 2 halves Frankfurt's distance", weighted, paris, "frankfurt,london,ashburn"},
		{"country override first, then distance", c, location{Found: true, HasCoords: true, Lat: 46.9, Lon: 7.4, Country: "CH", Continent: "EU"}, "ashburn,frankfurt,london"},
		{"continent override", c, location{Found: true, HasCoords: true, Lat: 30, Lon: 31, Country: "EG", Continent: "AF"}, "frankfurt,london,ashburn"},
		{"no coordinates, no override: default", c, location{Found: true, Country: "FR", Continent: "EU"}, "frankfurt,london,ashburn"},
		{"no coordinates, override then default", c, location{Found: true, Country: "CH"}, "ashburn,frankfurt,london"},
		{"New York is nearest Ashburn", c, location{Found: true, HasCoords: true, Lat: 40.7, Lon: -74}, "ashburn,london,frankfurt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.cfg.withDefaults()
			pops := make([]*popState, len(d.PoPs))
			for i, p := range d.PoPs {
				pops[i] = &popState{PoP: p, index: i}
			}
			rk := newRanker(d, pops)
			if got := names(rk, rk.rank(tc.loc)); got != tc.want {
				t.Errorf("rank %s, want %s", got, tc.want)
			}
		})
	}
}

func TestHaversine(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		wantKm                 float64
	}{
		{"same point", 51.5, -0.1, 51.5, -0.1, 0},
		{"London to Paris", 51.5074, -0.1278, 48.8566, 2.3522, 344},
		{"London to New York", 51.5074, -0.1278, 40.7128, -74.0060, 5570},
		{"antipodes", 0, 0, 0, 180, math.Pi * earthRadiusKm},
	}
	for _, tc := range tests {
		if got := haversine(tc.lat1, tc.lon1, tc.lat2, tc.lon2); math.Abs(got-tc.wantKm) > tc.wantKm*0.01+1 {
			t.Errorf("%s: %.0f km, want %.0f", tc.name, got, tc.wantKm)
		}
	}
}
