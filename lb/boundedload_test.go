package lb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func newBoundedLoad(t testing.TB, bs []*Backend, eps float64) *BoundedLoad {
	t.Helper()
	p, err := NewBoundedLoad(bs, Options{LoadFactor: eps})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// capOf is the paper's bound for m balls over n bins: ceil((1+ε)·m/n).
func capOf(eps float64, m int64, n int) int64 {
	return int64(math.Ceil((1 + eps) * float64(m) / float64(n)))
}

// Mirrokni et al., Theorem 1's invariant: no bin holds more than
// ceil((1+ε)·m/n) balls, however skewed the keys. Here 60% of the requests
// ask for one hot key, which plain consistent hashing would pile onto one
// backend.
func TestBoundedLoadBound(t *testing.T) {
	for _, eps := range []float64{0.1, 0.25, 1} {
		t.Run(fmt.Sprintf("eps=%v", eps), func(t *testing.T) {
			bs := newBackends(6)
			p := newBoundedLoad(t, bs, eps)
			rng := rand.New(rand.NewPCG(9, 9))
			var m int64
			for i := 0; i < 3000; i++ {
				key := "hot"
				if rng.IntN(10) >= 6 {
					key = fmt.Sprint("cold-", rng.IntN(500))
				}
				b := p.Select(&Request{Key: key})
				b.Acquire()
				m++
				if c := capOf(eps, m, len(bs)); b.Inflight() > c {
					t.Fatalf("after %d requests %s holds %d, above the bound %d", m, b.Name, b.Inflight(), c)
				}
			}
			var hi int64
			for _, b := range bs {
				hi = max(hi, b.Inflight())
			}
			t.Logf("eps=%v: max load %d, bound %d, mean %d", eps, hi, capOf(eps, m, len(bs)), m/int64(len(bs)))
		})
	}
}

// With releases mixed in, each pick still respects the bound at that moment.
func TestBoundedLoadBoundWithReleases(t *testing.T) {
	bs := newBackends(5, 1, 1, 2, 1, 3)
	p := newBoundedLoad(t, bs, 0.25)
	rng := rand.New(rand.NewPCG(11, 12))
	var held []*Backend
	var totalW int64 = 8
	for i := 0; i < 5000; i++ {
		if len(held) > 0 && rng.IntN(3) == 0 {
			j := rng.IntN(len(held))
			held[j].Release()
			held[j] = held[len(held)-1]
			held = held[:len(held)-1]
			continue
		}
		key := fmt.Sprint("k", rng.IntN(20)) // few keys: heavy contention
		b := p.Select(&Request{Key: key})
		b.Acquire()
		held = append(held, b)
		m := float64(len(held))
		limit := int64(math.Ceil(1.25 * m * float64(b.weight()) / float64(totalW)))
		if b.Inflight() > limit {
			t.Fatalf("step %d: %s (weight %d) holds %d, above its bound %d", i, b.Name, b.weight(), b.Inflight(), limit)
		}
	}
}

// When loads are even, every key stays on its ring owner: bounded loads
// cost nothing in cache locality until a backend runs hot.
func TestBoundedLoadKeepsOwnerWhenEven(t *testing.T) {
	bs := newBackends(5)
	p := newBoundedLoad(t, bs, 0.25)
	reqs := keyRequests()[:20000]
	for _, level := range []int{0, 1, 4, 40} {
		for _, b := range bs {
			for b.Inflight() < int64(level) {
				b.Acquire()
			}
		}
		stay := 0
		var buf []*Backend
		for i := range reqs {
			buf = p.Order(&reqs[i], buf[:0])
			if p.Select(&reqs[i]) == buf[0] {
				stay++
			}
		}
		if stay != len(reqs) {
			t.Errorf("even load %d: %d of %d keys left their ring owner", level, len(reqs)-stay, len(reqs))
		}
	}
	for _, b := range bs {
		for b.Inflight() > 0 {
			b.Release()
		}
	}
	// And plain ring hashing spreads keys fairly with 100 virtual nodes.
	worst := checkFair(t, bs, assign(p), 0.15)
	t.Logf("ring of 5×100 virtual nodes: worst key-share deviation %.2f%%", worst*100)
}

// An overloaded owner sheds to the next backend on the key's own walk, the
// same one every caller would pick.
func TestBoundedLoadSpillsAlongRing(t *testing.T) {
	bs := newBackends(4)
	p := newBoundedLoad(t, bs, 0.25)
	r := &Request{Key: "/hot.mp4"}
	order := p.Order(r, nil)
	for i := 0; i < 10; i++ {
		order[0].Acquire()
	}
	// m = 11, n = 4: capacity ceil(1.25·11/4) = 4; the owner holds 10.
	if got := p.Select(r); got != order[1] {
		t.Fatalf("overloaded owner: picked %s, want the next on the ring %s", got.Name, order[1].Name)
	}
}
