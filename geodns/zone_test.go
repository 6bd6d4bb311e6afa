package geodns

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAuthoritativeAnswers checks the zone behaviour over real UDP and TCP.
func TestAuthoritativeAnswers(t *testing.T) {
	s := startServer(t, testConfig(), Options{})
	addr := s.Addr()

	type check func(t *testing.T, r *dns.Msg)
	rcode := func(want int) check {
		return func(t *testing.T, r *dns.Msg) {
			if r.Rcode != want {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[want])
			}
		}
	}
	aa := func(want bool) check {
		return func(t *testing.T, r *dns.Msg) {
			if r.Authoritative != want {
				t.Errorf("AA=%v, want %v", r.Authoritative, want)
			}
		}
	}
	answerTypes := func(want ...uint16) check {
		return func(t *testing.T, r *dns.Msg) {
			if len(r.Answer) != len(want) {
				t.Fatalf("answer %v, want %d records of %v", r.Answer, len(want), want)
			}
			for i, rr := range r.Answer {
				if rr.Header().Rrtype != want[i] {
					t.Errorf("answer[%d] type %s, want %s", i, dns.TypeToString[rr.Header().Rrtype], dns.TypeToString[want[i]])
				}
			}
		}
	}
	negSOA := func(t *testing.T, r *dns.Msg) {
		if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Fatalf("authority %v, want the SOA", r.Ns)
		}
		// RFC 2308 §3: TTL = min(SOA TTL 3600, MINIMUM 60).
		if ttl := r.Ns[0].Header().Ttl; ttl != 60 {
			t.Errorf("negative SOA TTL %d, want 60", ttl)
		}
	}
	noAuthority := func(t *testing.T, r *dns.Msg) {
		if len(r.Ns) != 0 {
			t.Errorf("authority %v, want none", r.Ns)
		}
	}

	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		checks []check
	}{
		{"apex SOA (RFC 1035 §3.3.13)", testZone, dns.TypeSOA, []check{rcode(0), aa(true), answerTypes(dns.TypeSOA),
			func(t *testing.T, r *dns.Msg) {
				soa := r.Answer[0].(*dns.SOA)
				if soa.Serial != 2024010101 || soa.Ns != "ns1.cdn.example.com." || soa.Mbox != "hostmaster.cdn.example.com." || soa.Minttl != 60 {
					t.Errorf("SOA %v", soa)
				}
			}}},
		{"apex NS with glue for the in-zone server", testZone, dns.TypeNS, []check{rcode(0), aa(true), answerTypes(dns.TypeNS, dns.TypeNS),
			func(t *testing.T, r *dns.Msg) {
				var glue []string
				for _, rr := range r.Extra {
					if rr.Header().Rrtype != dns.TypeOPT {
						glue = append(glue, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
					}
				}
				if strings.Join(glue, ",") != "ns1.cdn.example.com. A,ns1.cdn.example.com. AAAA" {
					t.Errorf("additional %v, want A and AAAA glue of ns1 only", glue)
				}
			}}},
		{"NXDOMAIN with SOA (RFC 2308 §2.1)", "nope.cdn.example.com.", dns.TypeA, []check{rcode(dns.RcodeNameError), aa(true), answerTypes(), negSOA}},
		{"NODATA with SOA (RFC 2308 §2.2)", "mail.cdn.example.com.", dns.TypeAAAA, []check{rcode(0), aa(true), answerTypes(), negSOA}},
		{"empty non-terminal is NODATA (RFC 8020)", "b.cdn.example.com.", dns.TypeA, []check{rcode(0), answerTypes(), negSOA}},
		{"name below an existing one is NXDOMAIN", "x.mail.cdn.example.com.", dns.TypeA, []check{rcode(dns.RcodeNameError), negSOA}},
		{"out of zone is REFUSED", "www.example.org.", dns.TypeA, []check{rcode(dns.RcodeRefused), aa(false), answerTypes(), noAuthority}},
		{"parent of zone is REFUSED", "example.com.", dns.TypeSOA, []check{rcode(dns.RcodeRefused), aa(false)}},
		{"case-insensitive (RFC 4343)", "EdGe.CDN.Example.COM.", dns.TypeA, []check{rcode(0), aa(true), answerTypes(dns.TypeA, dns.TypeA),
			func(t *testing.T, r *dns.Msg) {
				if r.Question[0].Name != "EdGe.CDN.Example.COM." {
					t.Errorf("question %q not echoed as asked", r.Question[0].Name)
				}
			}}},
		{"geo AAAA", "www.cdn.example.com.", dns.TypeAAAA, []check{rcode(0), answerTypes(dns.TypeAAAA)}},
		{"other type at a geo name", "edge.cdn.example.com.", dns.TypeTXT, []check{rcode(0), answerTypes(dns.TypeTXT)}},
		{"NODATA at a geo name", "edge.cdn.example.com.", dns.TypeMX, []check{rcode(0), answerTypes(), negSOA}},
		{"ANY is minimal (RFC 8482 §4.2)", testZone, dns.TypeANY, []check{rcode(0), answerTypes(dns.TypeHINFO),
			func(t *testing.T, r *dns.Msg) {
				if h := r.Answer[0].(*dns.HINFO); h.Cpu != "RFC8482" {
					t.Errorf("HINFO %v", h)
				}
			}}},
		{"ANY at a CNAME gives the CNAME", "assets.cdn.example.com.", dns.TypeANY, []check{rcode(0), answerTypes(dns.TypeCNAME)}},
		{"ANY at a missing name is NXDOMAIN", "nope.cdn.example.com.", dns.TypeANY, []check{rcode(dns.RcodeNameError), negSOA}},
		{"CNAME chased to a geo name (RFC 1034 §4.3.2)", "assets.cdn.example.com.", dns.TypeA, []check{rcode(0), aa(true), answerTypes(dns.TypeCNAME, dns.TypeA, dns.TypeA)}},
		{"CNAME chain of two", "alias.cdn.example.com.", dns.TypeA, []check{rcode(0), answerTypes(dns.TypeCNAME, dns.TypeCNAME, dns.TypeA, dns.TypeA)}},
		{"CNAME asked for itself", "assets.cdn.example.com.", dns.TypeCNAME, []check{rcode(0), answerTypes(dns.TypeCNAME)}},
		{"CNAME out of zone is not chased", "outside.cdn.example.com.", dns.TypeA, []check{rcode(0), answerTypes(dns.TypeCNAME), noAuthority}},
		{"dangling CNAME is NXDOMAIN (RFC 6604)", "dangling.cdn.example.com.", dns.TypeA, []check{rcode(dns.RcodeNameError), answerTypes(dns.TypeCNAME), negSOA}},
		{"TXT with its own TTL", testZone, dns.TypeTXT, []check{rcode(0), answerTypes(dns.TypeTXT),
			func(t *testing.T, r *dns.Msg) {
				if tx := r.Answer[0].(*dns.TXT); tx.Hdr.Ttl != 300 || tx.Txt[0] != "v=spf1 -all" {
					t.Errorf("TXT %v", tx)
				}
			}}},
		{"MX with the default TTL", testZone, dns.TypeMX, []check{rcode(0), answerTypes(dns.TypeMX),
			func(t *testing.T, r *dns.Msg) {
				if mx := r.Answer[0].(*dns.MX); mx.Preference != 10 || mx.Mx != "mail.cdn.example.com." || mx.Hdr.Ttl != 30 {
					t.Errorf("MX %v", mx)
				}
			}}},
		{"glue name answers A", "ns1.cdn.example.com.", dns.TypeA, []check{rcode(0), answerTypes(dns.TypeA)}},
		{"referral below a delegation (RFC 1034 §4.3.2)", "www.sub.cdn.example.com.", dns.TypeA, []check{rcode(0), aa(false), answerTypes(),
			func(t *testing.T, r *dns.Msg) {
				if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeNS {
					t.Fatalf("authority %v, want the delegation NS", r.Ns)
				}
				found := false
				for _, rr := range r.Extra {
					if a, ok := rr.(*dns.A); ok && a.Hdr.Name == "ns.sub.cdn.example.com." {
						found = true
					}
				}
				if !found {
					t.Errorf("additional %v lacks glue", r.Extra)
				}
			}}},
		{"zone transfer refused", testZone, dns.TypeAXFR, []check{rcode(dns.RcodeRefused)}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				q := query(tc.qname, tc.qtype, 1232)
				q.Id = 4242
				q.RecursionDesired = true
				r := exchange(t, addr, network, q, nil)
				if r.Id != 4242 || !r.Response || !r.RecursionDesired {
					t.Errorf("header id=%d qr=%v rd=%v: want the query's id and RD echoed", r.Id, r.Response, r.RecursionDesired)
				}
				if r.RecursionAvailable {
					t.Error("RA set; the server does no recursion")
				}
				for _, c := range tc.checks {
					c(t, r)
				}
			})
		}
	}
}

// bigTXT is a zone whose TXT RRset is about size bytes.
func bigTXT(size int) Config {
	c := testConfig()
	chunk := strings.Repeat("x", 200)
	for i := 0; i*210 < size; i++ {
		c.Records = append(c.Records, Record{Name: "big.cdn.example.com.", Type: "TXT", Value: `"` + string(rune('a'+i)) + chunk + `"`})
	}
	return c
}

// TestTruncation: an answer larger than the client's UDP size comes back
// with TC set (RFC 2181 §9) and complete over TCP.
func TestTruncation(t *testing.T) {
	s := startServer(t, bigTXT(1500), Options{})
	tests := []struct {
		name    string
		network string
		udpSize uint16
		wantTC  bool
	}{
		{"no EDNS: 512 bytes (RFC 1035 §4.2.1)", "udp", 0, true},
		{"EDNS 512", "udp", 512, true},
		{"EDNS below 512 counts as 512 (RFC 6891 §6.2.5)", "udp", 100, true},
		{"EDNS 4096 capped at our 1232", "udp", 4096, true},
		{"TCP holds it all", "tcp", 1232, false},
		{"TCP without EDNS", "tcp", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, s.Addr(), tc.network, query("big.cdn.example.com.", dns.TypeTXT, tc.udpSize), nil)
			if r.Truncated != tc.wantTC {
				t.Errorf("TC=%v, want %v", r.Truncated, tc.wantTC)
			}
			if !tc.wantTC && len(r.Answer) != 8 {
				t.Errorf("%d TXT records, want 8", len(r.Answer))
			}
			if tc.wantTC && r.Len() > 1232 {
				t.Errorf("truncated response is %d bytes", r.Len())
			}
		})
	}
	// A response that fits is not truncated.
	r := exchange(t, s.Addr(), "udp", query("edge.cdn.example.com.", dns.TypeA, 0), nil)
	if r.Truncated || len(r.Answer) != 2 {
		t.Errorf("small answer: TC=%v answers=%d", r.Truncated, len(r.Answer))
	}
}

// TestEDNS covers RFC 6891: the OPT echo with our payload size, DO copied
// (RFC 3225 §3), BADVERS for versions above 0, no OPT without one.
func TestEDNS(t *testing.T) {
	s := startServer(t, testConfig(), Options{})
	t.Run("echo", func(t *testing.T) {
		q := query("edge.cdn.example.com.", dns.TypeA, 4096)
		q.IsEdns0().SetDo()
		r := exchange(t, s.Addr(), "udp", q, nil)
		opt := r.IsEdns0()
		if opt == nil {
			t.Fatal("no OPT in the response")
		}
		if opt.UDPSize() != 1232 || !opt.Do() || opt.Version() != 0 {
			t.Errorf("OPT size=%d do=%v version=%d, want 1232 true 0", opt.UDPSize(), opt.Do(), opt.Version())
		}
	})
	t.Run("no OPT without EDNS", func(t *testing.T) {
		r := exchange(t, s.Addr(), "udp", query("edge.cdn.example.com.", dns.TypeA, 0), nil)
		if r.IsEdns0() != nil {
			t.Error("OPT in the response to a query without one")
		}
	})
	t.Run("BADVERS (RFC 6891 §6.1.3)", func(t *testing.T) {
		q := query("edge.cdn.example.com.", dns.TypeA, 1232)
		q.IsEdns0().SetVersion(1)
		r := exchange(t, s.Addr(), "udp", q, nil)
		if r.Rcode != dns.RcodeBadVers {
			t.Errorf("rcode %d, want BADVERS (16)", r.Rcode)
		}
		if r.IsEdns0() == nil || len(r.Answer) != 0 {
			t.Errorf("BADVERS response must carry an OPT and no answer: %v", r)
		}
	})
}

// rawExchange sends packet over UDP and returns the response, or nil when
// none arrives within wait.
func rawExchange(t *testing.T, addr string, packet []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(packet); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// TestMalformed: queries that break RFC 1035 §4.1.1 or RFC 6891 get FORMERR
// or NOTIMP, over the wire and through Handle.
func TestMalformed(t *testing.T) {
	s := startServer(t, testConfig(), Options{})
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	twoQ := query("edge.cdn.example.com.", dns.TypeA, 0)
	twoQ.Question = append(twoQ.Question, dns.Question{Name: "www.cdn.example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	noQ := query("edge.cdn.example.com.", dns.TypeA, 0)
	noQ.Question = nil
	update := query(testZone, dns.TypeSOA, 0)
	update.Opcode = dns.OpcodeUpdate
	status := query(testZone, dns.TypeSOA, 0)
	status.Opcode = dns.OpcodeStatus
	twoOPT := query("edge.cdn.example.com.", dns.TypeA, 1232)
	twoOPT.Extra = append(twoOPT.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}})
	ecsBits := query("edge.cdn.example.com.", dns.TypeA, 1232)
	// 81.2.69.142 with source prefix 24: bits set beyond the prefix.
	ecsBits.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 24, 0, 81, 2, 69, 142}}}
	ecsFamily := query("edge.cdn.example.com.", dns.TypeA, 1232)
	ecsFamily.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 3, 24, 0, 81, 2, 69}}}
	ecsLong := query("edge.cdn.example.com.", dns.TypeA, 1232)
	ecsLong.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 33, 0, 81, 2, 69, 142}}}
	chaos := query("version.bind.", dns.TypeTXT, 0)
	chaos.Question[0].Qclass = dns.ClassCHAOS

	tests := []struct {
		name   string
		packet []byte
		rcode  int
	}{
		{"two questions", pack(twoQ), dns.RcodeFormatError},
		{"no question", pack(noQ), dns.RcodeFormatError},
		{"UPDATE opcode", pack(update), dns.RcodeNotImplemented},
		{"STATUS opcode", pack(status), dns.RcodeNotImplemented},
		{"two OPT records (RFC 6891 §6.1.1)", pack(twoOPT), dns.RcodeFormatError},
		{"ECS address bits beyond the source prefix (RFC 7871 §6)", pack(ecsBits), dns.RcodeFormatError},
		{"ECS unknown family (RFC 7871 §6)", pack(ecsFamily), dns.RcodeFormatError},
		{"ECS source prefix longer than the address", pack(ecsLong), dns.RcodeFormatError},
		{"CHAOS class", pack(chaos), dns.RcodeRefused},
		{"truncated question", pack(query("edge.cdn.example.com.", dns.TypeA, 0))[:20], dns.RcodeFormatError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []string{"udp", "handle"} {
				var out []byte
				if via == "udp" {
					out = rawExchange(t, s.Addr(), tc.packet, 5*time.Second)
				} else {
					out = s.Handle(tc.packet, netipLoopback, false)
				}
				if out == nil {
					t.Fatalf("%s: no response", via)
				}
				var r dns.Msg
				if err := r.Unpack(out); err != nil {
					t.Fatalf("%s: response does not parse: %v", via, err)
				}
				if r.Rcode != tc.rcode || !r.Response {
					t.Errorf("%s: rcode %s qr=%v, want %s", via, dns.RcodeToString[r.Rcode], r.Response, dns.RcodeToString[tc.rcode])
				}
				if len(r.Answer) != 0 {
					t.Errorf("%s: answer %v in an error response", via, r.Answer)
				}
			}
		})
	}
	t.Run("shorter than a header: no response", func(t *testing.T) {
		if out := s.Handle([]byte{1, 2, 3}, netipLoopback, false); out != nil {
			t.Errorf("Handle answered %x", out)
		}
	})
}
