package lb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestNewSelectorUnknownPolicy(t *testing.T) {
	_, err := NewSelector("random-ish", newBackends(2), Options{})
	if err == nil || !strings.Contains(err.Error(), `"random-ish"`) || !strings.Contains(err.Error(), "maglev") {
		t.Fatalf("error %v, want one naming the policy and listing the known ones", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string // substrings; none means valid
	}{
		{"zero is valid", Options{}, nil},
		{"custom prime", Options{TableSize: 251, VirtualNodes: 40, LoadFactor: 1.5}, nil},
		{"table size not prime", Options{TableSize: 65536}, []string{"options.table_size: 65536 is not prime"}},
		{"table size too large", Options{TableSize: 1<<24 + 1}, []string{"options.table_size:", "maximum"}},
		{"negative virtual nodes", Options{VirtualNodes: -1}, []string{"options.virtual_nodes"}},
		{"negative load factor", Options{LoadFactor: -0.5}, []string{"options.load_factor"}},
		{"prefix lengths", Options{IPv4PrefixLen: 33, IPv6PrefixLen: -1},
			[]string{"options.ipv4_prefix_len", "options.ipv6_prefix_len"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Every policy must skip backends that are unhealthy, ejected or full, and
// return nil when none is left.
func TestAllPoliciesSkipUnavailable(t *testing.T) {
	clock := newFakeClock()
	for _, policy := range Policies() {
		t.Run(policy, func(t *testing.T) {
			bs := newBackends(4)
			bs[3].MaxConns = 1
			pool, err := NewPool(PoolConfig{Name: "p", Policy: policy,
				Options: Options{Rand: rand.NewPCG(1, 1)},
				Passive: PassiveConfig{MaxFails: 1}}, bs, nil, nil, clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			sel := pool.Selector()
			bs[0].SetHealthy(false) // unhealthy
			bs[1].ReportResult(false)
			if !bs[1].Ejected() {
				t.Fatal("one failure with max_fails 1 did not eject")
			}
			bs[3].Acquire() // full
			for i := 0; i < 200; i++ {
				req := &Request{Key: fmt.Sprint("k", i), ClientIP: netip.AddrFrom4([4]byte{10, 0, byte(i), 1})}
				if got := sel.Select(req); got != bs[2] {
					t.Fatalf("key %d: picked %v, want the only available backend b02", i, got)
				}
			}
			bs[2].SetHealthy(false)
			if got := sel.Select(&Request{Key: "x"}); got != nil {
				t.Fatalf("picked %s with none available", got.Name)
			}
			bs[3].Release()
			if got := sel.Select(&Request{Key: "x"}); got != bs[3] {
				t.Fatalf("picked %v after b03 got a free slot, want b03", got)
			}
		})
	}
}

func TestAllPoliciesEmptyAndZero(t *testing.T) {
	for _, policy := range Policies() {
		s, err := NewSelector(policy, nil, Options{})
		if err != nil {
			t.Fatalf("%s with no backends: %v", policy, err)
		}
		if b := s.Select(&Request{Key: "k"}); b != nil {
			t.Fatalf("%s with no backends picked %v", policy, b)
		}
		if o, ok := s.(Orderer); ok {
			if got := o.Order(nil, nil); len(got) != 0 {
				t.Fatalf("%s with no backends ordered %v", policy, got)
			}
		}
	}
	var m Maglev
	if m.Select(nil) != nil || len(m.Order(nil, nil)) != 0 {
		t.Fatal("zero Maglev must select nothing")
	}
	if err := m.SetBackends(newBackends(3)); err != nil {
		t.Fatalf("zero Maglev SetBackends: %v", err)
	}
	if m.Select(&Request{Key: "k"}) == nil || m.TableSize() != DefaultMaglevTableSize {
		t.Fatal("zero Maglev after SetBackends must select with the default table")
	}
}

// orderers builds each hashing policy over the same backends.
func orderers(t testing.TB, bs []*Backend) map[string]interface {
	Selector
	Orderer
} {
	out := map[string]interface {
		Selector
		Orderer
	}{}
	for _, policy := range []string{PolicyMaglev, PolicyRendezvous, PolicyIPHash, PolicyBoundedLoad} {
		s, err := NewSelector(policy, bs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		out[policy] = s.(interface {
			Selector
			Orderer
		})
	}
	return out
}

// checkOrder verifies the Orderer contract for one request: every backend
// once, and Select equal to the first available backend of the order.
func checkOrder(t testing.TB, policy string, s interface {
	Selector
	Orderer
}, bs []*Backend, r *Request) {
	t.Helper()
	order := s.Order(r, nil)
	if len(order) != len(bs) {
		t.Fatalf("%s: order has %d backends, want %d", policy, len(order), len(bs))
	}
	seen := map[*Backend]bool{}
	for _, b := range order {
		if seen[b] {
			t.Fatalf("%s: %s appears twice in the order", policy, b.Name)
		}
		seen[b] = true
	}
	var first *Backend
	for _, b := range order {
		if b.Available() {
			first = b
			break
		}
	}
	if got := s.Select(r); got != first {
		t.Fatalf("%s: key %q: Select = %v, first available of Order = %v", policy, r.Key, got, first)
	}
}

// The Orderer contract under random availability: the property that makes
// a failed backend's keys go where every caller expects.
func TestOrderContract(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 42))
	for _, n := range []int{1, 3, 10} {
		bs := newBackends(n)
		for name, s := range orderers(t, bs) {
			t.Run(fmt.Sprintf("%s/n=%d", name, n), func(t *testing.T) {
				for trial := 0; trial < 300; trial++ {
					for _, b := range bs {
						b.SetHealthy(rng.IntN(3) > 0)
					}
					r := &Request{Key: fmt.Sprint("key-", rng.Uint64()),
						ClientIP: netip.AddrFrom4([4]byte{192, 0, 2, byte(trial)})}
					checkOrder(t, name, s, bs, r)
				}
				for _, b := range bs {
					b.SetHealthy(true)
				}
			})
		}
	}
}

// Orders reuse the caller's buffer and append to it.
func TestOrderAppends(t *testing.T) {
	bs := newBackends(3)
	for name, s := range orderers(t, bs) {
		buf := make([]*Backend, 1, 8)
		out := s.Order(&Request{Key: "k"}, buf)
		if len(out) != 4 || out[0] != nil || &out[0] != &buf[0] {
			t.Fatalf("%s: Order did not append to the given buffer", name)
		}
	}
}

// Two processes listing the backends in a different order must agree on
// every key.
func TestHashingIndependentOfListOrder(t *testing.T) {
	bs := newBackends(7, 1, 2, 3, 1, 2, 3, 1)
	rev := slices.Clone(bs)
	slices.Reverse(rev)
	a, b := orderers(t, bs), orderers(t, rev)
	for name := range a {
		for i := 0; i < 2000; i++ {
			r := &Request{Key: fmt.Sprint("k", i), ClientIP: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})}
			if x, y := a[name].Select(r), b[name].Select(r); x != y {
				t.Fatalf("%s: key %d maps to %s and %s depending on list order", name, i, x.Name, y.Name)
			}
		}
	}
}

// Select from many goroutines while health flips and loads change; run
// with -race.
func TestConcurrentSelect(t *testing.T) {
	for _, policy := range Policies() {
		t.Run(policy, func(t *testing.T) {
			bs := newBackends(5, 1, 2, 3, 4, 5)
			bs[4].MaxConns = 2
			pool, err := NewPool(PoolConfig{Name: "c", Policy: policy,
				Options: Options{Rand: rand.NewPCG(5, 6)},
				Passive: PassiveConfig{MaxFails: 2}}, bs, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var flips sync.WaitGroup
			flips.Add(1)
			go func() {
				defer flips.Done()
				for i := 0; ctx.Err() == nil && i < 100_000; i++ {
					bs[i%4].SetHealthy(i%3 != 0)
					if i%50 == 0 {
						_ = pool.SetBackends(bs)
					}
				}
			}()
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var buf []*Backend
					for i := 0; i < 2000; i++ {
						r := &Request{Key: fmt.Sprint(g, "/", i)}
						if b := pool.Select(r); b != nil {
							if b.TryAcquire() {
								b.ReportResult(i%7 != 0)
								b.Release()
							}
						}
						buf = pool.Order(r, buf[:0])
						if len(buf) != len(bs) {
							t.Errorf("order of %d backends, want %d", len(buf), len(bs))
							return
						}
					}
				}()
			}
			wg.Wait()
			cancel()
			flips.Wait()
			for _, b := range bs {
				if b.Inflight() != 0 {
					t.Errorf("%s: %d in flight after all releases", b.Name, b.Inflight())
				}
			}
		})
	}
}

// FuzzOrder checks the Orderer contract for arbitrary keys and
// availability patterns.
func FuzzOrder(f *testing.F) {
	f.Add("/index.html", uint16(0))
	f.Add("", uint16(0xffff))
	f.Add("\x00\xff", uint16(0x5a5a))
	bs := newBackends(11, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 9)
	os := orderers(f, bs)
	f.Fuzz(func(t *testing.T, key string, down uint16) {
		for i, b := range bs {
			b.SetHealthy(down&(1<<(i%16)) == 0)
		}
		for name, s := range os {
			checkOrder(t, name, s, bs, &Request{Key: key})
		}
	})
}
