package lb

import (
	"cmp"
	"math"
	"slices"
)

// Rendezvous is highest-random-weight hashing (Thaler and Ravishankar,
// 1998): every backend scores the key, the highest score wins. Removing a
// backend moves only its own keys, spread evenly over the others, and
// adding one takes an even share from each. Weights use the logarithmic
// method, score = -weight / ln(u) with u = hash(key, backend) in (0,1), so
// shares are proportional to weight. Select costs O(N) hashes; with equal
// weights no logarithm is taken.
type Rendezvous struct {
	backends []*Backend // ordered by ID
	hashes   []uint64   // hashes[i] = HashString(backends[i].ID())
	uniform  bool       // all weights equal: compare raw hashes
}

var (
	_ Selector = (*Rendezvous)(nil)
	_ Orderer  = (*Rendezvous)(nil)
)

// NewRendezvous returns a Rendezvous over backends, which must have
// distinct IDs. The result does not depend on the order of backends.
func NewRendezvous(backends []*Backend) (*Rendezvous, error) {
	return newRendezvous(PolicyRendezvous, backends)
}

func newRendezvous(policy string, backends []*Backend) (*Rendezvous, error) {
	if err := checkBackends(policy, backends, true); err != nil {
		return nil, err
	}
	s := sortedByID(backends)
	p := &Rendezvous{backends: s, hashes: make([]uint64, len(s)), uniform: true}
	for i, b := range s {
		p.hashes[i] = HashString(b.ID())
		if b.weight() != s[0].weight() {
			p.uniform = false
		}
	}
	return p, nil
}

// score returns backend i's score for key hash h as a float64 (used only
// when weights differ).
func (p *Rendezvous) score(h uint64, i int) float64 {
	return weightedScore(pairHash(h, p.hashes[i]), p.backends[i].weight())
}

// Select returns the available backend with the highest score for the
// request's key, or nil if none is available.
func (p *Rendezvous) Select(r *Request) *Backend {
	return p.selectHash(r.KeyHash(), -1)
}

// selectHash returns the available backend with the highest score for h,
// skipping index skip (-1 for none).
func (p *Rendezvous) selectHash(h uint64, skip int) *Backend {
	best := -1
	if p.uniform {
		var bestScore uint64
		for i, b := range p.backends {
			if i == skip || !b.Available() {
				continue
			}
			if s := pairHash(h, p.hashes[i]); best < 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
	} else {
		var bestScore float64
		for i, b := range p.backends {
			if i == skip || !b.Available() {
				continue
			}
			if s := p.score(h, i); best < 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
	}
	if best < 0 {
		return nil
	}
	return p.backends[best]
}

// Order appends every backend to dst in descending score for the request's
// key and returns the extended slice.
func (p *Rendezvous) Order(r *Request, dst []*Backend) []*Backend {
	return p.orderHash(r.KeyHash(), -1, dst)
}

// orderHash appends the backends other than index skip in descending score
// for h.
func (p *Rendezvous) orderHash(h uint64, skip int, dst []*Backend) []*Backend {
	type scored struct {
		key uint64 // score as an order-preserving integer
		i   int
	}
	var buf [16]scored
	sc := buf[:0]
	for i := range p.backends {
		if i == skip {
			continue
		}
		u := pairHash(h, p.hashes[i])
		if !p.uniform {
			// Positive float64s order like their bit patterns.
			u = math.Float64bits(p.score(h, i))
		}
		sc = append(sc, scored{key: u, i: i})
	}
	// Descending score; ties (practically impossible with 64-bit scores) go
	// to the lower index, as in selectHash's strict comparison.
	slices.SortFunc(sc, func(a, b scored) int {
		if c := cmp.Compare(b.key, a.key); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	for _, s := range sc {
		dst = append(dst, p.backends[s.i])
	}
	return dst
}

// IPHash keeps each client on one backend by rendezvous hashing of its
// address (ClientIP, masked to Options.IPv4PrefixLen or IPv6PrefixLen
// bits), so losing a backend moves only its clients. Requests without a
// valid ClientIP are hashed by their key instead.
type IPHash struct {
	rv             *Rendezvous
	v4Bits, v6Bits int
}

var (
	_ Selector = (*IPHash)(nil)
	_ Orderer  = (*IPHash)(nil)
)

// NewIPHash returns an IPHash over backends, which must have distinct IDs.
func NewIPHash(backends []*Backend, opts Options) (*IPHash, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	rv, err := newRendezvous(PolicyIPHash, backends)
	if err != nil {
		return nil, err
	}
	return &IPHash{rv: rv, v4Bits: o.IPv4PrefixLen, v6Bits: o.IPv6PrefixLen}, nil
}

func (p *IPHash) hash(r *Request) uint64 {
	if r != nil && r.ClientIP.IsValid() {
		return hashIP(r.ClientIP, p.v4Bits, p.v6Bits)
	}
	return r.KeyHash()
}

// Select returns the client's backend, or nil if none is available.
func (p *IPHash) Select(r *Request) *Backend {
	return p.rv.selectHash(p.hash(r), -1)
}

// Order appends every backend to dst in the client's order of preference
// and returns the extended slice.
func (p *IPHash) Order(r *Request, dst []*Backend) []*Backend {
	return p.rv.orderHash(p.hash(r), -1, dst)
}
