package geodns

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/selfcdn/cdn/config"
)

// FromCluster builds the Config of GeoDNS node `node` from a cluster file,
// and the address it listens on (its address and geodns.port).
//
// Name servers are the cluster's geodns nodes, named "<node>.<zone>" with
// glue. Geo names are the sites that lie inside the zone plus geodns.names.
// Each edge is probed at http://<address>:<ports.admin><geodns.health.path>.
// With geodns.answer "balancers", a PoP that has balancers is answered
// with them instead of its edges, each probed by a TCP connect to
// <address>:<ports.http>.
func FromCluster(cl *config.Cluster, node string) (Config, string, error) {
	info, err := cl.FindNode(node)
	if err != nil {
		return Config{}, "", err
	}
	if info.Role != config.RoleGeoDNS {
		return Config{}, "", fmt.Errorf("node %q has role %s, not geodns", node, info.Role)
	}
	g := cl.GeoDNS
	zone := cl.Zone
	c := Config{
		Zone:        zone,
		MaxAnswers:  g.MaxAnswers,
		TTL:         g.TTL.D(),
		GeoIPPath:   g.GeoIP,
		DefaultPoPs: g.DefaultPoPs,
		SOA:         SOA{NegativeTTL: g.NegativeTTL.D(), Serial: g.Serial},
		DNSSEC:      DNSSECConfig{KeyFile: g.DNSSEC.Key, PrivateFile: g.DNSSEC.Private, Validity: g.DNSSEC.Validity.D()},
		Health: HealthConfig{
			Interval: g.Health.Interval.D(),
			Timeout:  g.Health.Timeout.D(),
			Rise:     g.Health.Rise,
			Fall:     g.Health.Fall,
		},
	}
	for _, n := range g.Nodes {
		a, err := netip.ParseAddr(n.Address)
		if err != nil {
			return Config{}, "", fmt.Errorf("geodns node %s: %w", n.Name, err)
		}
		c.NS = append(c.NS, NameServer{Name: n.Name + "." + zone, Addrs: []netip.Addr{a}})
	}
	if len(c.NS) > 0 {
		c.SOA.MName = c.NS[0].Name
	}
	c.SOA.RName = "hostmaster." + zone
	fqdn := func(name string) string {
		switch {
		case name == "@" || name == "":
			return zone
		case strings.HasSuffix(name, "."):
			return strings.ToLower(name)
		default:
			return strings.ToLower(name) + "." + zone
		}
	}
	inZone := func(host string) bool {
		h := strings.ToLower(host) + "."
		return h == zone || strings.HasSuffix(h, "."+zone)
	}
	for _, s := range cl.Sites {
		for _, h := range append([]string{s.Host}, s.Aliases...) {
			if inZone(h) {
				c.GeoNames = append(c.GeoNames, strings.ToLower(h)+".")
			}
		}
	}
	for _, n := range g.Names {
		c.GeoNames = append(c.GeoNames, fqdn(n))
	}
	for _, r := range g.Records {
		ttl := r.TTL.D()
		if ttl == 0 {
			ttl = g.TTL.D()
		}
		c.Records = append(c.Records, Record{Name: fqdn(r.Name), Type: strings.ToUpper(r.Type), TTL: ttl, Value: r.Value})
	}
	for _, p := range cl.PoPs {
		pop := PoP{Name: p.Name, Lat: p.Location.Lat, Lon: p.Location.Lon, Weight: p.Weight}
		useBalancers := g.Answer == "balancers" && len(p.Balancers) > 0
		if useBalancers {
			// The PoP is answered with its layer-4 balancers, each
			// probed by a TCP connect to its HTTP port.
			for _, b := range p.Balancers {
				a, err := netip.ParseAddr(b.Address)
				if err != nil {
					return Config{}, "", fmt.Errorf("balancer %s: %w", b.Name, err)
				}
				pop.Edges = append(pop.Edges, Edge{
					Name:       b.Name,
					Addrs:      []netip.Addr{a},
					HealthAddr: net.JoinHostPort(b.Address, strconv.Itoa(cl.Ports.HTTP)),
				})
			}
		}
		for _, e := range p.Edges {
			if useBalancers {
				break
			}
			a, err := netip.ParseAddr(e.Address)
			if err != nil {
				return Config{}, "", fmt.Errorf("edge %s: %w", e.Name, err)
			}
			pop.Edges = append(pop.Edges, Edge{
				Name:      e.Name,
				Addrs:     []netip.Addr{a},
				HealthURL: "http://" + net.JoinHostPort(e.Address, strconv.Itoa(cl.Ports.Admin)) + g.Health.Path,
			})
		}
		c.PoPs = append(c.PoPs, pop)
		for _, cc := range p.Countries {
			if c.Countries == nil {
				c.Countries = map[string][]string{}
			}
			cc = strings.ToUpper(cc)
			c.Countries[cc] = append(c.Countries[cc], p.Name)
		}
		for _, ct := range p.Continents {
			if c.Continents == nil {
				c.Continents = map[string][]string{}
			}
			ct = strings.ToUpper(ct)
			c.Continents[ct] = append(c.Continents[ct], p.Name)
		}
	}
	return c, net.JoinHostPort(info.Address, strconv.Itoa(g.Port)), nil
}
