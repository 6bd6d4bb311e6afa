package lb

import (
	"math/rand/v2"
	"testing"
)

func TestLeastConnPicksFewestPerWeight(t *testing.T) {
	tests := []struct {
		name     string
		weights  []int
		inflight []int
		want     int
	}{
		{"fewest wins", []int{1, 1, 1}, []int{3, 1, 2}, 1},
		{"weight divides load", []int{1, 4, 1}, []int{2, 6, 3}, 1}, // 2/1, 6/4=1.5, 3/1
		{"idle beats all", []int{1, 1, 1}, []int{5, 0, 5}, 1},
		{"heavy weight still loses when loaded", []int{10, 1}, []int{30, 2}, 1}, // 3 vs 2
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackends(len(tt.weights), tt.weights...)
			for i, n := range tt.inflight {
				for j := 0; j < n; j++ {
					bs[i].Acquire()
				}
			}
			lc, err := NewLeastConn(bs)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 5; i++ {
				if got := lc.Select(nil); got != bs[tt.want] {
					t.Fatalf("picked %v, want %s", got.Name, bs[tt.want].Name)
				}
			}
		})
	}
}

func TestLeastConnTiesRotate(t *testing.T) {
	bs := newBackends(4)
	lc, _ := NewLeastConn(bs)
	count := map[*Backend]int{}
	for i := 0; i < 400; i++ {
		count[lc.Select(nil)]++
	}
	for _, b := range bs {
		if count[b] != 100 {
			t.Errorf("%s: %d picks of 400 with equal loads, want 100", b.Name, count[b])
		}
	}
}

func TestLeastConnBalancesWithAcquire(t *testing.T) {
	bs := newBackends(3, 1, 2, 3)
	lc, _ := NewLeastConn(bs)
	for i := 0; i < 600; i++ {
		lc.Select(nil).Acquire()
	}
	for _, b := range bs {
		if want := int64(100 * b.weight()); b.Inflight() != want {
			t.Errorf("%s (weight %d): %d in flight, want %d", b.Name, b.weight(), b.Inflight(), want)
		}
	}
}

func TestPowerOfTwo(t *testing.T) {
	bs := newBackends(5)
	p, err := NewPowerOfTwo(bs, Options{Rand: rand.NewPCG(1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	// Under Acquire-only load, two choices keep loads within a small gap.
	for i := 0; i < 5000; i++ {
		p.Select(nil).Acquire()
	}
	lo, hi := bs[0].Inflight(), bs[0].Inflight()
	for _, b := range bs {
		lo, hi = min(lo, b.Inflight()), max(hi, b.Inflight())
	}
	if hi-lo > 3 {
		t.Errorf("in-flight spread %d..%d after 5000 picks, want a gap of at most 3", lo, hi)
	}

	// The lighter of the two is chosen: with one idle backend among
	// loaded ones it wins whenever it is drawn (about 2/5 of draws).
	idle := &Backend{Name: "idle"}
	p2, _ := NewPowerOfTwo(append(newBackends(4), idle), Options{Rand: rand.NewPCG(3, 4)})
	for _, b := range p2.backends[:4] {
		b.Acquire()
	}
	n := 0
	for i := 0; i < 10000; i++ {
		if p2.Select(nil) == idle {
			n++
		}
	}
	if n < 3700 || n > 4300 {
		t.Errorf("idle backend picked %d of 10000 times, want about 4000", n)
	}
}

func TestPowerOfTwoDeterministicWithSeed(t *testing.T) {
	seq := func() []string {
		p, _ := NewPowerOfTwo(newBackends(6), Options{Rand: rand.NewPCG(7, 7)})
		var out []string
		for i := 0; i < 50; i++ {
			out = append(out, p.Select(nil).Name)
		}
		return out
	}
	a, b := seq(), seq()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("pick %d differs between runs with the same seed: %s vs %s", i, a[i], b[i])
		}
	}
}
