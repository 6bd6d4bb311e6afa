package sim

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/selfcdn/cdn/config"
)

// Addresses and names of the default topology. Every edge and shield has
// its own loopback address and all share the same ports, because DNS
// answers carry addresses, not ports.
const (
	// Zone is the DNS zone of the default topology.
	Zone = "cdn.example.test."
	// SiteHost is the demo site; it lies inside the zone, so GeoDNS
	// answers it directly with the nearest PoP's edges.
	SiteHost = "assets.cdn.example.test"
	// OriginName is the origin pool of the demo site.
	OriginName = "demo"
	// OriginAddress is where the simulation runs its own origin.
	OriginAddress = "127.0.20.1"
	// GeoDNSName and GeoDNSAddress are the default name server.
	GeoDNSName    = "ns1"
	GeoDNSAddress = "127.0.53.1"
)

// Default ports. They are unprivileged so that no root is needed.
const (
	DefaultHTTPPort  = 8080
	DefaultAdminPort = 9090
	DefaultDNSPort   = 5353
	DefaultNATSPort  = 4222
)

// Region is where one PoP's clients are: a loopback source network that the
// simulation's GeoIP database places at a location.
type Region struct {
	// PoP is the name of the PoP the region's clients should land on.
	PoP string
	// Network is the clients' source network, e.g. 127.2.0.0/16.
	Network netip.Prefix
	// Location is where the database places the network.
	Location config.Location
	// Country is an ISO 3166-1 alpha-2 code; may be empty.
	Country string
	// Continent is a continent code (NA, EU, AS, ...); may be empty.
	Continent string
	// City names the place in the database; may be empty.
	City string
}

// ClientAddr returns a client address inside the region's network, the
// tenth host (127.N.0.10 for the default regions), as the printed commands
// and the tests use.
func (r Region) ClientAddr() netip.Addr {
	b := r.Network.Masked().Addr().As4()
	b[3] = 10
	return netip.AddrFrom4(b)
}

// popSpec describes one PoP of the default topology.
type popSpec struct {
	name                     string
	loc                      config.Location
	country, continent, city string
}

var defaultPoPs = []popSpec{
	{"us-east", config.Location{Lat: 39.04, Lon: -77.49}, "US", "NA", "Ashburn"},
	{"eu-central", config.Location{Lat: 50.11, Lon: 8.68}, "DE", "EU", "Frankfurt"},
	{"ap-southeast", config.Location{Lat: 1.35, Lon: 103.82}, "SG", "AS", "Singapore"},
}

// Where the default shields and origin stand, for the latency model:
// one shield on each side of the Atlantic, the origin in Ashburn.
var defaultPlaces = map[string]config.Location{
	"shield-1": {Lat: 39.04, Lon: -77.49},
	"shield-2": {Lat: 50.11, Lon: 8.68},
	OriginName: {Lat: 39.04, Lon: -77.49},
}

// edgeAddr is the address of edge j (from 0) of PoP i (from 0): 127.0.i+1.j+1.
func edgeAddr(i, j int) string { return fmt.Sprintf("127.0.%d.%d", i+1, j+1) }

// clientNetwork is the source network of the clients of PoP i (from 0).
func clientNetwork(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(i + 1), 0, 0}), 16)
}

// DefaultCluster returns the cluster file of the default topology: three
// PoPs at real locations (Ashburn, Frankfurt, Singapore) with two edges
// each, two shields, the demo origin and one GeoDNS node, on loopback
// addresses and the ports of opts (defaults where zero). The result has its
// defaults applied and is valid. Its geodns.geoip is the path the
// simulation writes its database to (under opts.WorkDir).
func DefaultCluster(opts Options) *config.Cluster {
	opts.applyDefaults()
	cl := &config.Cluster{
		Zone: Zone,
		Sites: []config.Site{{
			Host:   SiteHost,
			Origin: OriginName,
		}},
		Origins: map[string]config.Origin{
			OriginName: {
				Policy:  "round_robin",
				Servers: []config.Server{{URL: fmt.Sprintf("http://%s:%d", OriginAddress, opts.HTTPPort)}},
				Health:  config.HealthCheck{Path: "/healthz"},
			},
		},
		Shields: config.Shields{
			Policy: "maglev",
			Nodes: []config.Node{
				{Name: "shield-1", Address: "127.0.10.1"},
				{Name: "shield-2", Address: "127.0.10.2"},
			},
		},
		Ports: config.Ports{HTTP: opts.HTTPPort, HTTPS: opts.HTTPSPort, Admin: opts.AdminPort},
		Cache: config.Cache{Memory: 64 << 20, MaxMemoryObject: 16 << 20},
		GeoDNS: config.GeoDNS{
			Nodes:  []config.Node{{Name: GeoDNSName, Address: GeoDNSAddress}},
			Port:   opts.DNSPort,
			GeoIP:  opts.geoIPPath(),
			TTL:    config.Duration(10 * time.Second),
			Health: config.HealthCheck{Interval: config.Duration(time.Second), Timeout: config.Duration(500 * time.Millisecond)},
		},
		Purge: config.Purge{
			NATS: config.NATS{Listen: fmt.Sprintf("127.0.0.1:%d", opts.NATSPort)},
		},
	}
	if opts.TLS {
		cl.TLS.SelfSigned = true
		cl.TLS.Dir = filepath.Join(opts.WorkDir, "tls")
	}
	if opts.TLS {
		cl.TLS.SelfSigned = true
		cl.TLS.Dir = filepath.Join(opts.WorkDir, "tls")
	}
	for i, p := range defaultPoPs {
		pop := config.PoP{Name: p.name, Location: p.loc}
		for j := range 2 {
			pop.Edges = append(pop.Edges, config.Node{
				Name:    fmt.Sprintf("edge-%s-%d", p.name, j+1),
				Address: edgeAddr(i, j),
			})
		}
		if opts.L4 {
			for j := range 2 {
				pop.Balancers = append(pop.Balancers, config.Node{
					Name:    fmt.Sprintf("l4-%s-%d", p.name, j+1),
					Address: balancerAddr(i, j),
				})
			}
		}
		cl.PoPs = append(cl.PoPs, pop)
	}
	if opts.L4 {
		cl.GeoDNS.Answer = "balancers"
		// QUIC by connection ID: a client whose address changes keeps
		// its edge through either balancer.
		cl.L4.QUICLB.Enabled = true
	}
	cl.ApplyDefaults()
	return cl
}

// balancerAddr is the address of balancer j (from 0) of PoP i (from 0):
// 127.0.i+1.101+j.
func balancerAddr(i, j int) string { return fmt.Sprintf("127.0.%d.%d", i+1, 101+j) }

// DefaultRegions returns the client regions of the default topology:
// 127.1.0.0/16 in Ashburn (us-east), 127.2.0.0/16 in Frankfurt
// (eu-central), 127.3.0.0/16 in Singapore (ap-southeast).
func DefaultRegions() []Region {
	out := make([]Region, len(defaultPoPs))
	for i, p := range defaultPoPs {
		out[i] = Region{PoP: p.name, Network: clientNetwork(i), Location: p.loc,
			Country: p.country, Continent: p.continent, City: p.city}
	}
	return out
}

// RegionsFor returns one client region per PoP of cl: PoP i (from 0) gets
// 127.i+1.0.0/16 at the PoP's location. PoPs of the default topology keep
// their country, continent and city. At most 254 PoPs get a region.
func RegionsFor(cl *config.Cluster) []Region {
	known := map[string]popSpec{}
	for _, p := range defaultPoPs {
		known[p.name] = p
	}
	var out []Region
	for i, p := range cl.PoPs {
		if i >= 254 {
			break
		}
		r := Region{PoP: p.Name, Network: clientNetwork(i), Location: p.Location}
		if k, ok := known[p.Name]; ok && k.loc == p.Location {
			r.Country, r.Continent, r.City = k.country, k.continent, k.city
		}
		out = append(out, r)
	}
	return out
}
