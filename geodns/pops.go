package geodns

import (
	"cmp"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Address families, as indexes of per-family arrays.
const (
	famV4 = 0
	famV6 = 1
)

// popState is one PoP of a snapshot: its static data and the answer sets
// for its currently healthy edges, swapped whole when health changes.
type popState struct {
	PoP
	index int
	edges []*edgeState // parallel to PoP.Edges
	// all holds, per geo name and family, an RRset of every edge address:
	// the answer when no edge anywhere is healthy.
	all     [][2][]dns.RR
	allSigs [][2]*sigSlot // the signatures of all
	// answers is rebuilt by the health checker under Server.mu.
	answers atomic.Pointer[popAnswers]
}

// popAnswers holds the answer sets of a PoP's healthy edges.
type popAnswers struct {
	healthy [2]int // healthy edges with an address of each family
	// rot[geo][family] lists every rotation of the healthy addresses, each
	// at most MaxAnswers long, so an answer is one index and no copying.
	rot  [][2][][]dns.RR
	sigs [][2][]*sigSlot // parallel to rot: one signature per rotation
	next atomic.Uint64   // round-robin position
}

// addrRR is an A or AAAA record for addr.
func addrRR(name string, addr netip.Addr, ttl uint32) dns.RR {
	addr = addr.Unmap()
	if addr.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: addr.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: addr.AsSlice()}
}

func family(a netip.Addr) int {
	if a.Unmap().Is4() {
		return famV4
	}
	return famV6
}

// buildAll fills p.all: every address of every edge, per geo name.
func (p *popState) buildAll(geoNames []string, ttl time.Duration) {
	secs := uint32(ttl / time.Second)
	p.all = make([][2][]dns.RR, len(geoNames))
	p.allSigs = make([][2]*sigSlot, len(geoNames))
	for g := range p.allSigs {
		p.allSigs[g] = [2]*sigSlot{{}, {}}
	}
	for g, name := range geoNames {
		for _, e := range p.Edges {
			for _, a := range e.Addrs {
				f := family(a)
				p.all[g][f] = append(p.all[g][f], addrRR(name, a, secs))
			}
		}
	}
}

// buildAnswers returns the answer sets for the edges up reports healthy.
func (p *popState) buildAnswers(geoNames []string, ttl time.Duration, maxAnswers int, up func(i int) bool) *popAnswers {
	secs := uint32(ttl / time.Second)
	pa := &popAnswers{rot: make([][2][][]dns.RR, len(geoNames)), sigs: make([][2][]*sigSlot, len(geoNames))}
	var addrs [2][]netip.Addr
	for i, e := range p.Edges {
		if !up(i) {
			continue
		}
		var has [2]bool
		for _, a := range e.Addrs {
			f := family(a)
			addrs[f] = append(addrs[f], a)
			has[f] = true
		}
		for f := range has {
			if has[f] {
				pa.healthy[f]++
			}
		}
	}
	for g, name := range geoNames {
		for f := range addrs {
			list := addrs[f]
			if len(list) == 0 {
				continue
			}
			rrs := make([]dns.RR, len(list))
			for i, a := range list {
				rrs[i] = addrRR(name, a, secs)
			}
			n := min(maxAnswers, len(rrs))
			rots := make([][]dns.RR, len(rrs))
			for start := range rrs {
				r := make([]dns.RR, n)
				for k := range n {
					r[k] = rrs[(start+k)%len(rrs)]
				}
				rots[start] = r
			}
			pa.rot[g][f] = rots
			pa.sigs[g][f] = make([]*sigSlot, len(rots))
			for i := range rots {
				pa.sigs[g][f][i] = &sigSlot{}
			}
		}
	}
	return pa
}

// ranking orders PoP indexes by preference for one kind of client.
type ranking []uint16

// ranker computes PoP preference orders. It is immutable.
type ranker struct {
	pops        []*popState
	countries   map[string]ranking
	continents  map[string]ranking
	defaultRank ranking // DefaultPoPs, then every other PoP in config order
}

func newRanker(c Config, pops []*popState) *ranker {
	idx := make(map[string]uint16, len(pops))
	for i, p := range pops {
		idx[p.Name] = uint16(i)
	}
	resolve := func(names []string) ranking {
		r := make(ranking, 0, len(names))
		for _, n := range names {
			if i, ok := idx[n]; ok && !slices.Contains(r, i) {
				r = append(r, i)
			}
		}
		return r
	}
	rk := &ranker{pops: pops, countries: map[string]ranking{}, continents: map[string]ranking{}}
	for code, names := range c.Countries {
		rk.countries[upper(code)] = resolve(names)
	}
	for code, names := range c.Continents {
		rk.continents[upper(code)] = resolve(names)
	}
	rk.defaultRank = resolve(c.DefaultPoPs)
	for i := range pops {
		if !slices.Contains(rk.defaultRank, uint16(i)) {
			rk.defaultRank = append(rk.defaultRank, uint16(i))
		}
	}
	return rk
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// rank orders every PoP for a client at loc: the country override list,
// then the continent list, then the rest by effective distance
// (great-circle distance divided by weight), ties broken by config order.
// Without coordinates the rest follow the default order; an unknown
// location gets the default order.
func (rk *ranker) rank(loc location) ranking {
	if !loc.Found {
		return rk.defaultRank
	}
	country, hasCountry := rk.countries[loc.Country]
	continent, hasContinent := rk.continents[loc.Continent]
	if !loc.HasCoords && !hasCountry && !hasContinent {
		return rk.defaultRank
	}
	r := make(ranking, 0, len(rk.pops))
	appendNew := func(list ranking) {
		for _, i := range list {
			if !slices.Contains(r, i) {
				r = append(r, i)
			}
		}
	}
	if hasCountry {
		appendNew(country)
	}
	if hasContinent {
		appendNew(continent)
	}
	if !loc.HasCoords {
		appendNew(rk.defaultRank)
		return r
	}
	fixed := len(r)
	for i := range rk.pops {
		if !slices.Contains(r[:fixed], uint16(i)) {
			r = append(r, uint16(i))
		}
	}
	rest := r[fixed:]
	dist := make([]float64, len(rk.pops))
	for _, i := range rest {
		p := rk.pops[i]
		dist[i] = haversine(loc.Lat, loc.Lon, p.Lat, p.Lon) / p.Weight
	}
	slices.SortStableFunc(rest, func(a, b uint16) int {
		if c := cmp.Compare(dist[a], dist[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return r
}
