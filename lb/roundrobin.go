package lb

import (
	"slices"
	"sync"
	"sync/atomic"
)

// RoundRobin hands requests to the available backends in turn, ignoring
// weights. Select costs one atomic add plus one Available check per
// unavailable backend skipped.
type RoundRobin struct {
	backends []*Backend
	next     atomic.Uint64
}

var _ Selector = (*RoundRobin)(nil)

// NewRoundRobin returns a RoundRobin over a copy of backends.
func NewRoundRobin(backends []*Backend) (*RoundRobin, error) {
	if err := checkBackends(PolicyRoundRobin, backends, false); err != nil {
		return nil, err
	}
	return &RoundRobin{backends: slices.Clone(backends)}, nil
}

// Select returns the next available backend after the previous pick, or nil
// if none is available.
func (p *RoundRobin) Select(*Request) *Backend {
	n := uint64(len(p.backends))
	if n == 0 {
		return nil
	}
	start := p.next.Add(1) - 1
	for i := uint64(0); i < n; i++ {
		if b := p.backends[(start+i)%n]; b.Available() {
			return b
		}
	}
	return nil
}

// WeightedRoundRobin is nginx's smooth weighted round robin
// (ngx_http_upstream_get_peer): on every pick each available backend's
// current weight grows by its weight, the largest current weight wins (the
// first listed on ties), and the winner's current weight drops by the sum of
// the weights. Weights {5, 1, 1} give a a b a c a a, spreading the heavy
// backend's turns instead of sending it five requests in a row. A backend
// that is unavailable takes no part until it returns. Select holds a mutex.
type WeightedRoundRobin struct {
	backends []*Backend

	mu      sync.Mutex
	current []int64 // guarded by mu: current weight per backend
}

var _ Selector = (*WeightedRoundRobin)(nil)

// NewWeightedRoundRobin returns a WeightedRoundRobin over a copy of
// backends.
func NewWeightedRoundRobin(backends []*Backend) (*WeightedRoundRobin, error) {
	if err := checkBackends(PolicyWeightedRoundRobin, backends, false); err != nil {
		return nil, err
	}
	return &WeightedRoundRobin{
		backends: slices.Clone(backends),
		current:  make([]int64, len(backends)),
	}, nil
}

// Select returns the available backend whose turn it is, or nil if none is
// available.
func (p *WeightedRoundRobin) Select(*Request) *Backend {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	var total int64
	for i, b := range p.backends {
		if !b.Available() {
			continue
		}
		w := int64(b.weight())
		p.current[i] += w
		total += w
		if best < 0 || p.current[i] > p.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	p.current[best] -= total
	return p.backends[best]
}
