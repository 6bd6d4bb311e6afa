package geodns

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// TestFastPathPatches: responses served from wire bytes carry the ID, RD
// and CD, the question's case and the ECS address of each query, not of
// the query that filled the cache; signed ones verify.
func TestFastPathPatches(t *testing.T) {
	cfg, _ := signedConfig(t)
	cfg.GeoIPPath = maxmindDB(t, "GeoLite2-City-Test.mmdb")
	s := startServer(t, cfg, Options{})
	key := exchange(t, s.Addr(), "udp", query(testZone, dns.TypeDNSKEY, 1232), nil).Answer[0].(*dns.DNSKEY)
	for i, tc := range []struct {
		name, ecs string
		rd, cd    bool
	}{
		{"eDgE.cdn.example.com.", "81.2.69.142/32", false, false},
		{"EDGE.CDN.EXAMPLE.COM.", "81.2.69.143/32", true, true}, // same database network: same cached bytes
		{"edge.cdn.example.com.", "81.2.69.142/32", true, false},
	} {
		for _, do := range []bool{false, true} {
			q := withECS(query(tc.name, dns.TypeA, 1232), tc.ecs)
			q.RecursionDesired, q.CheckingDisabled = tc.rd, tc.cd
			if do {
				q.IsEdns0().SetDo()
			}
			r := exchange(t, s.Addr(), "udp", q, nil)
			if r.Id != q.Id || r.RecursionDesired != tc.rd || r.CheckingDisabled != tc.cd || !r.Authoritative {
				t.Errorf("%d: header %v", i, r.MsgHdr)
			}
			if r.Question[0].Name != tc.name {
				t.Errorf("%d: question %s, want %s", i, r.Question[0].Name, tc.name)
			}
			e := responseECS(r)
			want := netip.MustParsePrefix(tc.ecs).Addr()
			if got, _ := netip.AddrFromSlice(e.Address.To4()); e == nil || got != want || e.SourceScope != 31 {
				t.Errorf("%d: ECS %v, want %s scope 31", i, e, want)
			}
			if got := answerPoPs(r); len(got) != 1 || got[0] != "london" {
				t.Errorf("%d: %v", i, got)
			}
			if do {
				verifySections(t, r, key)
			} else if len(r.Answer) != 2 {
				t.Errorf("%d: answer %v", i, r.Answer)
			}
		}
	}
}

// BenchmarkFastPath is Handle on a cached geo answer with ECS.
func BenchmarkFastPath(b *testing.B) {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(b, simPlaces...)
	s, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	q, _ := withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), "127.1.2.0/24").Pack()
	w, _ := walkMsg(q)
	sc := newScratch()
	b.ReportAllocs()
	for b.Loop() {
		sc.buf = sc.buf[:0]
		if s.respond(q, netipLoopback, false, sc) == nil {
			b.Fatal("no answer")
		}
	}
	_ = w
}

// TestLargeTCPQuery: a TCP query larger than the first read buffer (here
// padded to 3000 bytes, RFC 7830) is read whole and answered.
func TestLargeTCPQuery(t *testing.T) {
	s := startServer(t, testConfig(), Options{})
	q := query("edge.cdn.example.com.", dns.TypeA, 1232)
	q.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, 3000)}}
	for range 2 {
		if r := exchange(t, s.Addr(), "tcp", q, nil); len(r.Answer) == 0 {
			t.Fatalf("no answer: %v", r)
		}
	}
}
