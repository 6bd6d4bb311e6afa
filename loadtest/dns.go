package loadtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// resolver is a client's stub resolver: it asks one GeoDNS server from the
// client's source address, follows CNAMEs, and caches answers for their TTL
// as a real stub would.
type resolver struct {
	server string
	client *dns.Client
	now    func() time.Time
	cache  map[string]cachedAddr
	src    netip.Addr
}

type cachedAddr struct {
	addr    netip.Addr
	expires time.Time
}

// maxCNAMEChain bounds how many CNAMEs a resolution follows.
const maxCNAMEChain = 8

func newResolver(server string, src netip.Addr, timeout time.Duration, now func() time.Time) *resolver {
	d := &net.Dialer{Timeout: timeout}
	if src.IsValid() {
		d.LocalAddr = &net.UDPAddr{IP: src.AsSlice()}
	}
	return &resolver{
		server: server, src: src, now: now, cache: map[string]cachedAddr{},
		client: &dns.Client{Net: "udp", Dialer: d, Timeout: timeout},
	}
}

// resolve returns the first IPv4 address GeoDNS answers for name.
func (r *resolver) resolve(ctx context.Context, name string) (netip.Addr, error) {
	key := strings.ToLower(name)
	if c, ok := r.cache[key]; ok && r.now().Before(c.expires) {
		return c.addr, nil
	}
	qname := dns.Fqdn(name)
	for range maxCNAMEChain {
		m := new(dns.Msg)
		m.SetQuestion(qname, dns.TypeA)
		resp, _, err := r.client.ExchangeContext(ctx, m, r.server)
		if err != nil {
			return netip.Addr{}, &resolveError{fmt.Errorf("resolve %s via %s from %s: %w", qname, r.server, r.src, err)}
		}
		if resp.Rcode != dns.RcodeSuccess {
			return netip.Addr{}, &resolveError{fmt.Errorf("resolve %s via %s from %s: %s", qname, r.server, r.src, dns.RcodeToString[resp.Rcode])}
		}
		cname := ""
		for _, rr := range resp.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				addr, ok := netip.AddrFromSlice(rr.A.To4())
				if !ok {
					continue
				}
				ttl := time.Duration(rr.Hdr.Ttl) * time.Second
				if ttl > 0 {
					r.cache[key] = cachedAddr{addr: addr, expires: r.now().Add(ttl)}
				}
				return addr, nil
			case *dns.CNAME:
				if strings.EqualFold(rr.Hdr.Name, qname) {
					cname = rr.Target
				}
			}
		}
		if cname == "" {
			return netip.Addr{}, &resolveError{fmt.Errorf("resolve %s via %s from %s: no A record in the answer", qname, r.server, r.src)}
		}
		qname = cname
	}
	return netip.Addr{}, &resolveError{fmt.Errorf("resolve %s via %s: more than %d CNAMEs", name, r.server, maxCNAMEChain)}
}

// dnsClient sends DNS-mode queries over one socket, redialling after errors.
type dnsClient struct {
	cfg     Config
	rng     *rand.Rand
	client  *dns.Client
	conn    *dns.Conn
	qtype   uint16
	names   []string
	subnets []subnet
	region  string // the source network's PoP, endpoints mode
	edges   map[netip.Addr]edgeInfo
}

var _ client = (*dnsClient)(nil)

// subnet is a network client subnets are drawn from, and the PoP whose
// clients it holds ("" when unknown).
type subnet struct {
	prefix netip.Prefix
	region string
}

func dnsType(s string) (uint16, bool) {
	t, ok := dns.StringToType[strings.ToUpper(s)]
	return t, ok
}

func newDNSClients(c Config) (clients []client, targets []string, err error) {
	qtype, _ := dnsType(c.DNS.Type)
	var subnets []subnet
	for _, p := range c.DNS.Subnets {
		subnets = append(subnets, subnet{prefix: p.Masked()})
	}
	var regions []region
	var edges map[netip.Addr]edgeInfo
	if c.Endpoints != nil {
		regions, edges = endpointsLayout(c.Endpoints, ProtoH1)
		if len(subnets) == 0 {
			for _, r := range regions {
				subnets = append(subnets, subnet{prefix: r.prefix, region: r.name})
			}
		}
	}
	for k := range c.Concurrency {
		cl := &dnsClient{
			cfg: c, rng: seedFor(c.Seed, k), qtype: qtype, names: c.DNS.Names,
			subnets: subnets, edges: edges,
		}
		d := &net.Dialer{Timeout: c.Timeout}
		if len(regions) > 0 {
			// Send from the region's network too, for servers that place
			// clients by source address rather than ECS.
			reg := regions[k%len(regions)]
			cl.region = reg.name
			d.LocalAddr = localAddr(c.DNS.Net, randomAddr(reg.prefix, cl.rng))
			if len(c.DNS.Subnets) == 0 {
				cl.subnets = []subnet{{prefix: reg.prefix, region: reg.name}}
			}
		}
		cl.client = &dns.Client{Net: c.DNS.Net, Dialer: d, Timeout: c.Timeout}
		clients = append(clients, cl)
	}
	return clients, []string{c.DNS.Net + "://" + c.DNS.Server}, nil
}

func localAddr(network string, a netip.Addr) net.Addr {
	if network == "tcp" {
		return &net.TCPAddr{IP: a.AsSlice()}
	}
	return &net.UDPAddr{IP: a.AsSlice()}
}

func (c *dnsClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *dnsClient) do(ctx context.Context, _ int64) (result, bool) {
	name := c.names[c.rng.IntN(len(c.names))]
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), c.qtype)
	m.RecursionDesired = false
	res := result{region: c.region}
	if len(c.subnets) > 0 {
		sn := c.subnets[c.rng.IntN(len(c.subnets))]
		if sn.region != "" {
			res.region = sn.region
		}
		m.SetEdns0(1232, false)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, ecsOption(sn.prefix, c.rng))
	}
	if c.conn == nil {
		conn, err := c.client.DialContext(ctx, c.cfg.DNS.Server)
		if err != nil {
			res.errKind = classify(err)
			return res, true
		}
		c.conn = conn
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	}
	resp, _, err := c.client.ExchangeWithConnContext(ctx, m, c.conn)
	if err != nil {
		// The socket may hold a late answer now; start afresh.
		c.close()
		res.errKind = classify(err)
		return res, true
	}
	res.responded = true
	res.bytes = int64(resp.Len())
	res.status = dns.RcodeToString[resp.Rcode]
	if res.status == "" {
		res.status = fmt.Sprintf("RCODE%d", resp.Rcode)
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		res.errKind = errRcode
	}
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			if addr, ok := netip.AddrFromSlice(a.A.To4()); ok {
				if e, ok := c.edges[addr]; ok {
					res.pop = e.pop
				}
			}
			break
		}
	}
	return res, true
}

// ecsOption is an EDNS Client Subnet option (RFC 7871 §6) for a random /24
// (IPv6: /56) inside p, or p itself when p is narrower.
func ecsOption(p netip.Prefix, r *rand.Rand) *dns.EDNS0_SUBNET {
	bits := 24
	family := uint16(1)
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		bits, family = 56, 2
	}
	if p.Bits() > bits {
		bits = p.Bits()
	}
	a := randomAddr(p, r)
	sub, _ := a.Prefix(bits)
	return &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: uint8(bits),
		Address: sub.Addr().AsSlice(),
	}
}
