package lb

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newBackends returns n backends named b00, b01, ... with the given weights
// (all 1 if weights is nil).
func newBackends(n int, weights ...int) []*Backend {
	bs := make([]*Backend, n)
	for i := range bs {
		bs[i] = &Backend{Name: fmt.Sprintf("b%02d", i), Addr: fmt.Sprintf("10.0.0.%d:80", i+1)}
		if i < len(weights) {
			bs[i].Weight = weights[i]
		}
	}
	return bs
}

var (
	testKeysOnce sync.Once
	testKeys     []Request
)

// keyRequests returns 100,000 requests with keys key-0 ... key-99999 and
// their hashes precomputed; the slice is shared and must not be modified.
func keyRequests() []Request {
	testKeysOnce.Do(func() {
		testKeys = make([]Request, 100_000)
		for i := range testKeys {
			k := fmt.Sprintf("/assets/%d/object-%d.js", i%97, i)
			testKeys[i] = Request{Key: k, Hash: HashString(k)}
		}
	})
	return testKeys
}

// assign maps every test key to its selected backend.
func assign(s Selector) []*Backend {
	reqs := keyRequests()
	out := make([]*Backend, len(reqs))
	for i := range reqs {
		out[i] = s.Select(&reqs[i])
	}
	return out
}

// shares counts how many entries of a pick each backend got.
func shares(picks []*Backend) map[*Backend]int {
	m := make(map[*Backend]int)
	for _, b := range picks {
		m[b]++
	}
	return m
}

// checkFair fails unless each backend's share of picks is within tol
// (relative) of weight/total weight.
func checkFair(t *testing.T, bs []*Backend, picks []*Backend, tol float64) (worst float64) {
	t.Helper()
	count := shares(picks)
	if count[nil] != 0 {
		t.Fatalf("%d keys got no backend", count[nil])
	}
	total := 0
	for _, b := range bs {
		total += b.weight()
	}
	for _, b := range bs {
		want := float64(b.weight()) / float64(total)
		got := float64(count[b]) / float64(len(picks))
		dev := math.Abs(got/want - 1)
		worst = max(worst, dev)
		if dev > tol {
			t.Errorf("backend %s (weight %d): share %.4f, want %.4f ± %.0f%%", b.Name, b.weight(), got, want, tol*100)
		}
	}
	return worst
}

// moved returns the fraction of keys whose backend differs between a and b.
func moved(a, b []*Backend) float64 {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return float64(n) / float64(len(a))
}

// fakeClock is a settable clock for passive-health tests.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// waitFor polls cond every few milliseconds until it holds or the deadline
// passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}
