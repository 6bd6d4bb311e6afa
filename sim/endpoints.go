package sim

import (
	"fmt"
	"net/netip"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/endpoints"
)

// EndpointsFor describes where the nodes of cl listen, for the load
// generator and scripts: the zone and sites, the GeoDNS servers, an admin
// API with its token, the origin (originURL; empty means the first server
// of the first origin pool), the shields, and per PoP its location, the
// client network of its region (if any) and its edges.
func EndpointsFor(cl *config.Cluster, regions []Region, token, originURL string) *endpoints.File {
	f := &endpoints.File{Zone: cl.Zone}
	for _, s := range cl.Sites {
		f.Sites = append(f.Sites, s.Host)
		f.Sites = append(f.Sites, s.Aliases...)
	}
	for _, n := range cl.GeoDNS.Nodes {
		f.DNSServers = append(f.DNSServers, hostPort(n.Address, cl.GeoDNS.Port))
	}
	if len(f.DNSServers) > 0 {
		f.DNS = f.DNSServers[0]
	}
	node := func(n config.Node) endpoints.Node {
		return endpoints.Node{
			Name:     n.Name,
			Address:  n.Address,
			Ports:    nodePorts(cl),
			AdminURL: "http://" + hostPort(n.Address, cl.Ports.Admin),
		}
	}
	for _, n := range cl.Shields.Nodes {
		f.Shields = append(f.Shields, node(n))
	}
	nets := map[string]netip.Prefix{}
	for _, r := range regions {
		nets[r.PoP] = r.Network
	}
	for _, p := range cl.PoPs {
		pop := endpoints.PoP{Name: p.Name, Location: endpoints.Location{Lat: p.Location.Lat, Lon: p.Location.Lon}}
		if n, ok := nets[p.Name]; ok {
			pop.ClientNetwork = n.String()
		}
		for _, e := range p.Edges {
			pop.Edges = append(pop.Edges, node(e))
		}
		for _, b := range p.Balancers {
			bn := node(b)
			bn.AdminURL = "" // balancers of the simulation have no admin listener
			pop.Balancers = append(pop.Balancers, bn)
		}
		f.PoPs = append(f.PoPs, pop)
	}
	if len(f.PoPs) > 0 && len(f.PoPs[0].Edges) > 0 {
		f.Admin = endpoints.Admin{URL: f.PoPs[0].Edges[0].AdminURL, Token: token}
	}
	if originURL == "" {
		for _, name := range sortedKeys(cl.Origins) {
			if s := cl.Origins[name].Servers; len(s) > 0 {
				originURL = s[0].URL
				break
			}
		}
	}
	f.Origin = originURL
	return f
}

// buildEndpoints describes the running simulation.
func (s *Sim) buildEndpoints() *endpoints.File {
	originURL := ""
	for _, name := range s.order {
		if n := s.nodes[name]; n.info.Role == RoleOrigin {
			originURL = n.url
			break
		}
	}
	f := EndpointsFor(s.cl, s.regions, s.token, originURL)
	if len(s.natsURLs) > 0 {
		f.NATS = s.natsURLs[0]
	}
	return f
}

// formatLocation formats a location as "lat,lon".
func formatLocation(l config.Location) string { return fmt.Sprintf("%.2f,%.2f", l.Lat, l.Lon) }

// nodePorts are the ports every edge and shield listens on.
func nodePorts(cl *config.Cluster) endpoints.Ports {
	p := endpoints.Ports{HTTP: cl.Ports.HTTP, Admin: cl.Ports.Admin}
	if cl.TLS.SelfSigned || len(cl.TLS.Certificates) > 0 || cl.TLS.ACME != nil {
		p.HTTPS = cl.Ports.HTTPS
	}
	return p
}
