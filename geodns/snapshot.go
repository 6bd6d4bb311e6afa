package geodns

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// snapshot is everything a query reads, built whole by New and Reload and
// swapped atomically; nothing in it changes afterwards except each PoP's
// answers pointer, which the health checker swaps.
type snapshot struct {
	cfg    Config // defaulted
	zone   *zone
	pops   []*popState
	ranker *ranker
	db     *geoDB      // nil: every location is unknown
	cache  *rankCache  // per snapshot: a reload starts empty
	signer *zoneSigner // nil: unsigned
	// geoWire maps a geo name in lower-case wire form to its index, and
	// wire keeps fast-path responses (see fast.go).
	geoWire map[string]int
	wire    *wireCache
}

// buildSnapshot assembles a snapshot for a defaulted config. states gives
// the health state of each edge; the caller holds Server.mu.
func buildSnapshot(c Config, db *geoDB, key *zoneKey, now func() time.Time, state func(pop, edge int) *edgeState) (*snapshot, error) {
	z, err := buildZone(c, key)
	if err != nil {
		return nil, fmt.Errorf("build zone %s: %w", c.Zone, err)
	}
	sn := &snapshot{cfg: c, zone: z, db: db, cache: newRankCache(c.CacheSize), geoWire: map[string]int{}, wire: newWireCache()}
	for i, g := range c.GeoNames {
		if _, cut := z.lookup(g); cut != "" {
			continue // below a delegation: a referral, the slow path's
		}
		buf := make([]byte, 256)
		if n, err := dns.PackDomainName(g, buf, 0, nil, false); err == nil {
			sn.geoWire[string(buf[:n])] = i
		}
	}
	if key != nil {
		sn.signer = newZoneSigner(key, c.Zone, c.DNSSEC.Validity, now)
	}
	for i, p := range c.PoPs {
		ps := &popState{PoP: p, index: i, edges: make([]*edgeState, len(p.Edges))}
		for j := range p.Edges {
			ps.edges[j] = state(i, j)
		}
		ps.buildAll(c.GeoNames, c.TTL)
		sn.pops = append(sn.pops, ps)
	}
	sn.refreshAnswers()
	sn.ranker = newRanker(c, sn.pops)
	return sn, nil
}

// refreshAnswers rebuilds every PoP's answer sets from the edges' current
// health. An edge whose first probe has not come back is left out, unless
// no edge of its PoP has a result yet (just after start): then the whole
// PoP is answered, as nothing is known against any of it. The caller
// holds Server.mu.
func (sn *snapshot) refreshAnswers() {
	for _, ps := range sn.pops {
		nothingKnown := true
		for _, e := range ps.edges {
			if e.url != "" && !e.unknown() {
				nothingKnown = false
			}
		}
		ps.answers.Store(ps.buildAnswers(sn.cfg.GeoNames, sn.cfg.TTL, sn.cfg.MaxAnswers, func(i int) bool {
			return sn.cfg.Health.Disabled || nothingKnown || ps.edges[i].up()
		}))
	}
}

// querySource is where a query comes from.
type querySource struct {
	client netip.Addr    // the querier's address
	subnet *clientSubnet // the ECS option, if the query has one
}

// locate returns the PoP ranking for the query's client and the ECS scope
// prefix length the ranking is valid for (RFC 7871 §7.2.1): the length of
// the database network that decided, in the bits of the ECS family,
// capped by the source prefix. The ranking is cached under that network,
// never under a neighbour's address.
func (s *Server) locate(sn *snapshot, qs *querySource) (ranking, uint8) {
	var addr netip.Addr
	source := -1 // ECS source prefix length; -1: located by the querier
	switch {
	case qs.subnet != nil && qs.subnet.reserved >= 0:
		return sn.ranker.defaultRank, uint8(qs.subnet.reserved)
	case qs.subnet != nil && qs.subnet.prefix.Bits() > 0:
		addr, source = qs.subnet.prefix.Addr(), qs.subnet.prefix.Bits()
	default:
		// No ECS, or SOURCE PREFIX-LENGTH 0 (the client opted out, RFC
		// 7871 §7.1.2): locate the querier, with scope 0.
		if !qs.client.IsValid() {
			return sn.ranker.defaultRank, 0
		}
		addr = qs.client
	}
	if sn.db == nil {
		return sn.ranker.defaultRank, 0
	}
	m, err := sn.db.find(addr)
	if err != nil {
		s.metrics.geoipFailures.Inc()
		s.log.Debug("GeoIP lookup failed; using default PoPs", "addr", addr, "err", err)
		return sn.ranker.defaultRank, uint8(max(source, 0))
	}
	scope := uint8(0)
	if source > 0 {
		bits := m.network.Bits()
		if addr.Is6() && m.network.Addr().Is4() {
			bits += 96 // an IPv4-mapped prefix: say it in IPv6 bits
		}
		scope = uint8(min(bits, source))
	}
	if rank, ok := sn.cache.get(m.network); ok {
		s.metrics.cacheHits.Inc()
		return rank, scope
	}
	s.metrics.cacheMisses.Inc()
	loc, err := sn.db.location(m)
	if err != nil {
		s.metrics.geoipFailures.Inc()
		s.log.Debug("GeoIP record unreadable; using default PoPs", "addr", addr, "err", err)
		return sn.ranker.defaultRank, scope
	}
	rank := sn.ranker.rank(loc)
	sn.cache.put(m.network, rank)
	return rank, scope
}

// geoAnswer picks the answer for a geo name: the addresses of the first
// PoP in the client's ranking with a healthy edge of the asked family. When
// no edge of that family is healthy anywhere it answers every address of
// the first PoP that has any, and logs. It returns nil when no edge has an
// address of that family (NODATA), with scope 0.
func (s *Server) geoAnswer(sn *snapshot, geo int, qtype uint16, qs *querySource) ([]dns.RR, *sigSlot, string, uint8) {
	fam := famV4
	if qtype == dns.TypeAAAA {
		fam = famV6
	}
	rank, scope := s.locate(sn, qs)
	for _, pi := range rank {
		ps := sn.pops[pi]
		pa := ps.answers.Load()
		if pa.healthy[fam] == 0 {
			continue
		}
		rots := pa.rot[geo][fam]
		n := (pa.next.Add(1) - 1) % uint64(len(rots))
		return rots[n], pa.sigs[geo][fam][n], ps.Name, scope
	}
	for _, pi := range rank {
		ps := sn.pops[pi]
		if all := ps.all[geo][fam]; len(all) > 0 {
			s.allDown(ps.Name, sn.zone.geoNames[geo], qtype)
			s.metrics.allDown.Inc()
			return all, ps.allSigs[geo][fam], ps.Name, scope
		}
	}
	// No edge anywhere has this family: the NODATA holds wherever the
	// client is, so its scope is 0 (RFC 7871 §7.2.1).
	return nil, nil, "", 0
}

// nodeTypes lists the types at a name for the NSEC of a NODATA answer:
// its RRsets, A and AAAA for a geo name when some edge has the family, and
// RRSIG and NSEC, in type order.
func (sn *snapshot) nodeTypes(name string, n *zoneNode) []uint16 {
	types := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
	for t := range n.rrsets {
		types = append(types, t)
	}
	if n.geo >= 0 {
		for f, t := range [2]uint16{dns.TypeA, dns.TypeAAAA} {
			for _, ps := range sn.pops {
				if len(ps.all[n.geo][f]) > 0 {
					types = append(types, t)
					break
				}
			}
		}
	}
	slices.Sort(types)
	return slices.Compact(types)
}

// typesKey is a type list as a map key.
func typesKey(types []uint16) string {
	b := make([]byte, 0, 2*len(types))
	for _, t := range types {
		b = append(b, byte(t>>8), byte(t))
	}
	return string(b)
}
