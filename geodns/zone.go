package geodns

import (
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// zoneNode is one owner name of the zone. Nodes that exist only because a
// name below them exists (empty non-terminals, RFC 8020) have no data.
type zoneNode struct {
	rrsets map[uint16][]dns.RR
	sigs   map[uint16]*sigSlot // one per RRset, when the zone is signed
	geo    int                 // index into snapshot.geoNames, or -1
	cut    bool                // a delegation point: NS records below the apex
}

// zone is the immutable name tree of one configuration.
type zone struct {
	origin    string // canonical apex
	nodes     map[string]*zoneNode
	hasCuts   bool
	soa       []dns.RR // the SOA RRset, for answers
	negSOA    []dns.RR // the SOA with the negative TTL, for authority sections
	negSOASig sigSlot
	geoNames  []string
}

// buildZone assembles the name tree from a defaulted, validated config.
func buildZone(c Config, key *zoneKey) (*zone, error) {
	z := &zone{origin: c.Zone, nodes: map[string]*zoneNode{}, geoNames: c.GeoNames}
	secs := func(d time.Duration) uint32 { return uint32(d / time.Second) }
	soa := &dns.SOA{
		Hdr:     dns.RR_Header{Name: c.Zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: secs(c.SOA.TTL)},
		Ns:      c.SOA.MName,
		Mbox:    c.SOA.RName,
		Serial:  c.SOA.Serial,
		Refresh: secs(c.SOA.Refresh),
		Retry:   secs(c.SOA.Retry),
		Expire:  secs(c.SOA.Expire),
		Minttl:  secs(c.SOA.NegativeTTL),
	}
	if soa.Ns == "" {
		soa.Ns = c.Zone
	}
	z.soa = []dns.RR{soa}
	neg := *soa
	// RFC 2308 §3: the SOA in a negative answer carries the minimum of its
	// own TTL and its MINIMUM field.
	neg.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	z.negSOA = []dns.RR{&neg}
	z.add(soa)

	for _, ns := range c.NS {
		z.add(&dns.NS{Hdr: dns.RR_Header{Name: c.Zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: secs(c.SOA.TTL)}, Ns: ns.Name})
		if !dns.IsSubDomain(c.Zone, ns.Name) {
			continue
		}
		for _, a := range ns.Addrs {
			z.add(addrRR(ns.Name, a, secs(c.SOA.TTL)))
		}
	}
	for i, g := range c.GeoNames {
		n := z.node(g)
		n.geo = i
	}
	for i, r := range c.Records {
		rr, err := parseRecord(r, c.TTL)
		if err != nil {
			return nil, fmt.Errorf("records[%d]: %w", i, err)
		}
		z.add(rr)
	}
	if key != nil {
		k := *key.dnskey
		k.Hdr.Name, k.Hdr.Ttl = c.Zone, secs(c.SOA.TTL)
		z.add(&k)
	}
	for name, n := range z.nodes {
		if name != z.origin && len(n.rrsets[dns.TypeNS]) > 0 {
			n.cut = true
			z.hasCuts = true
		}
		n.sigs = make(map[uint16]*sigSlot, len(n.rrsets))
		for t := range n.rrsets {
			n.sigs[t] = &sigSlot{}
		}
	}
	return z, nil
}

// node returns the node for a canonical name, creating it and its empty
// non-terminal ancestors up to the apex.
func (z *zone) node(name string) *zoneNode {
	n, ok := z.nodes[name]
	if ok {
		return n
	}
	n = &zoneNode{rrsets: map[uint16][]dns.RR{}, geo: -1}
	z.nodes[name] = n
	for parent := name; parent != z.origin; {
		off, end := dns.NextLabel(parent, 0)
		if end {
			break
		}
		parent = parent[off:]
		if _, ok := z.nodes[parent]; ok {
			break
		}
		z.nodes[parent] = &zoneNode{rrsets: map[uint16][]dns.RR{}, geo: -1}
	}
	return n
}

// add puts rr into its RRset, dropping exact duplicates (RFC 2181 §5).
func (z *zone) add(rr dns.RR) {
	h := rr.Header()
	h.Name = canonical(h.Name)
	n := z.node(h.Name)
	set := n.rrsets[h.Rrtype]
	for _, old := range set {
		if dns.IsDuplicate(old, rr) {
			return
		}
	}
	if len(set) > 0 {
		// RFC 2181 §5.2: one TTL per RRset.
		h.Ttl = set[0].Header().Ttl
	}
	n.rrsets[h.Rrtype] = append(set, rr)
}

// lookup finds the node for a canonical name inside the zone. cut is the
// delegation point at or above name, if any.
func (z *zone) lookup(name string) (n *zoneNode, cut string) {
	if z.hasCuts {
		// Walk from the top: the highest cut wins.
		for off, end := 0, false; !end && len(name)-off > len(z.origin); off, end = dns.NextLabel(name, off) {
			if c, ok := z.nodes[name[off:]]; ok && c.cut {
				cut = name[off:]
			}
		}
	}
	return z.nodes[name], cut
}

// inZone reports whether a canonical name is at or below the apex.
func (z *zone) inZone(name string) bool {
	if len(name) < len(z.origin) {
		return false
	}
	if len(name) == len(z.origin) {
		return name == z.origin
	}
	return strings.HasSuffix(name, z.origin) && name[len(name)-len(z.origin)-1] == '.'
}
