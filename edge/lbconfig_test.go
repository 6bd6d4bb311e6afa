package edge

import (
	"net/netip"
	"testing"
	"time"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/lb"
)

// Every balancing and passive-health key of the cluster file reaches the
// pools the edge builds, and takes effect there.
func TestLoadBalancingOptionsFromClusterFile(t *testing.T) {
	cl, err := config.Parse([]byte(`
zone: cdn.example.com
sites: [{host: a.example.com, origin: main}]
origins:
  main:
    policy: ip_hash
    servers: [{url: "http://127.0.0.1:1"}, {url: "http://127.0.0.1:2"}]
    balancing: {table_size: 211, virtual_nodes: 7, load_factor: 0.5, ipv4_prefix: 16, ipv6_prefix: 48}
    passive: {max_fails: 1, cool_down: 1m}
  quiet:
    policy: maglev
    servers: [{url: "http://127.0.0.1:3"}]
    passive: {max_fails: -1}
shields:
  policy: maglev
  nodes: [{name: s1, address: 127.0.0.2}, {name: s2, address: 127.0.0.3}]
  balancing: {table_size: 1009}
  passive: {max_fails: 5, cool_down: 3s}
pops: [{name: p, location: {lat: 0, lon: 0}, edges: [{name: e1, address: 127.0.0.4}]}]
purge: {token: t0ken-for-tests-only}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewFromCluster(ClusterOptions{Cluster: cl, Node: "e1", NoPurge: true})
	if err != nil {
		t.Fatal(err)
	}
	pools := map[string]*lb.Pool{}
	for _, set := range srv.p.routes.Load().sets {
		pools[set.name] = set.pool
	}
	main, quiet, shields := pools["origin/main"], pools["origin/quiet"], pools["shields"]
	if main == nil || quiet == nil || shields == nil {
		t.Fatalf("pools: %v", pools)
	}
	if o := main.Config().Options; o.TableSize != 211 || o.VirtualNodes != 7 || o.LoadFactor != 0.5 || o.IPv4PrefixLen != 16 || o.IPv6PrefixLen != 48 {
		t.Errorf("origin/main options %+v", o)
	}
	if p := main.Config().Passive; p.MaxFails != 1 || p.CoolDown != time.Minute {
		t.Errorf("origin/main passive %+v", p)
	}
	if p := quiet.Config().Passive; p.MaxFails != 0 {
		t.Errorf("max_fails -1 should turn ejection off, got %+v", p)
	}
	if p := shields.Config().Passive; p.MaxFails != 5 || p.CoolDown != 3*time.Second {
		t.Errorf("shields passive %+v", p)
	}
	if m, ok := shields.Selector().(*lb.Maglev); !ok || m.TableSize() != 1009 {
		t.Errorf("shields selector %T, want a Maglev with 1009 slots", shields.Selector())
	}

	// ip_hash over a /16: clients of one /16 share a server.
	sel := main.Selector()
	pick := func(a string) string {
		b := sel.Select(&lb.Request{ClientIP: netip.MustParseAddr(a)})
		if b == nil {
			t.Fatal("no backend picked")
		}
		return b.Name
	}
	first := pick("10.1.0.1")
	for _, a := range []string{"10.1.200.7", "10.1.255.254", "10.1.3.3"} {
		if got := pick(a); got != first {
			t.Errorf("%s went to %s, 10.1.0.1 to %s: a /16 prefix should keep them together", a, got, first)
		}
	}

	seen := map[string]bool{}
	for i := range 32 {
		seen[pick(netip.AddrFrom4([4]byte{10, byte(i + 2), 9, 9}).String())] = true
	}
	if len(seen) < 2 {
		t.Error("32 different /16s all went to one server: the prefix is not what is hashed")
	}

	// max_fails 1: one failure ejects; with max_fails -1 nothing does.
	b := main.Backends()[0]
	b.ReportResult(false)
	if !b.Ejected() {
		t.Error("origin/main: one failure did not eject with max_fails 1")
	}
	q := quiet.Backends()[0]
	for range 10 {
		q.ReportResult(false)
	}
	if q.Ejected() {
		t.Error("origin/quiet: ejected with max_fails -1")
	}
}
