package lb

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// lighter reports whether backend a is less loaded than b relative to their
// weights: inflight(a)/weight(a) < inflight(b)/weight(b), compared without
// division.
func lighter(a, b *Backend) bool {
	return a.Inflight()*int64(b.weight()) < b.Inflight()*int64(a.weight())
}

// LeastConn picks the available backend with the fewest requests in flight
// per unit of weight (Acquire/Release keep the count). Ties go round robin:
// each Select starts its scan one backend further on. Select reads every
// backend's count, so it costs O(N).
type LeastConn struct {
	backends []*Backend
	next     atomic.Uint64
}

var _ Selector = (*LeastConn)(nil)

// NewLeastConn returns a LeastConn over a copy of backends.
func NewLeastConn(backends []*Backend) (*LeastConn, error) {
	if err := checkBackends(PolicyLeastConn, backends, false); err != nil {
		return nil, err
	}
	return &LeastConn{backends: slices.Clone(backends)}, nil
}

// Select returns the least-loaded available backend, or nil if none is
// available.
func (p *LeastConn) Select(*Request) *Backend {
	n := uint64(len(p.backends))
	if n == 0 {
		return nil
	}
	start := p.next.Add(1) - 1
	var best *Backend
	for i := uint64(0); i < n; i++ {
		b := p.backends[(start+i)%n]
		if !b.Available() {
			continue
		}
		if best == nil || lighter(b, best) {
			best = b
		}
	}
	return best
}

// PowerOfTwo ("power of two random choices", Mitzenmacher 2001; Envoy's
// LEAST_REQUEST) draws two distinct available backends uniformly at random
// and picks the one with fewer requests in flight per unit of weight. It
// spreads load almost as well as LeastConn while every caller's view of the
// counts can be stale, and avoids LeastConn's herd onto one idle backend.
type PowerOfTwo struct {
	backends []*Backend
	src      *lockedSource // nil: the runtime generator
}

// lockedSource serialises calls to a rand.Source that is not safe for
// concurrent use. One lockedSource may serve several selectors (a Pool's
// successive generations), which is why the lock lives with the source.
type lockedSource struct {
	mu  sync.Mutex
	src rand.Source // guarded by mu
}

// Uint64 implements rand.Source.
func (l *lockedSource) Uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.src.Uint64()
}

// lockSource returns src wrapped for concurrent use, or src itself if it
// is already wrapped, or nil for nil.
func lockSource(src rand.Source) *lockedSource {
	switch s := src.(type) {
	case nil:
		return nil
	case *lockedSource:
		return s
	}
	return &lockedSource{src: src}
}

var _ Selector = (*PowerOfTwo)(nil)

// NewPowerOfTwo returns a PowerOfTwo over a copy of backends, drawing from
// opts.Rand when it is set. The PowerOfTwo serialises its own calls to
// opts.Rand; a source shared with other code must be safe for concurrent
// use.
func NewPowerOfTwo(backends []*Backend, opts Options) (*PowerOfTwo, error) {
	if err := checkBackends(PolicyPowerOfTwo, backends, false); err != nil {
		return nil, err
	}
	return &PowerOfTwo{backends: slices.Clone(backends), src: lockSource(opts.Rand)}, nil
}

// below returns a uniform integer in [0, n), n > 0.
func (p *PowerOfTwo) below(n int) int {
	var r uint64
	if p.src == nil {
		r = rand.Uint64()
	} else {
		r = p.src.Uint64()
	}
	hi, _ := bits.Mul64(r, uint64(n))
	return int(hi)
}

// Select returns the lighter of two random available backends, the only one
// if one is available, or nil if none is.
func (p *PowerOfTwo) Select(*Request) *Backend {
	avail := 0
	var only *Backend
	for _, b := range p.backends {
		if b.Available() {
			avail++
			only = b
		}
	}
	switch avail {
	case 0:
		return nil
	case 1:
		return only
	}
	i := p.below(avail)
	j := p.below(avail - 1)
	if j >= i {
		j++
	}
	// Find the i-th and j-th available backends. Availability may change
	// under us; then the draw falls back to what was found.
	var a, b *Backend
	k := 0
	for _, be := range p.backends {
		if !be.Available() {
			continue
		}
		if k == i {
			a = be
		}
		if k == j {
			b = be
		}
		k++
	}
	switch {
	case a == nil && b == nil:
		if only.Available() {
			return only
		}
		return nil
	case a == nil:
		return b
	case b == nil:
		return a
	case lighter(b, a):
		return b
	}
	return a
}
