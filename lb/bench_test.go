package lb

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// BenchmarkSelect measures one Select per policy with 3 and 10 backends,
// over a rotating set of pre-hashed keys (hashing the key is measured by
// BenchmarkHashString).
func BenchmarkSelect(b *testing.B) {
	reqs := keyRequests()[:1024]
	for i := range reqs {
		reqs[i].ClientIP = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	for _, policy := range Policies() {
		for _, n := range []int{3, 10} {
			b.Run(fmt.Sprintf("%s/n=%d", policy, n), func(b *testing.B) {
				sel, err := NewSelector(policy, newBackends(n), Options{Rand: rand.NewPCG(1, 2)})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if sel.Select(&reqs[i&1023]) == nil {
						b.Fatal("nil")
					}
					i++
				}
			})
		}
	}
}

// BenchmarkSelectParallel measures contention on policies with shared
// state (counters, WRR's mutex).
func BenchmarkSelectParallel(b *testing.B) {
	reqs := keyRequests()[:1024]
	for _, policy := range []string{PolicyRoundRobin, PolicyWeightedRoundRobin, PolicyMaglev} {
		b.Run(policy, func(b *testing.B) {
			sel, _ := NewSelector(policy, newBackends(10), Options{})
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					sel.Select(&reqs[i&1023])
					i++
				}
			})
		})
	}
}

func BenchmarkOrder(b *testing.B) {
	reqs := keyRequests()[:1024]
	for _, policy := range []string{PolicyMaglev, PolicyRendezvous, PolicyBoundedLoad} {
		b.Run(policy+"/n=10", func(b *testing.B) {
			sel, _ := NewSelector(policy, newBackends(10), Options{})
			o := sel.(Orderer)
			buf := make([]*Backend, 0, 10)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				buf = o.Order(&reqs[i&1023], buf[:0])
				i++
			}
		})
	}
}

// BenchmarkMaglevBuild measures a table rebuild (NewMaglev, SetBackends).
func BenchmarkMaglevBuild(b *testing.B) {
	for _, tc := range []struct {
		m       uint64
		weights []int
	}{{65537, nil}, {65537, []int{1, 2, 3, 4, 5, 1, 2, 3, 4, 5}}} {
		b.Run(fmt.Sprintf("M=%d/n=10/weighted=%v", tc.m, tc.weights != nil), func(b *testing.B) {
			bs := sortedByID(newBackends(10, tc.weights...))
			b.ReportAllocs()
			for b.Loop() {
				buildMaglevTable(bs, tc.m)
			}
		})
	}
}

func BenchmarkHashString(b *testing.B) {
	for _, n := range []int{16, 64, 256} {
		key := string(make([]byte, n))
		b.Run(fmt.Sprint("len=", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				HashString(key)
			}
		})
	}
}
