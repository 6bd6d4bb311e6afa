package deploy

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/endpoints"
)

const clusterInContainer = "/etc/cdn/cluster.yaml"

// loadProject parses docker-compose.yml as `docker compose` would, with
// the environment it needs for interpolation.
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"docker-compose.yml"},
		cli.WithWorkingDirectory("."),
		cli.WithName("cdn"),
		cli.WithEnv([]string{"CDN_ADMIN_TOKEN=test-token"}),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func loadCluster(t *testing.T) *config.Cluster {
	t.Helper()
	cl, err := config.Load("cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// subnets returns each compose network's IPv4 subnet.
func subnets(t *testing.T, p *types.Project) map[string]netip.Prefix {
	t.Helper()
	out := map[string]netip.Prefix{}
	for name, n := range p.Networks {
		if len(n.Ipam.Config) != 1 {
			t.Errorf("network %s: want exactly one fixed subnet, got %d", name, len(n.Ipam.Config))
			continue
		}
		pfx, err := netip.ParsePrefix(n.Ipam.Config[0].Subnet)
		if err != nil {
			t.Errorf("network %s: subnet: %v", name, err)
			continue
		}
		out[name] = pfx
	}
	return out
}

// TestNetworksAreConsistent: every network has a fixed subnet of its own,
// every fixed address lies in its network's subnet, and no address is
// given twice.
func TestNetworksAreConsistent(t *testing.T) {
	p := loadProject(t)
	nets := subnets(t, p)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range nets {
			if !yield(n) {
				return
			}
		}
	})
	for i, a := range names {
		for _, b := range names[i+1:] {
			if nets[a].Overlaps(nets[b]) {
				t.Errorf("networks %s (%s) and %s (%s) overlap", a, nets[a], b, nets[b])
			}
		}
	}
	used := map[netip.Addr]string{}
	for _, s := range p.Services {
		for net, cfg := range s.Networks {
			if cfg == nil || cfg.Ipv4Address == "" {
				t.Errorf("service %s on network %s: no fixed ipv4_address", s.Name, net)
				continue
			}
			a, err := netip.ParseAddr(cfg.Ipv4Address)
			if err != nil {
				t.Errorf("service %s: ipv4_address: %v", s.Name, err)
				continue
			}
			if pfx, ok := nets[net]; !ok || !pfx.Contains(a) {
				t.Errorf("service %s: address %s is not in network %s (%s)", s.Name, a, net, pfx)
			}
			if prev, dup := used[a]; dup {
				t.Errorf("address %s is given to %s and %s", a, prev, s.Name)
			}
			used[a] = s.Name
		}
	}
}

// TestNodesHaveServices: every edge, shield and GeoDNS node of the
// cluster file runs as `cdn ROLE --config /etc/cdn/cluster.yaml --node
// NAME`, with the node's address on the network that holds it, and the
// cluster file mounted.
func TestNodesHaveServices(t *testing.T) {
	p := loadProject(t)
	cl := loadCluster(t)
	nets := subnets(t, p)
	type want struct{ name, role, addr string }
	var nodes []want
	for _, n := range cl.Shields.Nodes {
		nodes = append(nodes, want{n.Name, "edge", n.Address})
	}
	for _, pop := range cl.PoPs {
		for _, n := range pop.Edges {
			nodes = append(nodes, want{n.Name, "edge", n.Address})
		}
	}
	for _, n := range cl.GeoDNS.Nodes {
		nodes = append(nodes, want{n.Name, "geodns", n.Address})
	}
	byNode := map[string]types.ServiceConfig{}
	for _, s := range p.Services {
		c := s.Command
		if len(c) >= 6 && c[0] == "cdn" && (c[1] == "edge" || c[1] == "geodns") {
			if len(c) != 6 || c[2] != "--config" || c[3] != clusterInContainer || c[4] != "--node" {
				t.Errorf("service %s: command %q, want cdn %s --config %s --node NAME", s.Name, c, c[1], clusterInContainer)
				continue
			}
			byNode[c[5]] = s
		}
	}
	for _, n := range nodes {
		s, ok := byNode[n.name]
		if !ok {
			t.Errorf("node %s: no service runs `cdn %s --config %s --node %s`", n.name, n.role, clusterInContainer, n.name)
			continue
		}
		if s.Command[1] != n.role {
			t.Errorf("node %s: service %s runs cdn %s, want cdn %s", n.name, s.Name, s.Command[1], n.role)
		}
		addr := netip.MustParseAddr(n.addr)
		found := false
		for net, cfg := range s.Networks {
			if pfx, ok := nets[net]; ok && pfx.Contains(addr) {
				found = true
				if got := ""; cfg == nil || cfg.Ipv4Address != n.addr {
					if cfg != nil {
						got = cfg.Ipv4Address
					}
					t.Errorf("node %s: service %s on network %s has address %q, want %s", n.name, s.Name, net, got, n.addr)
				}
			}
		}
		if !found {
			t.Errorf("node %s: service %s is on no network holding %s", n.name, s.Name, n.addr)
		}
		if !mounts(s, "./cluster.yaml", clusterInContainer) {
			t.Errorf("node %s: service %s does not mount cluster.yaml at %s", n.name, s.Name, clusterInContainer)
		}
		if n.role == "geodns" && !mounts(s, "./geoip", filepath.Dir(cl.GeoDNS.GeoIP)) {
			t.Errorf("node %s: service %s does not mount ./geoip at %s", n.name, s.Name, filepath.Dir(cl.GeoDNS.GeoIP))
		}
	}
	if len(byNode) != len(nodes) {
		t.Errorf("%d services run cluster nodes, the cluster file has %d nodes", len(byNode), len(nodes))
	}
}

// mounts reports whether s bind-mounts host path src (relative to this
// folder) at target.
func mounts(s types.ServiceConfig, src, target string) bool {
	abs, _ := filepath.Abs(src)
	for _, v := range s.Volumes {
		if v.Target == target && (v.Source == src || v.Source == abs) {
			return true
		}
	}
	return false
}

// TestEveryEdgeReachesItsUpstreams: edges and shields can reach the
// shields, the origin and the NATS servers; every GeoDNS node can reach
// every edge's admin address to probe its health.
func TestEveryEdgeReachesItsUpstreams(t *testing.T) {
	p := loadProject(t)
	cl := loadCluster(t)
	nets := subnets(t, p)
	reach := func(s types.ServiceConfig, addr string) bool {
		a := netip.MustParseAddr(addr)
		for net := range s.Networks {
			if nets[net].Contains(a) {
				return true
			}
		}
		return false
	}
	var upstreams []string
	for _, n := range cl.Shields.Nodes {
		upstreams = append(upstreams, n.Address)
	}
	for _, o := range cl.Origins {
		for _, srv := range o.Servers {
			host := strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
			host = host[:strings.LastIndex(host, ":")]
			upstreams = append(upstreams, host)
		}
	}
	for _, u := range cl.Purge.NATS.URLs {
		host := strings.TrimPrefix(u, "nats://")
		upstreams = append(upstreams, host[:strings.LastIndex(host, ":")])
	}
	svc := func(node string) (types.ServiceConfig, bool) {
		for _, s := range p.Services {
			if len(s.Command) == 6 && s.Command[5] == node {
				return s, true
			}
		}
		return types.ServiceConfig{}, false
	}
	for _, pop := range cl.PoPs {
		for _, e := range pop.Edges {
			s, ok := svc(e.Name)
			if !ok {
				continue // reported by TestNodesHaveServices
			}
			for _, u := range upstreams {
				if !reach(s, u) {
					t.Errorf("edge %s (service %s) cannot reach %s", e.Name, s.Name, u)
				}
			}
			for _, g := range cl.GeoDNS.Nodes {
				if gs, ok := svc(g.Name); ok && !reach(gs, e.Address) {
					t.Errorf("GeoDNS %s cannot reach edge %s at %s to probe it", g.Name, e.Name, e.Address)
				}
			}
		}
	}
}

// TestNATSCluster: three NATS servers with JetStream, routed to each
// other, at the addresses the cluster file's purge.nats.urls name.
func TestNATSCluster(t *testing.T) {
	p := loadProject(t)
	cl := loadCluster(t)
	var servers []types.ServiceConfig
	for _, s := range p.Services {
		if strings.HasPrefix(s.Image, "nats:") {
			servers = append(servers, s)
		}
	}
	if len(servers) != 3 {
		t.Fatalf("%d NATS services, want 3", len(servers))
	}
	if *cl.Purge.NATS.Embedded {
		t.Errorf("cluster.yaml: purge.nats.embedded is true; compose runs a NATS cluster")
	}
	var addrs []string
	for _, s := range servers {
		args := strings.Join(s.Command, " ")
		for _, flag := range []string{"--jetstream", "--cluster nats://0.0.0.0:6222", "--cluster_name ", "--routes ", "--store_dir "} {
			if !strings.Contains(args, flag) {
				t.Errorf("NATS service %s: command %q lacks %s", s.Name, args, flag)
			}
		}
		for _, cfg := range s.Networks {
			addrs = append(addrs, cfg.Ipv4Address)
			for _, other := range servers {
				if other.Name == s.Name {
					continue
				}
				for _, ocfg := range other.Networks {
					if !strings.Contains(args, "nats://"+ocfg.Ipv4Address+":6222") {
						t.Errorf("NATS service %s: no route to %s (%s)", s.Name, other.Name, ocfg.Ipv4Address)
					}
				}
			}
		}
	}
	for _, u := range cl.Purge.NATS.URLs {
		host := strings.TrimSuffix(strings.TrimPrefix(u, "nats://"), ":4222")
		if !slices.Contains(addrs, host) {
			t.Errorf("purge.nats.urls names %s; no NATS service has that address (have %v)", u, addrs)
		}
	}
}

// TestClientsAndEndpoints: each PoP's region has a client running the load
// generator with an endpoints file whose GeoDNS server, client network and
// edges match the compose addresses and the cluster file.
func TestClientsAndEndpoints(t *testing.T) {
	p := loadProject(t)
	cl := loadCluster(t)
	nets := subnets(t, p)
	for _, pop := range cl.PoPs {
		var client *types.ServiceConfig
		for _, s := range p.Services {
			if slices.Contains(s.Command, "loadtest") && strings.Contains(strings.Join(s.Command, " "), "/"+pop.Name+".json") {
				client = &s
				break
			}
		}
		if client == nil {
			t.Errorf("region %s: no client service runs cdn loadtest with endpoints/%s.json", pop.Name, pop.Name)
			continue
		}
		ep, err := endpoints.Read(filepath.Join("endpoints", pop.Name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !mounts(*client, "./endpoints", "/etc/cdn/endpoints") {
			t.Errorf("client %s does not mount ./endpoints at /etc/cdn/endpoints", client.Name)
		}
		if ep.Zone != cl.Zone || !slices.Contains(ep.Sites, cl.Sites[0].Host) {
			t.Errorf("endpoints/%s.json: zone %q sites %v, want %q and %q", pop.Name, ep.Zone, ep.Sites, cl.Zone, cl.Sites[0].Host)
		}
		// The client's network holds its PoP's edges and a GeoDNS node.
		var clientNet string
		var clientAddr string
		for net, cfg := range client.Networks {
			clientNet, clientAddr = net, cfg.Ipv4Address
		}
		if len(client.Networks) != 1 {
			t.Errorf("client %s: on %d networks, want its region's only", client.Name, len(client.Networks))
		}
		for _, e := range pop.Edges {
			if !nets[clientNet].Contains(netip.MustParseAddr(e.Address)) {
				t.Errorf("client %s on %s cannot reach its PoP's edge %s (%s)", client.Name, clientNet, e.Name, e.Address)
			}
		}
		dnsHost := ep.DNS[:strings.LastIndex(ep.DNS, ":")]
		if !nets[clientNet].Contains(netip.MustParseAddr(dnsHost)) {
			t.Errorf("endpoints/%s.json: dns %s is not on the client's network %s", pop.Name, ep.DNS, clientNet)
		}
		if want := fmt.Sprintf("%s:%d", dnsHost, cl.GeoDNS.Port); ep.DNS != want {
			t.Errorf("endpoints/%s.json: dns %s, want port %d", pop.Name, ep.DNS, cl.GeoDNS.Port)
		}
		isNS := false
		for _, g := range cl.GeoDNS.Nodes {
			isNS = isNS || g.Address == dnsHost
		}
		if !isNS {
			t.Errorf("endpoints/%s.json: dns %s is no GeoDNS node of cluster.yaml", pop.Name, ep.DNS)
		}
		// The client sends from its own address only, and every edge of
		// the cluster is listed so results are attributed to PoPs.
		var regions []string
		for _, ep := range ep.PoPs {
			if ep.ClientNetwork != "" {
				regions = append(regions, ep.Name+"="+ep.ClientNetwork)
			}
		}
		if want := []string{pop.Name + "=" + clientAddr + "/32"}; !slices.Equal(regions, want) {
			t.Errorf("endpoints/%s.json: client networks %v, want %v", pop.Name, regions, want)
		}
		checkEdges(t, "endpoints/"+pop.Name+".json", ep, cl)
	}
	all, err := endpoints.Read("endpoints.json")
	if err != nil {
		t.Fatal(err)
	}
	checkEdges(t, "endpoints.json", all, cl)
}

func checkEdges(t *testing.T, file string, ep *endpoints.File, cl *config.Cluster) {
	t.Helper()
	if len(ep.PoPs) != len(cl.PoPs) {
		t.Fatalf("%s: %d PoPs, cluster.yaml has %d", file, len(ep.PoPs), len(cl.PoPs))
	}
	for i, pop := range cl.PoPs {
		got := ep.PoPs[i]
		if got.Name != pop.Name || len(got.Edges) != len(pop.Edges) {
			t.Errorf("%s: pops[%d] is %s with %d edges, want %s with %d", file, i, got.Name, len(got.Edges), pop.Name, len(pop.Edges))
			continue
		}
		for j, e := range pop.Edges {
			g := got.Edges[j]
			if g.Name != e.Name || g.Address != e.Address || g.Ports.HTTP != cl.Ports.HTTP || g.Ports.Admin != cl.Ports.Admin {
				t.Errorf("%s: pops[%d].edges[%d] = %+v, want %s at %s ports %d/%d", file, i, j, g, e.Name, e.Address, cl.Ports.HTTP, cl.Ports.Admin)
			}
		}
	}
}

// TestEveryServiceHasAHealthcheck: compose's depends_on conditions and
// `docker compose ps` rely on them.
func TestEveryServiceHasAHealthcheck(t *testing.T) {
	p := loadProject(t)
	for _, s := range p.Services {
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			t.Errorf("service %s: no healthcheck", s.Name)
		}
		for dep, d := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown service %s", s.Name, dep)
			}
			if d.Condition != types.ServiceConditionHealthy {
				t.Errorf("service %s: depends on %s with condition %q, want service_healthy", s.Name, dep, d.Condition)
			}
		}
	}
}

// TestImageRunsAsNonRoot guards the Dockerfile's shape: a CGO-free,
// trimmed build stage and a non-root final image.
func TestImageRunsAsNonRoot(t *testing.T) {
	b, err := readFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM golang:1.26", "CGO_ENABLED=0", "-trimpath", "FROM alpine:", "USER 10001"} {
		if !strings.Contains(b, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}
