package loadtest

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/selfcdn/cdn/endpoints"
)

// fakeEdge is an HTTP server on one loopback address that records who
// asked it for what.
type fakeEdge struct {
	addr    string
	port    int
	mu      sync.Mutex
	n       int
	hosts   map[string]int
	sources []netip.Addr
}

func startEdge(t *testing.T, ip, name string) *fakeEdge {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s (needs the 127.0.0.0/8 loopback of Linux): %v", ip, err)
	}
	e := &fakeEdge{addr: ip, port: l.Addr().(*net.TCPAddr).Port, hosts: map[string]int{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, _ := netip.ParseAddrPort(r.RemoteAddr)
		e.mu.Lock()
		e.n++
		e.hosts[r.Host]++
		e.sources = append(e.sources, src.Addr())
		e.mu.Unlock()
		w.Header().Set("Cache-Status", name+"; hit")
		w.Write([]byte("ok"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return e
}

// TestEndpointsMode runs clients of two regions against a fake GeoDNS that
// answers by source address and two edges on 127.0.0.1 and 127.0.0.2.
func TestEndpointsMode(t *testing.T) {
	eu := startEdge(t, "127.0.0.1", "edge-eu")
	us := startEdge(t, "127.0.0.2", "edge-us")
	euNet, usNet := netip.MustParsePrefix("127.1.0.0/16"), netip.MustParsePrefix("127.2.0.0/16")

	var mu sync.Mutex
	dnsSources := map[string]int{}
	dnsAddr := startDNS(t, func(w dns.ResponseWriter, req *dns.Msg) {
		src, _ := netip.ParseAddrPort(w.RemoteAddr().String())
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		answer := ""
		switch {
		case euNet.Contains(src.Addr()):
			answer = "127.0.0.1"
		case usNet.Contains(src.Addr()):
			answer = "127.0.0.2"
		default:
			m.Rcode = dns.RcodeRefused
		}
		mu.Lock()
		dnsSources[answer]++
		mu.Unlock()
		q := req.Question[0]
		if answer != "" && q.Name == "assets.example.com." {
			// A CNAME into the CDN's zone, then the PoP's address, as a
			// site delegated to the CDN answers.
			m.Answer = append(m.Answer,
				&dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: "assets.cdn.example.net."},
				&dns.A{Hdr: dns.RR_Header{Name: "assets.cdn.example.net.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP(answer)})
		}
		w.WriteMsg(m)
	})

	ep := &endpoints.File{
		Zone:  "cdn.example.net.",
		Sites: []string{"assets.example.com"},
		DNS:   dnsAddr,
		PoPs: []endpoints.PoP{
			{Name: "eu", ClientNetwork: euNet.String(), Edges: []endpoints.Node{{Name: "edge-eu", Address: eu.addr, Ports: endpoints.Ports{HTTP: eu.port}}}},
			{Name: "us", ClientNetwork: usNet.String(), Edges: []endpoints.Node{{Name: "edge-us", Address: us.addr, Ports: endpoints.Ports{HTTP: us.port}}}},
		},
	}
	cfg := Config{
		Endpoints: ep, Concurrency: 4, Requests: 120, MaxDuration: 20 * time.Second,
		Timeout: 5 * time.Second, Logger: quietLogger(),
		Workload: Workload{Objects: 30, Sizes: []SizeWeight{{Bytes: 2, Weight: 1}}},
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests != 120 || rep.Total.Errors != 0 {
		t.Fatalf("requests %d errors %v", rep.Total.Requests, rep.Total.ErrorsByKind)
	}
	groups := func(gs []Group) map[string]Group {
		m := map[string]Group{}
		for _, g := range gs {
			m[g.Name] = g
		}
		return m
	}
	pops, regions := groups(rep.PoPs), groups(rep.Regions)
	eu.mu.Lock()
	us.mu.Lock()
	defer eu.mu.Unlock()
	defer us.mu.Unlock()
	if pops["eu"].Requests != int64(eu.n) || pops["us"].Requests != int64(us.n) {
		t.Errorf("PoP eu %d us %d; edges served eu %d us %d", pops["eu"].Requests, pops["us"].Requests, eu.n, us.n)
	}
	// Two clients per region, each closed loop: both regions sent.
	if regions["eu"].Requests == 0 || regions["us"].Requests == 0 {
		t.Errorf("regions %v", rep.Regions)
	}
	if regions["eu"].Requests != pops["eu"].Requests {
		t.Errorf("GeoDNS sends every eu client to the eu PoP: region %d, PoP %d", regions["eu"].Requests, pops["eu"].Requests)
	}
	if pops["eu"].Cache.Hits != pops["eu"].Requests {
		t.Errorf("eu PoP cache %+v", pops["eu"].Cache)
	}
	if eu.hosts["assets.example.com"] != eu.n || us.hosts["assets.example.com"] != us.n {
		t.Errorf("Host headers eu %v us %v, want the site", eu.hosts, us.hosts)
	}
	for _, s := range eu.sources {
		if !euNet.Contains(s) {
			t.Fatalf("eu edge saw a request from %s, outside the eu client network", s)
		}
	}
	for _, s := range us.sources {
		if !usNet.Contains(s) {
			t.Fatalf("us edge saw a request from %s, outside the us client network", s)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Answers are cached for their TTL: a handful of queries, not one per request.
	if q := dnsSources["127.0.0.1"] + dnsSources["127.0.0.2"]; q == 0 || q > 8 || dnsSources[""] != 0 {
		t.Errorf("GeoDNS queries by answer %v: want one per client, none refused", dnsSources)
	}
	if len(rep.Targets) != 1 || rep.Targets[0] != "assets.example.com" {
		t.Errorf("targets %v", rep.Targets)
	}
}

func TestEndpointsModeUnknownEdge(t *testing.T) {
	dnsAddr := startDNS(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP("127.0.0.9")})
		w.WriteMsg(m)
	})
	ep := &endpoints.File{
		Sites: []string{"s.example"}, DNS: dnsAddr,
		PoPs: []endpoints.PoP{{Name: "p", ClientNetwork: "127.3.0.0/16", Edges: []endpoints.Node{{Name: "e", Address: "127.0.0.1", Ports: endpoints.Ports{HTTP: 1}}}}},
	}
	cfg := Config{Endpoints: ep, Concurrency: 1, Requests: 3, Timeout: 2 * time.Second, Logger: quietLogger()}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.ErrorsByKind[errDNS] != 3 {
		t.Errorf("errors %v, want 3 dns", rep.Total.ErrorsByKind)
	}
}

func TestEndpointsValidate(t *testing.T) {
	ep := &endpoints.File{
		Sites: []string{"s.example"}, DNS: "127.0.0.1:53",
		PoPs: []endpoints.PoP{{Name: "p", ClientNetwork: "bogus", Edges: []endpoints.Node{{Name: "e", Address: "x", Ports: endpoints.Ports{HTTP: 80}}}}},
	}
	err := Config{Endpoints: ep, Proto: ProtoH3}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	if n := strings.Count(err.Error(), "no port for"); n != 1 {
		t.Errorf("%d lines about missing ports, want one:\n%v", n, err)
	}
	for _, want := range []string{
		"endpoints.pops[0].client_network", "endpoints.pops[0].edges[0].address",
		"endpoints.pops[0].edges[0].ports: no port for h3 (1 of the edges); h3 needs TLS: start the simulation with --tls", "endpoints.pops: no PoP",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
