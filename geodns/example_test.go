package geodns_test

import (
	"fmt"
	"net/netip"

	"github.com/miekg/dns"
	"github.com/selfcdn/cdn/geodns"
)

// A zone with one geo name and two PoPs, without a GeoIP database: every
// client gets the default PoP's edges.
func Example() {
	cfg := geodns.Config{
		Zone:     "cdn.example.com.",
		NS:       []geodns.NameServer{{Name: "ns1.cdn.example.com.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")}}},
		GeoNames: []string{"edge.cdn.example.com."},
		PoPs: []geodns.PoP{
			{Name: "london", Lat: 51.51, Lon: -0.13, Edges: []geodns.Edge{
				{Name: "lon-1", Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1")}},
			}},
			{Name: "ashburn", Lat: 39.04, Lon: -77.49, Edges: []geodns.Edge{
				{Name: "iad-1", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.1")}},
				{Name: "iad-2", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.2")}},
			}},
		},
		DefaultPoPs: []string{"ashburn"},
	}
	s, err := geodns.New(cfg, geodns.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	q := new(dns.Msg)
	q.SetQuestion("edge.cdn.example.com.", dns.TypeA)
	packet, _ := q.Pack()
	var r dns.Msg
	if err := r.Unpack(s.Handle(packet, netip.MustParseAddr("127.0.0.1"), false)); err != nil {
		fmt.Println(err)
		return
	}
	for _, rr := range r.Answer {
		fmt.Println(rr)
	}
	// Output:
	// edge.cdn.example.com.	30	IN	A	203.0.113.1
	// edge.cdn.example.com.	30	IN	A	203.0.113.2
}
