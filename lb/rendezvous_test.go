package lb

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestRendezvousDistribution(t *testing.T) {
	tests := []struct {
		n       int
		weights []int
	}{
		{3, nil}, {5, nil}, {10, nil},
		{4, []int{1, 2, 3, 4}},
		{3, []int{1, 1, 8}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d/weights=%v", tt.n, tt.weights), func(t *testing.T) {
			bs := newBackends(tt.n, tt.weights...)
			rv, err := NewRendezvous(bs)
			if err != nil {
				t.Fatal(err)
			}
			worst := checkFair(t, bs, assign(rv), 0.05)
			t.Logf("n=%d weights=%v: worst key-share deviation %.2f%%", tt.n, tt.weights, worst*100)
		})
	}
}

// Highest random weight moves exactly the keys that must move: a leaving
// backend's own, and on a join exactly those the newcomer now wins.
func TestRendezvousDisruption(t *testing.T) {
	for _, tt := range []struct {
		n       int
		weights []int
	}{{3, nil}, {5, nil}, {10, nil}, {5, []int{1, 2, 3, 4, 5, 3}}} {
		t.Run(fmt.Sprintf("n=%d/weights=%v", tt.n, tt.weights), func(t *testing.T) {
			if testing.Short() && tt.n != 3 {
				t.Skip("-short: only the 3-backend case")
			}
			bs := newBackends(tt.n+1, tt.weights...)
			rv, _ := NewRendezvous(bs[:tt.n])
			before := assign(rv)

			gone := bs[1]
			rest := append([]*Backend{bs[0]}, bs[2:tt.n]...)
			rv2, _ := NewRendezvous(rest)
			after := assign(rv2)
			for i := range before {
				if before[i] != gone && after[i] != before[i] {
					t.Fatalf("key %d moved from surviving %s to %s", i, before[i].Name, after[i].Name)
				}
			}
			leave := moved(before, after)

			rv3, _ := NewRendezvous(bs)
			joined := assign(rv3)
			newcomer := bs[tt.n]
			for i := range before {
				if joined[i] != before[i] && joined[i] != newcomer {
					t.Fatalf("key %d moved between old backends on a join", i)
				}
			}
			join := moved(before, joined)
			totalW := 0
			for _, b := range bs {
				totalW += b.weight()
			}
			wantJoin := float64(newcomer.weight()) / float64(totalW)
			if join < wantJoin-0.02 || join > wantJoin+0.02 {
				t.Errorf("join moved %.2f%%, want about %.2f%%", join*100, wantJoin*100)
			}
			t.Logf("n=%d: leave moves %.2f%% (only the leaver's keys); join moves %.2f%% (ideal %.2f%%)",
				tt.n, leave*100, join*100, wantJoin*100)
		})
	}
}

func TestRendezvousFailoverSpread(t *testing.T) {
	bs := newBackends(5)
	rv, _ := NewRendezvous(bs)
	before := assign(rv)
	bs[3].SetHealthy(false)
	after := assign(rv)
	got := map[*Backend]int{}
	orphans := 0
	for i := range before {
		if before[i] == bs[3] {
			orphans++
			got[after[i]]++
		}
	}
	for _, b := range bs {
		if b == bs[3] {
			continue
		}
		if share := float64(got[b]) / float64(orphans); share < 0.225 || share > 0.275 {
			t.Errorf("%s took %.1f%% of the failed backend's keys, want 25%% ± 10%%", b.Name, share*100)
		}
	}
}

func TestIPHashSticky(t *testing.T) {
	bs := newBackends(4)
	ih, err := NewIPHash(bs, Options{IPv4PrefixLen: 24})
	if err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddr("198.51.100.7")
	first := ih.Select(&Request{ClientIP: client, Key: "a"})
	for i := 0; i < 50; i++ {
		// Same /24, any key: same backend.
		ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		if got := ih.Select(&Request{ClientIP: ip, Key: fmt.Sprint(i)}); got != first {
			t.Fatalf("client %v in the same /24 went to %s, want %s", ip, got.Name, first.Name)
		}
	}
	// Clients spread over backends.
	count := map[*Backend]int{}
	for i := 0; i < 4000; i++ {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		count[ih.Select(&Request{ClientIP: ip})]++
	}
	for _, b := range bs {
		if count[b] < 850 || count[b] > 1150 {
			t.Errorf("%s: %d of 4000 client networks, want about 1000", b.Name, count[b])
		}
	}
	// Without a client address the key decides.
	r := &Request{Key: "/x"}
	if ih.Select(r) != ih.rv.Select(r) {
		t.Error("request without ClientIP must be hashed by key")
	}
}
