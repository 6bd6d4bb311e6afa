package loadtest

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startDNS serves h over UDP on 127.0.0.1:0 and returns its address.
func startDNS(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("DNS server did not start")
	}
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDNSMode(t *testing.T) {
	var mu sync.Mutex
	var subnets []netip.Prefix
	queries := 0
	addr := startDNS(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		mu.Lock()
		queries++
		if opt := req.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_SUBNET); ok {
					a, _ := netip.AddrFromSlice(e.Address.To4())
					subnets = append(subnets, netip.PrefixFrom(a, int(e.SourceNetmask)))
				}
			}
		}
		mu.Unlock()
		switch req.Question[0].Name {
		case "www.example.":
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30},
				A:   net.ParseIP("192.0.2.1"),
			})
		case "broken.example.":
			m.Rcode = dns.RcodeServerFailure
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})

	cfg := Config{
		Mode:        ModeDNS,
		Concurrency: 4,
		Requests:    300,
		MaxDuration: 20 * time.Second,
		Timeout:     2 * time.Second,
		Logger:      quietLogger(),
		DNS: DNSConfig{
			Server:  addr,
			Names:   []string{"www.example", "nothere.example", "broken.example"},
			Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("198.51.100.0/22")},
		},
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := rep.Total.Statuses
	if st["NOERROR"] == 0 || st["NXDOMAIN"] == 0 || st["SERVFAIL"] == 0 {
		t.Errorf("rcodes %v: want NOERROR, NXDOMAIN and SERVFAIL", st)
	}
	if st["NOERROR"]+st["NXDOMAIN"]+st["SERVFAIL"] != 300 || rep.Total.Requests != 300 {
		t.Errorf("rcodes %v requests %d, want 300", st, rep.Total.Requests)
	}
	if rep.Total.Errors != st["SERVFAIL"] || rep.Total.ErrorsByKind[errRcode] != st["SERVFAIL"] {
		t.Errorf("errors %d %v, want SERVFAIL only", rep.Total.Errors, rep.Total.ErrorsByKind)
	}
	if rep.Total.Latency.Count != 300 {
		t.Errorf("latency count %d", rep.Total.Latency.Count)
	}
	mu.Lock()
	defer mu.Unlock()
	if queries != 300 || len(subnets) != 300 {
		t.Fatalf("server saw %d queries, %d with ECS; want 300", queries, len(subnets))
	}
	distinct := map[netip.Prefix]bool{}
	for _, p := range subnets {
		in := netip.MustParsePrefix("10.0.0.0/8").Contains(p.Addr()) || netip.MustParsePrefix("198.51.100.0/22").Contains(p.Addr())
		if p.Bits() != 24 || !in || p.Masked() != p {
			t.Fatalf("ECS subnet %s: want a /24 inside the configured networks", p)
		}
		distinct[p] = true
	}
	if len(distinct) < 50 {
		t.Errorf("only %d distinct client subnets in 300 queries", len(distinct))
	}
}

func TestDNSModeUnreachableServer(t *testing.T) {
	// A UDP port nobody reads: queries time out or are refused, never crash.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	cfg := Config{
		Mode: ModeDNS, Concurrency: 2, Requests: 6, MaxDuration: 20 * time.Second,
		Timeout: 300 * time.Millisecond, Logger: quietLogger(),
		DNS: DNSConfig{Server: addr, Names: []string{"a.example"}},
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Errors != 6 || rep.Total.Responses != 0 {
		t.Errorf("errors %d (%v) responses %d, want 6 and 0", rep.Total.Errors, rep.Total.ErrorsByKind, rep.Total.Responses)
	}
}
