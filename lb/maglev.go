package lb

import (
	"fmt"
	"sync/atomic"
)

// Seeds of the two hashes that give each backend its permutation of the
// lookup table (offset and skip in the Maglev paper). Changing them remaps
// every key, so they are part of the wire contract between processes.
const (
	maglevOffsetSeed = 0x6d61676c65762d6f // "maglev-o"
	maglevSkipSeed   = 0x6d61676c65762d73 // "maglev-s"
	maglevEmpty      = ^uint16(0)
	maglevMaxBackend = int(maglevEmpty) // backend indexes must stay below the empty marker
)

// Maglev is the consistent hashing of Google's Maglev load balancer
// (Eisenbud et al., NSDI 2016): a lookup table of prime size M, filled by
// letting each backend claim slots in the order of its own permutation
// (offset + j·skip mod M, from two hashes of its ID), so each backend owns
// an almost equal share of slots and a membership change reassigns few of
// them. Weights are honoured by giving each backend turns in the fill loop in
// proportion to its weight. Select is one table lookup.
//
// When a key's backend is unavailable (unhealthy, ejected, full) the table is
// left alone and the key goes to the remaining backend that ranks highest
// for it by weighted rendezvous hashing, so the failed backend's keys spread
// evenly over the survivors and every process agrees where they go. Order
// returns exactly that sequence: the table's backend, then the others in
// rendezvous order.
//
// Membership changes (a backend added or removed for good) need a rebuilt
// table: call SetBackends, which builds the new table and swaps it in
// atomically; concurrent Selects see the old table or the new one. Health
// changes need no rebuild.
//
// The zero Maglev has no backends and a table size of 65537.
type Maglev struct {
	size  uint64 // 0 means DefaultMaglevTableSize
	state atomic.Pointer[maglevState]
}

// maglevState is one immutable generation of the table.
type maglevState struct {
	rv    *Rendezvous // backends ordered by ID, and their hashes
	table []uint16    // table[slot] indexes rv.backends
}

var (
	_ Selector = (*Maglev)(nil)
	_ Orderer  = (*Maglev)(nil)
)

// NewMaglev returns a Maglev over backends with a table of opts.TableSize
// slots (default 65537), which must be prime and at least 100 times the
// number of backends so that shares stay within about 1% of fair. Backends
// must have distinct IDs; the table does not depend on their order.
func NewMaglev(backends []*Backend, opts Options) (*Maglev, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", PolicyMaglev, err)
	}
	m := &Maglev{size: opts.withDefaults().TableSize}
	if err := m.SetBackends(backends); err != nil {
		return nil, err
	}
	return m, nil
}

// SetBackends replaces the backend set and rebuilds the lookup table (a few
// milliseconds for 10 backends and M = 65537). On error the previous set stays in
// force.
func (m *Maglev) SetBackends(backends []*Backend) error {
	if err := checkBackends(PolicyMaglev, backends, true); err != nil {
		return err
	}
	size := m.TableSize()
	n := len(backends)
	if n > maglevMaxBackend {
		return fmt.Errorf("%s: %d backends exceed the maximum %d", PolicyMaglev, n, maglevMaxBackend)
	}
	if uint64(n)*100 > size {
		return fmt.Errorf("%s: table size %d must be at least 100 × %d backends = %d; use a larger prime",
			PolicyMaglev, size, n, n*100)
	}
	rv, err := newRendezvous(PolicyMaglev, backends)
	if err != nil {
		return err
	}
	m.state.Store(&maglevState{rv: rv, table: buildMaglevTable(rv.backends, size)})
	return nil
}

// TableSize returns M, the number of slots in the lookup table.
func (m *Maglev) TableSize() uint64 {
	if m.size == 0 {
		return DefaultMaglevTableSize
	}
	return m.size
}

// buildMaglevTable fills a table of size m (prime, m ≥ len(backends)) as in
// the Maglev paper's Pseudocode 1, with weighted turns: on each pass over
// the backends, backend i earns weight(i) credits and claims one slot per
// maxWeight credits, so the heaviest backend claims one slot per pass and
// the others claim in proportion.
func buildMaglevTable(backends []*Backend, m uint64) []uint16 {
	n := len(backends)
	if n == 0 {
		return nil
	}
	pos := make([]uint64, n)  // next candidate slot in backend i's permutation
	skip := make([]uint64, n) // step of backend i's permutation, coprime with m
	weight := make([]int64, n)
	credit := make([]int64, n)
	var maxW int64
	for i, b := range backends {
		id := b.ID()
		pos[i] = xxh64String(id, maglevOffsetSeed) % m
		skip[i] = xxh64String(id, maglevSkipSeed)%(m-1) + 1
		weight[i] = int64(b.weight())
		maxW = max(maxW, weight[i])
	}
	table := make([]uint16, m)
	for i := range table {
		table[i] = maglevEmpty
	}
	filled := uint64(0)
	// Each pass fills at least one slot (the heaviest backend's), so the
	// loop ends after at most m passes.
	for {
		for i := 0; i < n; i++ {
			credit[i] += weight[i]
			for credit[i] >= maxW {
				credit[i] -= maxW
				c := pos[i]
				// The permutation visits every slot (skip is coprime with
				// the prime m), so an empty one is found.
				for table[c] != maglevEmpty {
					c += skip[i]
					if c >= m {
						c -= m
					}
				}
				table[c] = uint16(i)
				c += skip[i]
				if c >= m {
					c -= m
				}
				pos[i] = c
				filled++
				if filled == m {
					return table
				}
			}
		}
	}
}

// slot returns the table index of a key hash. The hash is mixed again so
// that a caller's own Request.Hash values need not be uniform.
func (s *maglevState) slot(h uint64) uint64 {
	return Mix64(h) % uint64(len(s.table))
}

// Select returns the key's backend from the table if it is available, else
// the first available backend of Order, or nil if none is available.
func (m *Maglev) Select(r *Request) *Backend {
	s := m.state.Load()
	if s == nil || len(s.table) == 0 {
		return nil
	}
	h := r.KeyHash()
	i := int(s.table[s.slot(h)])
	if b := s.rv.backends[i]; b.Available() {
		return b
	}
	return s.rv.selectHash(h, i)
}

// Order appends the key's table backend and then the others in weighted
// rendezvous order to dst, and returns the extended slice.
func (m *Maglev) Order(r *Request, dst []*Backend) []*Backend {
	s := m.state.Load()
	if s == nil || len(s.table) == 0 {
		return dst
	}
	h := r.KeyHash()
	i := int(s.table[s.slot(h)])
	dst = append(dst, s.rv.backends[i])
	return s.rv.orderHash(h, i, dst)
}
