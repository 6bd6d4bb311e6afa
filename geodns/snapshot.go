package geodns

import (
	"fmt"
	"net/netip"

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
	db     *geoDB     // nil: every location is unknown
	cache  *rankCache // per snapshot: a reload starts empty
}

// buildSnapshot assembles a snapshot for a defaulted config. states gives
// the health state of each edge; the caller holds Server.mu.
func buildSnapshot(c Config, db *geoDB, state func(pop, edge int) *edgeState) (*snapshot, error) {
	z, err := buildZone(c)
	if err != nil {
		return nil, fmt.Errorf("build zone %s: %w", c.Zone, err)
	}
	sn := &snapshot{cfg: c, zone: z, db: db, cache: newRankCache(c.CacheSize)}
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
// health. The caller holds Server.mu.
func (sn *snapshot) refreshAnswers() {
	for _, ps := range sn.pops {
		ps.answers.Store(ps.buildAnswers(sn.cfg.GeoNames, sn.cfg.TTL, sn.cfg.MaxAnswers, func(i int) bool {
			return sn.cfg.Health.Disabled || ps.edges[i].up()
		}))
	}
}

// querySource is where a query comes from.
type querySource struct {
	client netip.Addr    // the querier's address
	subnet *clientSubnet // the ECS option, if the query has one
}

// locate returns the PoP ranking for the query's client and the ECS scope
// prefix length the ranking is valid for.
func (s *Server) locate(sn *snapshot, qs *querySource) (ranking, uint8) {
	var prefix netip.Prefix
	ecsScoped := false
	switch {
	case qs.subnet != nil && qs.subnet.reserved >= 0:
		return sn.ranker.defaultRank, uint8(qs.subnet.reserved)
	case qs.subnet != nil && qs.subnet.prefix.Bits() > 0:
		prefix, ecsScoped = qs.subnet.prefix, true
	default:
		// No ECS, or SOURCE PREFIX-LENGTH 0 (the client opted out, RFC
		// 7871 §7.1.2): locate the querier, with scope 0.
		if !qs.client.IsValid() {
			return sn.ranker.defaultRank, 0
		}
		prefix = netip.PrefixFrom(qs.client, qs.client.BitLen())
	}
	if sn.db == nil {
		return sn.ranker.defaultRank, 0
	}
	key := cacheKey(prefix)
	scope := func(dbBits uint8) uint8 {
		if !ecsScoped {
			return 0
		}
		return min(dbBits, uint8(key.Bits()))
	}
	if e, ok := sn.cache.get(key); ok {
		s.metrics.cacheHits.Inc()
		return e.rank, scope(e.bits)
	}
	s.metrics.cacheMisses.Inc()
	loc, err := sn.db.lookup(prefix.Addr())
	var rank ranking
	if err != nil {
		s.metrics.geoipFailures.Inc()
		s.log.Debug("GeoIP lookup failed; using default PoPs", "addr", prefix.Addr(), "err", err)
		rank = sn.ranker.defaultRank
	} else {
		rank = sn.ranker.rank(loc)
	}
	bits := uint8(min(loc.Bits, 128))
	sn.cache.put(key, cacheEntry{rank: rank, bits: bits})
	return rank, scope(bits)
}

// geoAnswer picks the answer for a geo name: the addresses of the first
// PoP in the client's ranking with a healthy edge of the asked family. When
// no edge of that family is healthy anywhere it answers every address of
// the first PoP that has any, and logs. It returns nil when no edge has an
// address of that family (NODATA).
func (s *Server) geoAnswer(sn *snapshot, geo int, qtype uint16, qs *querySource) ([]dns.RR, string, uint8) {
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
		n := pa.next.Add(1) - 1
		return rots[n%uint64(len(rots))], ps.Name, scope
	}
	for _, pi := range rank {
		ps := sn.pops[pi]
		if all := ps.all[geo][fam]; len(all) > 0 {
			s.allDown(ps.Name, sn.zone.geoNames[geo], qtype)
			s.metrics.allDown.Inc()
			return all, ps.Name, scope
		}
	}
	return nil, "", scope
}
