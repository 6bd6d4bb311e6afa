package geodns

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/selfcdn/cdn/config"
)

// freePort finds a port free for UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		pc.Close()
		if err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// startServerAt is startServer on a given address.
func startServerAt(t *testing.T, cfg Config, opts Options, addr string) *Server {
	t.Helper()
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- s.ListenAndServe(ctx, addr) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("ListenAndServe %s: %v", addr, err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server not ready within 10s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe returned %v", err)
		}
	})
	return s
}

func counterWith(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	return metricValue(t, reg, name, label, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}

// TestForgedResponsesDoNotLoop: a response packet sent to ns1 from ns2's
// own address and port (the forgery that made two nodes trade FORMERRs
// for ever) is dropped by ns1, and nothing reaches ns2. The sender shares
// ns2's port through SO_REUSEPORT, which is how it can use ns2's address.
func TestForgedResponsesDoNotLoop(t *testing.T) {
	reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	ns1 := startServer(t, testConfig(), Options{Registerer: reg1})
	port := freePort(t)
	ns2addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ns2 := startServerAt(t, testConfig(), Options{Registerer: reg2}, ns2addr)

	lc := net.ListenConfig{Control: reusePort}
	forger, err := lc.ListenPacket(t.Context(), "udp", ns2.Addr())
	if err != nil {
		t.Fatalf("bind ns2's address %s: %v", ns2.Addr(), err)
	}
	defer forger.Close()
	ns1UDP, err := net.ResolveUDPAddr("udp", ns1.Addr())
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []int{dns.OpcodeQuery, dns.OpcodeNotify, dns.OpcodeUpdate, 7} {
		for _, rcode := range []int{dns.RcodeFormatError, dns.RcodeSuccess} {
			m := query("edge.cdn.example.com.", dns.TypeA, 1232)
			m.Response, m.Opcode, m.Rcode = true, op, rcode
			b, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := forger.WriteTo(b, ns1UDP); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Also a packet too broken to parse, with QR set.
	if _, err := forger.WriteTo([]byte{0, 1, 0x80, 0, 0, 9, 0, 0, 0, 0, 0, 0, 3}, ns1UDP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ns1 to drop the 9 forged responses", func() bool {
		return counterWith(t, reg1, "geodns_dropped_packets_total", "response") == 9
	})
	// ns1 reads one socket in order: once it has answered a query sent
	// after the forgeries, any answer to them would have been sent.
	if r := exchange(t, ns1.Addr(), "udp", query(testZone, dns.TypeSOA, 0), nil); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("ns1 after the forgeries: %v", r)
	}
	if n := counterValue(t, reg1, "geodns_queries_total"); n != 1 {
		t.Errorf("ns1 answered %v packets, want only the real query", n)
	}
	for _, name := range []string{"geodns_queries_total", "geodns_dropped_packets_total", "geodns_malformed_queries_total"} {
		if n := counterValue(t, reg2, name); n != 0 {
			t.Errorf("ns2 %s = %v: something reached it", name, n)
		}
	}
	_ = forger.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 512)
	if n, from, err := forger.ReadFrom(buf); err == nil {
		t.Errorf("ns1 answered a forged response: %d bytes from %v", n, from)
	}
}

// TestNoAnswerForUnassignedOpcodes: NOTIMP (with an OPT for an EDNS query)
// for assigned opcodes that are not served, silence for unassigned ones.
func TestOpcodes(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startServer(t, testConfig(), Options{Registerer: reg})
	for _, op := range []int{dns.OpcodeIQuery, dns.OpcodeStatus, dns.OpcodeNotify, dns.OpcodeUpdate} {
		m := query(testZone, dns.TypeSOA, 1232)
		m.Opcode = op
		m.AuthenticatedData = true
		m.IsEdns0().SetDo()
		for _, via := range []string{"udp", "tcp"} {
			r := exchange(t, s.Addr(), via, m, nil)
			if r.Rcode != dns.RcodeNotImplemented || r.Opcode != op || r.AuthenticatedData {
				t.Errorf("opcode %d over %s: rcode %s opcode %d AD %v", op, via, dns.RcodeToString[r.Rcode], r.Opcode, r.AuthenticatedData)
			}
			if o := r.IsEdns0(); o == nil || !o.Do() || o.UDPSize() != ourUDPSize {
				t.Errorf("opcode %d over %s: OPT %v, want ours with DO", op, via, o)
			}
			if len(r.Question) != 1 || r.Question[0].Name != testZone {
				t.Errorf("opcode %d over %s: question %v not echoed", op, via, r.Question)
			}
		}
	}
	for _, op := range []int{3, 7, 15} {
		m := query(testZone, dns.TypeSOA, 1232)
		m.Opcode = op
		b, _ := m.Pack()
		if out := rawExchange(t, s.Addr(), b, 300*time.Millisecond); out != nil {
			t.Errorf("unassigned opcode %d answered: %x", op, out)
		}
	}
	if n := counterWith(t, reg, "geodns_dropped_packets_total", "opcode"); n != 3 {
		t.Errorf("%v dropped for their opcode, want 3", n)
	}
}

// TestCacheKeyedOnDatabaseNetwork: addresses of one /24 that fall in
// different database networks get their own PoP and scope in either
// order; the scope is the database network capped by the source prefix.
func TestCacheKeyedOnDatabaseNetwork(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = maxmindDB(t, "GeoLite2-City-Test.mmdb")
	type ask struct {
		ecs   string
		pop   string
		scope uint8
	}
	london := ask{"81.2.69.142/32", "london", 31}
	unknown := ask{"81.2.69.1/32", "ashburn", 25} // 81.2.69.0/25: no record
	linkoping := ask{"89.160.20.112/32", "london", 28}
	slash24 := ask{"89.160.20.0/24", "ashburn", 24} // 89.160.20.0/26 capped at /24
	mapped := ask{"::ffff:81.2.69.142/128", "london", 96 + 31}
	mapped120 := ask{"::ffff:81.2.69.0/120", "ashburn", 120}
	for _, order := range [][]ask{
		{london, unknown, linkoping, slash24, mapped, mapped120},
		{unknown, london, slash24, linkoping, mapped120, mapped},
	} {
		s := startServer(t, cfg, Options{})
		for _, a := range order {
			for _, via := range []string{"udp", "tcp"} {
				r := exchange(t, s.Addr(), via, withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), a.ecs), nil)
				if got := answerPoPs(r); !slices.Equal(got, []string{a.pop}) {
					t.Errorf("%s over %s: %v, want %s", a.ecs, via, got, a.pop)
				}
				if e := responseECS(r); e == nil || e.SourceScope != a.scope {
					t.Errorf("%s over %s: ECS %v, want scope /%d", a.ecs, via, e, a.scope)
				}
			}
		}
	}
}

// TestLocationIndependentNODATA: a geo name with no address of the asked
// family anywhere is NODATA with scope 0.
func TestLocationIndependentNODATA(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = maxmindDB(t, "GeoLite2-City-Test.mmdb")
	for i := range cfg.PoPs {
		for j := range cfg.PoPs[i].Edges {
			cfg.PoPs[i].Edges[j].Addrs = cfg.PoPs[i].Edges[j].Addrs[:1] // IPv4 only
		}
	}
	s := startServer(t, cfg, Options{})
	r := exchange(t, s.Addr(), "udp", withECS(query("edge.cdn.example.com.", dns.TypeAAAA, 1232), "81.2.69.142/32"), nil)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Fatalf("not NODATA: %v", r)
	}
	if e := responseECS(r); e == nil || e.SourceScope != 0 {
		t.Errorf("ECS %v, want scope 0", e)
	}
}

// rawQuery packs a query for edge.cdn.example.com. A with an OPT whose DO
// bit is set and whose only option is ecs (option code 8 data).
func rawQuery(t *testing.T, ecs []byte) []byte {
	m := query("edge.cdn.example.com.", dns.TypeA, 1232)
	m.AuthenticatedData = true
	m.IsEdns0().SetDo()
	if ecs != nil {
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: ecs}}
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tcpExchange sends a raw packet over TCP and returns the response.
func tcpExchange(t *testing.T, addr string, packet []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	out := binary.BigEndian.AppendUint16(nil, uint16(len(packet)))
	if _, err := c.Write(append(out, packet...)); err != nil {
		t.Fatal(err)
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatalf("read TCP response length: %v", err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read TCP response: %v", err)
	}
	return buf
}

// TestFormErrCarriesOPT: malformed ECS options that the parser rejects,
// trailing garbage and an ARCOUNT larger than the packet are FORMERR, with
// our OPT (DO copied) when the query had one, the question echoed, and AD
// clear; over UDP and TCP.
func TestFormErrCarriesOPT(t *testing.T) {
	s := startServer(t, testConfig(), Options{})
	good := rawQuery(t, nil)
	moreAR := slices.Clone(good)
	binary.BigEndian.PutUint16(moreAR[10:], 2)
	tests := []struct {
		name    string
		packet  []byte
		withOPT bool
	}{
		{"ECS too short", rawQuery(t, []byte{0, 1}), true},
		{"ECS family 3", rawQuery(t, []byte{0, 3, 24, 0, 81, 2, 69}), true},
		{"ECS prefix 33", rawQuery(t, []byte{0, 1, 33, 0, 81, 2, 69, 142}), true},
		{"trailing garbage", append(slices.Clone(good), 0xde, 0xad, 0xbe, 0xef), true},
		{"ARCOUNT larger than the packet", moreAR, true},
		{"trailing garbage without EDNS", append(pack(t, query(testZone, dns.TypeSOA, 0)), 1, 2, 3), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []string{"udp", "tcp"} {
				var out []byte
				if via == "udp" {
					out = rawExchange(t, s.Addr(), tc.packet, 5*time.Second)
				} else {
					out = tcpExchange(t, s.Addr(), tc.packet)
				}
				var r dns.Msg
				if err := r.Unpack(out); err != nil {
					t.Fatalf("%s: response %x does not parse: %v", via, out, err)
				}
				if r.Rcode != dns.RcodeFormatError || !r.Response || r.AuthenticatedData || r.Authoritative {
					t.Errorf("%s: rcode %s QR %v AD %v AA %v", via, dns.RcodeToString[r.Rcode], r.Response, r.AuthenticatedData, r.Authoritative)
				}
				o := r.IsEdns0()
				if tc.withOPT && (o == nil || !o.Do() || o.Version() != 0) {
					t.Errorf("%s: OPT %v, want ours with DO", via, o)
				}
				if !tc.withOPT && o != nil {
					t.Errorf("%s: OPT in the answer to a query without one", via)
				}
				if len(r.Question) != 1 {
					t.Errorf("%s: question %v not echoed", via, r.Question)
				}
			}
		})
	}
}

func pack(t *testing.T, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIXFRRefused: an IXFR, which carries the client's SOA in the
// authority section (RFC 1995 §3), is REFUSED as AXFR is.
func TestIXFRRefused(t *testing.T) {
	s := startServer(t, testConfig(), Options{})
	m := query(testZone, dns.TypeIXFR, 0)
	m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: testZone, Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: "ns1.cdn.example.com.", Mbox: "h.cdn.example.com.", Serial: 1}}
	for _, via := range []string{"udp", "tcp"} {
		if r := exchange(t, s.Addr(), via, m, nil); r.Rcode != dns.RcodeRefused {
			t.Errorf("IXFR over %s: %s, want REFUSED", via, dns.RcodeToString[r.Rcode])
		}
	}
	if r := exchange(t, s.Addr(), "tcp", query(testZone, dns.TypeAXFR, 0), nil); r.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
}

// TestBADVERSLabel: BADVERS answers are counted as BADVERS, not BADSIG.
func TestBADVERSLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startServer(t, testConfig(), Options{Registerer: reg})
	m := query(testZone, dns.TypeSOA, 1232)
	m.IsEdns0().SetVersion(1)
	if r := exchange(t, s.Addr(), "udp", m, nil); r.Rcode != dns.RcodeBadVers {
		t.Fatalf("rcode %d, want BADVERS", r.Rcode)
	}
	if n := counterWith(t, reg, "geodns_queries_total", "BADVERS"); n != 1 {
		t.Errorf("BADVERS counted %v times", n)
	}
	if n := counterWith(t, reg, "geodns_queries_total", "BADSIG"); n != 0 {
		t.Errorf("BADSIG counted %v times", n)
	}
}

const clusterYAML = `
zone: cdn.example.com
sites:
  - host: www.cdn.example.com
    origin: web
origins:
  web:
    servers: [{url: "http://127.0.0.1:8080"}]
pops:
  - name: lon
    location: {lat: 51.5, lon: -0.1}
    edges: [{name: lon-1, address: 127.0.10.1}]
ports: {admin: 9090}
geodns:
  geoip: %s
  nodes:
    - {name: ns1, address: 127.0.0.53}
    - {name: ns2, address: 127.0.0.54}
%s
`

// writeCluster writes a cluster file with extra lines under geodns.
func writeCluster(t *testing.T, dir, extra string) string {
	t.Helper()
	p := filepath.Join(dir, "cluster.yaml")
	db := writeCityDB(t, simPlaces...)
	if err := os.WriteFile(p, fmt.Appendf(nil, clusterYAML, db, extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadNode(t *testing.T, path, node string) Config {
	t.Helper()
	cl, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := FromCluster(cl, node)
	if err != nil {
		t.Fatal(err)
	}
	c.Health.Disabled = true
	return c
}

func soaSerial(t *testing.T, addr string) uint32 {
	t.Helper()
	r := exchange(t, addr, "udp", query(testZone, dns.TypeSOA, 0), nil)
	if len(r.Answer) != 1 {
		t.Fatalf("SOA answer %v", r.Answer)
	}
	return r.Answer[0].(*dns.SOA).Serial
}

// TestSerialSameOnEveryNode: two nodes of one cluster file, started at
// different times, publish one serial; geodns.serial sets it; a change of
// the zone changes it.
func TestSerialSameOnEveryNode(t *testing.T) {
	dir := t.TempDir()
	path := writeCluster(t, dir, "")
	ns1 := startServer(t, loadNode(t, path, "ns1"), Options{Now: func() time.Time { return time.Unix(1e9, 0) }})
	ns2 := startServer(t, loadNode(t, path, "ns2"), Options{Now: func() time.Time { return time.Unix(2e9, 0) }})
	s1, s2 := soaSerial(t, ns1.Addr()), soaSerial(t, ns2.Addr())
	if s1 != s2 || s1 == 0 {
		t.Errorf("serials %d and %d", s1, s2)
	}
	path2 := writeCluster(t, t.TempDir(), "  ttl: 45s")
	if s3 := soaSerial(t, startServer(t, loadNode(t, path2, "ns1"), Options{}).Addr()); s3 == s1 {
		t.Errorf("serial %d unchanged by a zone change", s3)
	}
	path3 := writeCluster(t, t.TempDir(), "  serial: 2026120201")
	if s := soaSerial(t, startServer(t, loadNode(t, path3, "ns2"), Options{}).Addr()); s != 2026120201 {
		t.Errorf("serial %d, want geodns.serial", s)
	}
}

// TestFailedReloadCounted: a reload whose cluster file does not parse is
// counted as an error and the server keeps answering.
func TestFailedReloadCounted(t *testing.T) {
	dir := t.TempDir()
	path := writeCluster(t, dir, "")
	reg := prometheus.NewRegistry()
	s := startServer(t, loadNode(t, path, "ns1"), Options{Registerer: reg})
	if err := os.WriteFile(path, []byte("zone: [unclosed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.ReloadWith(func() (Config, error) {
		cl, err := config.Load(path)
		if err != nil {
			return Config{}, err
		}
		c, _, err := FromCluster(cl, "ns1")
		return c, err
	})
	if err == nil {
		t.Fatal("reload of broken YAML succeeded")
	}
	if n := counterWith(t, reg, "geodns_reloads_total", "error"); n != 1 {
		t.Errorf("reloads{error} = %v, want 1", n)
	}
	if r := exchange(t, s.Addr(), "udp", query("www.cdn.example.com.", dns.TypeA, 0), nil); len(r.Answer) == 0 {
		t.Errorf("no answer after a failed reload: %v", r)
	}
}

// TestEdgesStartUnknown: before any probe result the whole PoP is served;
// once the first round is in, an edge whose first probe failed is not,
// without waiting for fall failures.
func TestEdgesStartUnknown(t *testing.T) {
	release := make(chan struct{})
	slowDown := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer slowDown.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	up := newHealthEndpoint(t)
	cfg := testConfig()
	cfg.Health = HealthConfig{Interval: time.Hour, Timeout: 30 * time.Second, Rise: 2, Fall: 2}
	cfg.PoPs[1].Edges[0].HealthURL = slowDown.URL // iad-1: its probe hangs, then fails
	cfg.PoPs[1].Edges[1].HealthURL = up.srv.URL   // iad-2
	s := startServer(t, cfg, Options{})
	ask := func() []string {
		r := exchange(t, s.Addr(), "udp", query("edge.cdn.example.com.", dns.TypeA, 0), nil)
		var out []string
		for _, a := range answerAddrs(r) {
			out = append(out, a.String())
		}
		slices.Sort(out)
		return out
	}
	if got := ask(); !slices.Equal(got, []string{"10.2.0.1", "10.2.0.2"}) {
		t.Errorf("before any result: %v, want the whole PoP", got)
	}
	if st := statusOf(s, "iad-1"); st.Probed || st.Healthy {
		t.Errorf("iad-1 before its first result: %+v", st)
	}
	close(release)
	waitFor(t, 20*time.Second, "the first probe round", func() bool { return statusOf(s, "iad-1").Probed })
	if got := ask(); !slices.Equal(got, []string{"10.2.0.2"}) {
		t.Errorf("after a failed first probe: %v, want iad-2 only", got)
	}
}

// TestAnswerBalancers: with geodns.answer balancers, a PoP with balancers
// is answered with the healthy ones (a TCP connect to ports.http), one
// that refuses connections is dropped, and a PoP without balancers keeps
// its edges.
func TestAnswerBalancers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.20.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	yaml := fmt.Sprintf(`
zone: cdn.example.com
sites:
  - host: www.cdn.example.com
    origin: web
origins:
  web:
    servers: [{url: "http://127.0.0.1:8080"}]
pops:
  - name: lon
    location: {lat: 51.5, lon: -0.1}
    edges: [{name: lon-1, address: 127.0.10.1}]
    balancers:
      - {name: lon-l4-1, address: 127.0.20.1}
      - {name: lon-l4-2, address: 127.0.20.2}
  - name: nyc
    location: {lat: 40.7, lon: -74.0}
    edges: [{name: nyc-1, address: 127.0.11.1}]
ports: {http: %d, admin: 9090}
geodns:
  geoip: %s
  answer: balancers
  health: {interval: 100ms, timeout: 2s}
  nodes: [{name: ns1, address: 127.0.0.53}]
`, port, writeCityDB(t, simPlaces...))
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := FromCluster(cl, "ns1")
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.PoPs[1].Edges; len(e) != 1 || e[0].Name != "nyc-1" {
		t.Errorf("PoP without balancers: %+v, want its edge", e)
	}
	cfg.PoPs[1].Edges[0].HealthURL = "" // nyc-1 has no admin port here
	s := startServer(t, cfg, Options{})
	ask := func(ecs string) []string {
		r := exchange(t, s.Addr(), "udp", withECS(query("www.cdn.example.com.", dns.TypeA, 1232), ecs), nil)
		var out []string
		for _, a := range answerAddrs(r) {
			out = append(out, a.String())
		}
		slices.Sort(out)
		return out
	}
	waitFor(t, 20*time.Second, "both balancers probed", func() bool {
		return statusOf(s, "lon-l4-1").Probed && statusOf(s, "lon-l4-2").Probed
	})
	if got := ask("127.1.0.0/16"); !slices.Equal(got, []string{"127.0.20.1"}) {
		t.Errorf("London: %v, want the healthy balancer only", got)
	}
	if got := ask("127.2.0.0/16"); !slices.Equal(got, []string{"127.0.11.1"}) {
		t.Errorf("New York: %v, want its edge", got)
	}
	ln.Close()
	waitFor(t, 20*time.Second, "lon-l4-1 to fail its checks", func() bool { return !statusOf(s, "lon-l4-1").Healthy })
	if got := ask("127.1.0.0/16"); !slices.Equal(got, []string{"127.0.11.1"}) {
		t.Errorf("London with both balancers down: %v, want the next PoP", got)
	}
}

// TestClusterGeoDNSKeysValidated: the new geodns keys are checked.
func TestClusterGeoDNSKeysValidated(t *testing.T) {
	for extra, want := range map[string]string{
		"  answer: nodes":                              "geodns.answer",
		"  dnssec: {key: k.key}":                       "geodns.dnssec",
		"  dnssec: {key: a, private: b, validity: 1h}": "geodns.dnssec.validity",
	} {
		_, err := config.Load(writeCluster(t, t.TempDir(), extra))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want a problem with %s", extra, err, want)
		}
	}
}
