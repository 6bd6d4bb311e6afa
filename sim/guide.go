package sim

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteSummary prints what runs where, the client regions, and commands to
// try (dig, curl, purge, load test), using prog as the command's name
// (e.g. "bin/cdn").
func (s *Sim) WriteSummary(w io.Writer, prog string) error {
	if prog == "" {
		prog = "cdn"
	}
	cl := s.cl
	var b strings.Builder
	site := ""
	if len(cl.Sites) > 0 {
		site = cl.Sites[0].Host
	}
	fmt.Fprintf(&b, "The CDN is running on loopback: zone %s, site %s.\n\n", cl.Zone, site)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tNAME\tPOP\tADDRESS\tLISTENS")
	for _, n := range s.Nodes() {
		pop := n.PoP
		if pop == "" {
			pop = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Role, n.Name, pop, n.Address, listens(n))
	}
	tw.Flush()
	b.WriteString("\n")

	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tCLIENT NETWORK\tLOCATION\tEDGES")
	for _, r := range s.regions {
		var edges []string
		for _, p := range cl.PoPs {
			if p.Name == r.PoP {
				for _, e := range p.Edges {
					edges = append(edges, e.Address)
				}
			}
		}
		where := formatLocation(r.Location)
		if r.City != "" {
			where = r.City + " " + where
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.PoP, r.Network, where, strings.Join(edges, " "))
	}
	tw.Flush()

	if len(cl.GeoDNS.Nodes) > 0 && len(s.regions) > 0 && site != "" {
		dns := cl.GeoDNS.Nodes[0].Address
		port := cl.GeoDNS.Port
		fmt.Fprintf(&b, "\nAsk GeoDNS from each region's source address (the answer is that region's PoP):\n")
		for _, r := range s.regions {
			fmt.Fprintf(&b, "  dig @%s -p %d -b %s %s +short\n", dns, port, r.ClientAddr(), site)
		}
		r := s.regions[len(s.regions)-1]
		fmt.Fprintf(&b, "Or as a resolver asking on a client's behalf (EDNS Client Subnet, RFC 7871):\n")
		fmt.Fprintf(&b, "  dig @%s -p %d %s +subnet=%s/24 +short\n", dns, port, site, r.ClientAddr())
	}
	if len(s.regions) > 1 && site != "" {
		ra, rb := s.regions[1], s.regions[0]
		ea, eb := s.edgeOf(ra.PoP), s.edgeOf(rb.PoP)
		if ea != "" && eb != "" {
			p := cl.Ports.HTTP
			path := "/gen/hello?size=4096&cc=public,max-age=300"
			fmt.Fprintf(&b, "\nFetch through %s, then from %s: the second region gets it from a shield, not the origin\n", ra.PoP, rb.PoP)
			fmt.Fprintf(&b, "(look at Cache-Status; Repr-Digest is the origin's SHA-256 of the body):\n")
			fmt.Fprintf(&b, "  curl -s -o /dev/null -D - --interface %s --resolve %s:%d:%s 'http://%s:%d%s'\n", ra.ClientAddr(), site, p, ea, site, p, path)
			fmt.Fprintf(&b, "  curl -s -o /dev/null -D - --interface %s --resolve %s:%d:%s 'http://%s:%d%s'\n", rb.ClientAddr(), site, p, eb, site, p, path)
			fmt.Fprintf(&b, "  curl -si --interface %s --resolve %s:%d:%s http://%s:%d/\n", ra.ClientAddr(), site, p, ea, site, p)
			if cl.TLS.SelfSigned {
				hp := cl.Ports.HTTPS
				ca := filepath.Join(cl.TLS.Dir, "ca.pem")
				fmt.Fprintf(&b, "\nHTTPS and HTTP/3 on :%d (trust the development CA %s):\n", hp, ca)
				fmt.Fprintf(&b, "  curl -s -o /dev/null -D - --cacert %s --resolve %s:%d:%s 'https://%s:%d%s'\n", ca, site, hp, ea, site, hp, path)
				fmt.Fprintf(&b, "  %s loadtest --endpoints %s --proto h3 --ca %s --duration 10s\n", prog, s.opts.EndpointsPath(), ca)
			}
		}
	}
	for _, n := range s.Nodes() {
		if n.Role == RoleOrigin {
			fmt.Fprintf(&b, "\nWhat the origin was asked:\n  curl -s http://%s/_origin/stats\n", n.Listen["http"])
			break
		}
	}
	if s.ep != nil && s.ep.Admin.URL != "" && site != "" {
		fmt.Fprintf(&b, "\nPurge, then fetch again (a miss):\n")
		fmt.Fprintf(&b, "  %s purge --admin %s --token %s --url 'http://%s/gen/hello?size=4096&cc=public,max-age=300'\n", prog, s.ep.Admin.URL, s.token, site)
		fmt.Fprintf(&b, "Metrics and state of a node:\n  curl -s %s/metrics | grep ^cdn_\n  curl -s %s/status\n", s.ep.Admin.URL, s.ep.Admin.URL)
	}
	s.writeProxyGuide(&b)
	fmt.Fprintf(&b, "\nLoad from every region at once (per-region and per-PoP report):\n")
	fmt.Fprintf(&b, "  %s loadtest --endpoints %s --duration 30s --html sim-report.html\n", prog, s.EndpointsPath())
	fmt.Fprintf(&b, "\nEndpoints file: %s\nAdmin token:    %s\nPress Ctrl-C to stop every node.\n", s.EndpointsPath(), s.token)
	_, err := io.WriteString(w, b.String())
	return err
}

// edgeOf returns the address of the first edge of the named PoP.
func (s *Sim) edgeOf(pop string) string {
	for _, p := range s.cl.PoPs {
		if p.Name == pop && len(p.Edges) > 0 {
			return p.Edges[0].Address
		}
	}
	return ""
}

// listens formats a node's listeners as "http :8080, admin :9090".
func listens(n NodeInfo) string {
	names := make([]string, 0, len(n.Listen))
	for k := range n.Listen {
		names = append(names, k)
	}
	order := map[string]int{"dns": 0, "http": 1, "admin": 2}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	parts := make([]string, 0, len(names))
	for _, k := range names {
		_, port, _ := net.SplitHostPort(n.Listen[k])
		p := k + " :" + port
		if k == "dns" {
			p += " (udp+tcp)"
		}
		parts = append(parts, p)
	}
	s := strings.Join(parts, ", ")
	if !n.Running {
		s += " (stopped)"
	}
	return s
}
