package geodns

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzServeDNS feeds arbitrary packets to the handler: it never panics, and
// a response, when there is one, parses and fits the transport.
func FuzzServeDNS(f *testing.F) {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(f, simPlaces...)
	s, err := New(cfg, Options{})
	if err != nil {
		f.Fatal(err)
	}
	seed := func(m *dns.Msg) {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	seed(query("edge.cdn.example.com.", dns.TypeA, 0))
	seed(query("EDGE.cdn.example.com.", dns.TypeAAAA, 1232))
	seed(withECS(query("www.cdn.example.com.", dns.TypeA, 4096), "127.3.0.0/24"))
	seed(withECS(query("www.cdn.example.com.", dns.TypeAAAA, 512), "2001:db8:1::/48"))
	seed(query("alias.cdn.example.com.", dns.TypeA, 1232))
	seed(query(testZone, dns.TypeANY, 0))
	seed(query(testZone, dns.TypeNS, 1232))
	seed(query("x.sub.cdn.example.com.", dns.TypeA, 0))
	seed(query("nope.cdn.example.com.", dns.TypeMX, 0))
	seed(query("example.org.", dns.TypeA, 0))
	bad := query("edge.cdn.example.com.", dns.TypeA, 1232)
	bad.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 24, 0, 81, 2, 69, 142}}}
	seed(bad)
	f.Add([]byte{}, false)
	f.Add(make([]byte, 12), false)

	client := netip.MustParseAddr("127.1.0.5")
	f.Fuzz(func(t *testing.T, packet []byte, tcp bool) {
		out := s.Handle(packet, client, tcp)
		if out == nil {
			return
		}
		var r dns.Msg
		if err := r.Unpack(out); err != nil {
			t.Fatalf("response does not parse: %v\n%x", err, out)
		}
		if !r.Response {
			t.Fatal("response without QR")
		}
		if !tcp && len(out) > ourUDPSize {
			t.Fatalf("UDP response of %d bytes", len(out))
		}
	})
}
