package sim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/endpoints"
)

// startTestSim starts the default topology on random high ports in a temp
// work dir, with short GeoDNS health intervals. Ports must be free on every
// address, so a conflict retries with other ports.
func startTestSim(t *testing.T, mod func(*Options)) *Sim {
	t.Helper()
	var lastErr error
	for range 5 {
		base := 20000 + rand.IntN(40000)
		opts := Options{
			HTTPPort:  base,
			AdminPort: base + 1,
			DNSPort:   base + 2,
			NATSPort:  base + 3,
			WorkDir:   t.TempDir(),
		}
		cl := DefaultCluster(opts)
		cl.GeoDNS.Health = config.HealthCheck{
			Path:     "/healthz",
			Interval: config.Duration(100 * time.Millisecond),
			Timeout:  config.Duration(200 * time.Millisecond),
			Rise:     2, Fall: 2,
		}
		opts.Cluster = cl
		if mod != nil {
			mod(&opts)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s, err := Start(ctx, opts)
		if err == nil {
			t.Cleanup(func() {
				cancel()
				if err := s.Wait(); err != nil {
					t.Errorf("simulation stopped with: %v", err)
				}
			})
			return s
		}
		cancel()
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	t.Fatalf("start simulation: %v", lastErr)
	return nil
}

// queryFrom asks the simulation's GeoDNS for the site's A records from
// source address src, optionally with an EDNS Client Subnet.
func queryFrom(t *testing.T, s *Sim, src netip.Addr, ecs netip.Prefix) ([]string, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(SiteHost), dns.TypeA)
	if ecs.IsValid() {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1,
			SourceNetmask: uint8(ecs.Bits()), Address: ecs.Addr().AsSlice()})
		m.Extra = append(m.Extra, o)
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: src.AsSlice()}}}
	r, _, err := c.Exchange(m, s.Endpoints().DNS)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out, nil
}

func popEdges(ep *endpoints.File, pop string) []string {
	var out []string
	for _, p := range ep.PoPs {
		if p.Name == pop {
			for _, e := range p.Edges {
				out = append(out, e.Address)
			}
		}
	}
	slices.Sort(out)
	return out
}

// fetchFrom GETs path from the edge at edgeAddr with source address src and
// the site's Host, and checks the body against its Repr-Digest (RFC 9530
// §3: sha-256=:base64:).
func fetchFrom(t *testing.T, s *Sim, src netip.Addr, edgeAddr, path string) *http.Response {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	tr := &http.Transport{DialContext: d.DialContext, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	u := "http://" + hostPort(edgeAddr, s.Cluster().Ports.HTTP) + path
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = SiteHost
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", u, src, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s from %s: status %d: %s", u, src, resp.StatusCode, body)
	}
	sum := sha256.Sum256(body)
	want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	if got := resp.Header.Get("Repr-Digest"); got != want {
		t.Fatalf("GET %s: Repr-Digest %q, body hashes to %q (%d bytes)", u, got, want, len(body))
	}
	return resp
}

// originCount reads GET /_origin/stats and returns the requests for path.
func originCount(t *testing.T, s *Sim, path string) int64 {
	t.Helper()
	resp, err := http.Get(s.Endpoints().Origin + "/_origin/stats")
	if err != nil {
		t.Fatalf("origin stats: %v", err)
	}
	defer resp.Body.Close()
	var st struct {
		Total int64            `json:"total"`
		Paths map[string]int64 `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode origin stats: %v", err)
	}
	return st.Paths[path]
}

// waitAnswer polls GeoDNS from src until the answer equals want.
func waitAnswer(t *testing.T, s *Sim, src netip.Addr, want []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got []string
	var err error
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		got, err = queryFrom(t, s, src, netip.Prefix{})
		if err == nil && slices.Equal(got, want) {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for a server
	}
	t.Fatalf("GeoDNS answer from %s: got %v (err %v), want %v within %s", src, got, err, want, within)
}

func TestSimulationEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole CDN; skipped with -short")
	}
	s := startTestSim(t, nil)
	ep := s.Endpoints()

	// Every region lands on its own PoP, by source address and by ECS.
	for _, r := range s.Regions() {
		want := popEdges(ep, r.PoP)
		got, err := queryFrom(t, s, r.ClientAddr(), netip.Prefix{})
		if err != nil {
			t.Fatalf("query from %s: %v", r.ClientAddr(), err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("region %s (from %s): answer %v, want %s's edges %v", r.PoP, r.ClientAddr(), got, r.PoP, want)
		}
		got, err = queryFrom(t, s, netip.MustParseAddr("127.0.0.1"), netip.PrefixFrom(r.ClientAddr(), 24).Masked())
		if err != nil {
			t.Fatalf("ECS query for %s: %v", r.Network, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("region %s (ECS %s/24): answer %v, want %v", r.PoP, r.ClientAddr(), got, want)
		}
	}

	// An object fetched in one region, then in another, reaches the origin
	// once: the second edge misses and gets it from the shield that owns
	// the key.
	const path = "/gen/e2e-object"
	const query = "?size=20000&cc=public,max-age=300"
	regions := s.Regions()
	us, eu := regions[0], regions[1]
	usEdges, _ := queryFrom(t, s, us.ClientAddr(), netip.Prefix{})
	resp := fetchFrom(t, s, us.ClientAddr(), usEdges[0], path+query)
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=") {
		t.Errorf("first fetch Cache-Status %q: want a forward (miss)", cs)
	}
	if n := originCount(t, s, path); n != 1 {
		t.Fatalf("origin requests for %s after first fetch: %d, want 1", path, n)
	}
	euEdges, _ := queryFrom(t, s, eu.ClientAddr(), netip.Prefix{})
	fetchFrom(t, s, eu.ClientAddr(), euEdges[0], path+query)
	if n := originCount(t, s, path); n != 1 {
		t.Errorf("origin requests for %s after a fetch in a second region: %d, want still 1", path, n)
	}
	resp = fetchFrom(t, s, eu.ClientAddr(), euEdges[0], path+query)
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Errorf("repeat fetch Cache-Status %q: want a hit", cs)
	}

	// Killing an edge takes it out of the answers; restarting brings it back.
	ap := regions[2]
	apEdges := popEdges(ep, ap.PoP)
	victim := s.Cluster().PoPs[2].Edges[0]
	if err := s.KillNode(victim.Name); err != nil {
		t.Fatal(err)
	}
	if s.Edge(victim.Name) != nil {
		t.Errorf("Edge(%s) after KillNode: want nil", victim.Name)
	}
	survivors := slices.DeleteFunc(slices.Clone(apEdges), func(a string) bool { return a == victim.Address })
	waitAnswer(t, s, ap.ClientAddr(), survivors, 10*time.Second)
	if err := s.StartNode(victim.Name); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, s, ap.ClientAddr(), apEdges, 10*time.Second)
	fetchFrom(t, s, ap.ClientAddr(), victim.Address, path+query)
	if n := originCount(t, s, path); n != 1 {
		t.Errorf("origin requests after the restarted edge fetched: %d, want 1 (from a shield)", n)
	}

	var sum strings.Builder
	if err := s.WriteSummary(&sum, "bin/cdn"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("dig @127.0.53.1 -p %d -b 127.2.0.10 %s", s.Cluster().GeoDNS.Port, SiteHost),
		fmt.Sprintf("--resolve %s:%d:127.0.2.1", SiteHost, s.Cluster().Ports.HTTP),
		"bin/cdn purge --admin " + ep.Admin.URL + " --token " + s.Token(),
		"bin/cdn loadtest --endpoints " + s.EndpointsPath(),
	} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}

	// The endpoints file on disk is what Endpoints returns.
	onDisk, err := endpoints.Read(s.EndpointsPath())
	if err != nil {
		t.Fatal(err)
	}
	if onDisk.DNS != ep.DNS || onDisk.Admin.Token != s.Token() || len(onDisk.PoPs) != 3 {
		t.Errorf("endpoints file %+v does not match the running simulation", onDisk)
	}
}
