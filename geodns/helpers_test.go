package geodns

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"
)

const testZone = "cdn.example.com."

// sharedGeoIPDir finds the shared MaxMind test databases: $CDN_SHARED_DIR
// /testdata/geoip, else ../shared/testdata/geoip beside the module root.
// It returns "" when there are none; maxmindDB then builds stand-ins.
func sharedGeoIPDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CDN_SHARED_DIR"); d != "" {
		p := filepath.Join(d, "testdata", "geoip")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "testdata", "geoip")
			if _, err := os.Stat(p); err != nil {
				return ""
			}
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// maxmindPlaces are the networks of MaxMind's test databases that the
// tests use, with the same records (country, continent, coordinates), so
// that a database built from them answers those addresses as MaxMind's.
var maxmindPlaces = []place{
	{network: "81.2.69.142/31", country: "GB", continent: "EU", lat: 51.5142, lon: -0.0931},
	{network: "89.160.20.112/28", country: "SE", continent: "EU", lat: 58.4167, lon: 15.6167},
	{network: "216.160.83.56/29", country: "US", continent: "NA", lat: 47.2513, lon: -122.3149},
	{network: "2001:218::/32", country: "JP", continent: "AS", lat: 35.68536, lon: 139.75309},
}

// maxmindDB returns the path of MaxMind test database name from the
// shared test data, or, when that is absent, of a database built here
// with the same known addresses (maxmindPlaces): the City and Country
// databases, an ASN database, and corrupt ones for the two broken files.
func maxmindDB(t testing.TB, name string) string {
	t.Helper()
	if dir := sharedGeoIPDir(t); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	switch name {
	case "GeoLite2-City-Test.mmdb", "GeoIP2-City-Test.mmdb":
		return writeDB(t, name, strings.TrimSuffix(name, "-Test.mmdb"), maxmindPlaces...)
	case "GeoLite2-Country-Test.mmdb":
		places := slices.Clone(maxmindPlaces)
		for i := range places {
			places[i].noCoords = true
		}
		return writeDB(t, name, "GeoLite2-Country", places...)
	case "GeoLite2-ASN-Test.mmdb":
		return writeDB(t, name, "GeoLite2-ASN", maxmindPlaces...)
	case "GeoIP2-City-Test-Invalid-Node-Count.mmdb", "GeoIP2-City-Test-Broken-Double-Format.mmdb":
		// A City database with its search tree (or its data section)
		// overwritten: Verify must refuse it.
		p := writeDB(t, name, "GeoIP2-City", maxmindPlaces...)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sep := bytes.Index(b, make([]byte, 16)) // tree | 16 zero bytes | data
		if sep < 0 {
			t.Fatalf("%s: no data section separator", p)
		}
		lo, hi := sep/2, sep // the deeper half of the tree
		if strings.Contains(name, "Double") {
			lo, hi = sep+16, sep+16+64
		}
		for i := lo; i < hi && i < len(b); i++ {
			b[i] = 0xFF
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Fatalf("no stand-in for MaxMind test database %s", name)
	return ""
}

// place is a database record for a network.
type place struct {
	network            string
	country, continent string
	lat, lon           float64
	noCoords           bool
}

// writeCityDB writes a City-schema database holding places and returns
// its path.
func writeCityDB(t testing.TB, places ...place) string {
	t.Helper()
	return writeDB(t, "city.mmdb", "GeoLite2-City", places...)
}

// writeDB writes a database of type kind holding places to file name in
// a temporary folder. An ASN kind gets ASN records instead of places.
func writeDB(t testing.TB, name, kind string, places ...place) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            kind,
		Description:             map[string]string{"en": "geodns test database"},
		IncludeReservedNetworks: true,
		RecordSize:              24,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range places {
		_, n, err := net.ParseCIDR(p.network)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(p.country)},
			"continent": mmdbtype.Map{"code": mmdbtype.String(p.continent)},
		}
		if strings.Contains(kind, "ASN") {
			rec = mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64500)}
		} else if !p.noCoords {
			rec["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(p.lat), "longitude": mmdbtype.Float64(p.lon)}
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", p.network, err)
		}
	}
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// simPlaces are the simulation's loopback client networks plus public
// ranges.
var simPlaces = []place{
	{network: "127.1.0.0/16", country: "GB", continent: "EU", lat: 51.5, lon: -0.1},
	{network: "127.2.0.0/16", country: "US", continent: "NA", lat: 40.7, lon: -74.0},
	{network: "127.3.0.0/16", country: "JP", continent: "AS", lat: 35.7, lon: 139.7},
	{network: "198.51.100.0/24", country: "DE", continent: "EU", lat: 50.1, lon: 8.7},
	{network: "203.0.113.0/24", country: "AU", continent: "OC", lat: -33.9, lon: 151.2},
	{network: "192.0.2.0/24", country: "BR", continent: "SA", noCoords: true},
	{network: "2001:db8:1::/48", country: "FR", continent: "EU", lat: 48.9, lon: 2.35},
}

func mustAddrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// testConfig is a zone with three PoPs (London, Ashburn, Singapore) of two
// edges each, geo names, and static records of several types.
func testConfig() Config {
	return Config{
		Zone: testZone,
		NS: []NameServer{
			{Name: "ns1.cdn.example.com.", Addrs: mustAddrs("192.0.2.53", "2001:db8::53")},
			{Name: "ns2.example.net."},
		},
		SOA:      SOA{Serial: 2024010101},
		GeoNames: []string{"edge.cdn.example.com.", "www.cdn.example.com."},
		Records: []Record{
			{Name: "assets.cdn.example.com.", Type: "CNAME", Value: "edge.cdn.example.com."},
			{Name: "alias.cdn.example.com.", Type: "CNAME", Value: "assets.cdn.example.com."},
			{Name: "outside.cdn.example.com.", Type: "CNAME", Value: "www.example.org."},
			{Name: "dangling.cdn.example.com.", Type: "CNAME", Value: "missing.cdn.example.com."},
			{Name: "cdn.example.com.", Type: "TXT", TTL: 300 * time.Second, Value: `"v=spf1 -all"`},
			{Name: "cdn.example.com.", Type: "MX", Value: "10 mail.cdn.example.com."},
			{Name: "mail.cdn.example.com.", Type: "A", Value: "192.0.2.25"},
			{Name: "deep.a.b.cdn.example.com.", Type: "A", Value: "192.0.2.26"},
			{Name: "edge.cdn.example.com.", Type: "TXT", Value: `"geo"`},
			{Name: "sub.cdn.example.com.", Type: "NS", Value: "ns.sub.cdn.example.com."},
			{Name: "ns.sub.cdn.example.com.", Type: "A", Value: "192.0.2.54"},
		},
		PoPs: []PoP{
			{Name: "london", Lat: 51.51, Lon: -0.13, Edges: []Edge{
				{Name: "lon-1", Addrs: mustAddrs("10.1.0.1", "2001:db8:a::1")},
				{Name: "lon-2", Addrs: mustAddrs("10.1.0.2", "2001:db8:a::2")},
			}},
			{Name: "ashburn", Lat: 39.04, Lon: -77.49, Edges: []Edge{
				{Name: "iad-1", Addrs: mustAddrs("10.2.0.1", "2001:db8:b::1")},
				{Name: "iad-2", Addrs: mustAddrs("10.2.0.2")},
			}},
			{Name: "singapore", Lat: 1.35, Lon: 103.82, Edges: []Edge{
				{Name: "sin-1", Addrs: mustAddrs("10.3.0.1")},
				{Name: "sin-2", Addrs: mustAddrs("10.3.0.2")},
			}},
		},
		DefaultPoPs: []string{"ashburn"},
		Health:      HealthConfig{Disabled: true},
	}
}

// popOf maps an edge address to its PoP in testConfig.
func popOf(a netip.Addr) string {
	switch b := a.As16(); {
	case a.Is4() && b[13] == 1, a.Is6() && b[5] == 0xa:
		return "london"
	case a.Is4() && b[13] == 2, a.Is6() && b[5] == 0xb:
		return "ashburn"
	case a.Is4() && b[13] == 3:
		return "singapore"
	}
	return "?"
}

// startServer runs a server for cfg on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, cfg Config, opts Options) *Server {
	t.Helper()
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runServer(t, s, "127.0.0.1:0")
	return s
}

// runServer serves s on addr until the test ends or stop is called; stop
// returns how long ListenAndServe took to return (0 after the first call).
func runServer(t testing.TB, s *Server, addr string) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, addr) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server not ready within 10s")
	}
	stopped := false
	stop = func() time.Duration {
		if stopped {
			return 0
		}
		stopped = true
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ListenAndServe returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
		return time.Since(start)
	}
	t.Cleanup(func() { stop() })
	return stop
}

// query builds a question, with EDNS(0) when udpSize > 0.
func query(name string, qtype uint16, udpSize uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	if udpSize > 0 {
		m.SetEdns0(udpSize, false)
	}
	return m
}

// withECS adds an ECS option for prefix to m (which must have EDNS).
func withECS(m *dns.Msg, prefix string) *dns.Msg {
	p := netip.MustParsePrefix(prefix)
	e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
	e.Family = 1
	if p.Addr().Is6() {
		e.Family = 2
	}
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, e)
	return m
}

// exchange sends m to addr over network ("udp" or "tcp"), from local when
// given.
func exchange(t testing.TB, addr, network string, m *dns.Msg, local net.Addr) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second, UDPSize: 65535}
	if local != nil {
		c.Dialer = &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("exchange %s %s over %s: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], network, err)
	}
	return r
}

// answerAddrs returns the A and AAAA addresses of r's answer section.
func answerAddrs(r *dns.Msg) []netip.Addr {
	var out []netip.Addr
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			a, _ := netip.AddrFromSlice(v.A.To4())
			out = append(out, a)
		case *dns.AAAA:
			a, _ := netip.AddrFromSlice(v.AAAA)
			out = append(out, a)
		}
	}
	return out
}

// answerPoPs returns the distinct PoPs of r's addresses.
func answerPoPs(r *dns.Msg) []string {
	var out []string
	for _, a := range answerAddrs(r) {
		if p := popOf(a); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func responseECS(r *dns.Msg) *dns.EDNS0_SUBNET {
	return findECS(r.IsEdns0())
}

// waitFor polls cond every few milliseconds until it holds or the deadline
// passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var netipLoopback = netip.MustParseAddr("127.0.0.1")

func fixedNow() time.Time { return time.Unix(1700000000, 0) }
