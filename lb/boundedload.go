package lb

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
)

// BoundedLoad is consistent hashing with bounded loads (Mirrokni, Thorup and
// Zadimoghaddam, SODA 2018; the policy behind HAProxy's hash-balance-factor
// and Vimeo's Skyfire): a ring of virtual nodes (Options.VirtualNodes per
// unit of weight) where a key goes to the first backend clockwise from its
// hash that is available and whose load is below its capacity
//
//	capacity(b) = ceil((1+ε) × (L+1) × weight(b) / W)
//
// with L the requests in flight over all available backends, W their total
// weight and ε = Options.LoadFactor (default 0.25). With equal weights that
// is ceil((1+ε) × mean load, counting this request), so no backend runs
// more than 1+ε times the mean, and keys stay on their owner while loads
// are even. A popular key overflowing its owner spills onto the next
// backends of its own ring walk, which every caller computes alike.
//
// Load is Backend.Inflight: the caller must Acquire the selected backend
// before sending and Release it when the response is done; without that
// BoundedLoad is plain ring hashing. Each Select reads every backend's
// count (O(N)) and binary-searches the ring (O(log(N·VirtualNodes))).
//
// Order returns the distinct backends in ring order from the key's hash;
// Select returns the first of them that is available and under capacity,
// or, if counts change under it so that none is, the first available one.
type BoundedLoad struct {
	backends []*Backend // ordered by ID
	points   []uint64   // ring positions, ascending
	owners   []uint16   // owners[i] indexes backends for points[i]
	factor   float64    // 1 + ε
}

var (
	_ Selector = (*BoundedLoad)(nil)
	_ Orderer  = (*BoundedLoad)(nil)
)

// NewBoundedLoad returns a BoundedLoad over backends, which must have
// distinct IDs; the ring does not depend on their order.
func NewBoundedLoad(backends []*Backend, opts Options) (*BoundedLoad, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", PolicyBoundedLoad, err)
	}
	if err := checkBackends(PolicyBoundedLoad, backends, true); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	s := sortedByID(backends)
	if len(s) > maglevMaxBackend {
		return nil, fmt.Errorf("%s: %d backends exceed the maximum %d", PolicyBoundedLoad, len(s), maglevMaxBackend)
	}
	total := 0
	for _, b := range s {
		total += o.VirtualNodes * b.weight()
	}
	if total > 1<<24 {
		return nil, fmt.Errorf("%s: %d ring points (virtual_nodes × total weight) exceed the maximum %d",
			PolicyBoundedLoad, total, 1<<24)
	}
	type point struct {
		h     uint64
		owner uint16
	}
	pts := make([]point, 0, total)
	var name []byte
	for i, b := range s {
		for v := 0; v < o.VirtualNodes*b.weight(); v++ {
			name = append(name[:0], b.ID()...)
			name = append(name, '#')
			name = strconv.AppendInt(name, int64(v), 10)
			pts = append(pts, point{h: HashBytes(name), owner: uint16(i)})
		}
	}
	// Equal positions (a 64-bit collision) are ordered by owner so that
	// every process builds the same ring.
	slices.SortFunc(pts, func(a, b point) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return int(a.owner) - int(b.owner)
	})
	p := &BoundedLoad{
		backends: s,
		points:   make([]uint64, len(pts)),
		owners:   make([]uint16, len(pts)),
		factor:   1 + o.LoadFactor,
	}
	for i, pt := range pts {
		p.points[i], p.owners[i] = pt.h, pt.owner
	}
	return p, nil
}

// start returns the index of the first ring point at or after the key's
// position.
func (p *BoundedLoad) start(h uint64) int {
	pos := Mix64(h)
	i := sort.Search(len(p.points), func(i int) bool { return p.points[i] >= pos })
	if i == len(p.points) {
		i = 0
	}
	return i
}

// Select returns the first backend clockwise from the key that is available
// and under its capacity, or nil if none is available.
func (p *BoundedLoad) Select(r *Request) *Backend {
	if len(p.points) == 0 {
		return nil
	}
	var load, weight int64
	for _, b := range p.backends {
		if b.Available() {
			load += b.Inflight()
			weight += int64(b.weight())
		}
	}
	if weight == 0 {
		return nil
	}
	// perWeight × weight(b), rounded up, is b's capacity.
	perWeight := p.factor * float64(load+1) / float64(weight)
	var first *Backend
	n := len(p.points)
	for k, i := 0, p.start(r.KeyHash()); k < n; k++ {
		b := p.backends[p.owners[i]]
		if b.Available() {
			if first == nil {
				first = b
			}
			if float64(b.Inflight()) < math.Ceil(perWeight*float64(b.weight())) {
				return b
			}
		}
		if i++; i == n {
			i = 0
		}
	}
	return first
}

// Order appends the distinct backends met walking the ring clockwise from
// the key to dst and returns the extended slice.
func (p *BoundedLoad) Order(r *Request, dst []*Backend) []*Backend {
	if len(p.points) == 0 {
		return dst
	}
	var small [2]uint64
	var seen []uint64
	if len(p.backends) <= 128 {
		seen = small[:]
	} else {
		seen = make([]uint64, (len(p.backends)+63)/64)
	}
	found, n := 0, len(p.points)
	for k, i := 0, p.start(r.KeyHash()); k < n && found < len(p.backends); k++ {
		o := p.owners[i]
		if seen[o/64]&(1<<(o%64)) == 0 {
			seen[o/64] |= 1 << (o % 64)
			dst = append(dst, p.backends[o])
			found++
		}
		if i++; i == n {
			i = 0
		}
	}
	return dst
}
