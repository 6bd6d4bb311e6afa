package lb

import (
	"fmt"
	"strings"
	"testing"
)

func newMaglev(t testing.TB, bs []*Backend) *Maglev {
	t.Helper()
	m, err := NewMaglev(bs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Maglev paper §3.4: with M ≥ 100·N every backend's share of the table, and
// so of keys, stays close to 1/N.
func TestMaglevDistribution(t *testing.T) {
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
			m := newMaglev(t, bs)
			worst := checkFair(t, bs, assign(m), 0.05)
			// The table itself: slot counts per backend.
			count := map[uint16]int{}
			for _, e := range m.state.Load().table {
				count[e]++
			}
			t.Logf("n=%d weights=%v: worst key-share deviation %.2f%%, table slots %v",
				tt.n, tt.weights, worst*100, count)
		})
	}
}

// Paper §3.4 and §5.3: removing one of N backends moves its 1/N of keys and
// a little more; adding one moves about 1/(N+1).
func TestMaglevDisruption(t *testing.T) {
	for _, n := range []int{3, 5, 10} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			if testing.Short() && n != 3 {
				t.Skip("-short: only the 3-backend case")
			}
			bs := newBackends(n + 1)
			before := assign(newMaglev(t, bs[:n]))

			// One leaves (the middle one, so sorting matters too).
			gone := bs[n/2]
			var rest []*Backend
			for _, b := range bs[:n] {
				if b != gone {
					rest = append(rest, b)
				}
			}
			after := assign(newMaglev(t, rest))
			leave := moved(before, after)
			extra := 0
			for i := range before {
				if before[i] != gone && before[i] != after[i] {
					extra++
				}
			}
			extraFrac := float64(extra) / float64(len(before))
			if bound := 1/float64(n) + 0.02; leave > bound {
				t.Errorf("one of %d leaves: %.2f%% of keys moved, want ≤ %.2f%%", n, leave*100, bound*100)
			}

			// One joins.
			joined := assign(newMaglev(t, bs))
			join := moved(before, joined)
			if bound := 1/float64(n+1) + 0.02; join > bound || join < 1/float64(n+1)-0.02 {
				t.Errorf("one joins %d: %.2f%% of keys moved, want about %.2f%%", n, join*100, 100/float64(n+1))
			}
			t.Logf("n=%d: leave moves %.2f%% (ideal %.2f%%, keys of survivors moved %.2f%%); join moves %.2f%% (ideal %.2f%%)",
				n, leave*100, 100/float64(n), extraFrac*100, join*100, 100/float64(n+1))
		})
	}
}

// When a backend fails (health, not membership) the table stays; its keys
// must spread over every survivor, not pile onto one neighbour, and no
// other key may move.
func TestMaglevFailoverSpread(t *testing.T) {
	bs := newBackends(5)
	m := newMaglev(t, bs)
	before := assign(m)
	bs[2].SetHealthy(false)
	defer bs[2].SetHealthy(true)
	after := assign(m)
	got := map[*Backend]int{}
	orphans := 0
	for i := range before {
		if before[i] != bs[2] {
			if after[i] != before[i] {
				t.Fatalf("key %d moved from healthy %s to %s", i, before[i].Name, after[i].Name)
			}
			continue
		}
		orphans++
		got[after[i]]++
	}
	worst := 0.0
	for _, b := range bs {
		if b == bs[2] {
			continue
		}
		share := float64(got[b]) / float64(orphans)
		dev := share/0.25 - 1
		worst = max(worst, dev, -dev)
		if share < 0.25*0.9 || share > 0.25*1.1 {
			t.Errorf("%s took %.1f%% of the failed backend's keys, want 25%% ± 10%%", b.Name, share*100)
		}
	}
	t.Logf("failed backend's %d keys spread over 4 survivors, worst deviation %.2f%%", orphans, worst*100)
}

func TestMaglevTableSizeValidation(t *testing.T) {
	tests := []struct {
		name string
		size uint64
		n    int
		want string // "" means accepted
	}{
		{"default", 0, 10, ""},
		{"small prime, few backends", 1009, 10, ""},
		{"just above 100 per backend", 1013, 10, ""},
		{"not prime", 1000, 2, "is not prime"},
		{"even", 65536, 2, "is not prime"},
		{"one", 1, 0, "is not prime"},
		{"below 100 per backend", 1009, 11, "must be at least 100 × 11 backends"},
		{"default too small for 700 backends", 0, 700, "table size 65537 must be at least"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMaglev(newBackends(tt.n), Options{TableSize: tt.size})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "maglev") {
				t.Fatalf("error %v, want one mentioning maglev and %q", err, tt.want)
			}
		})
	}
}

// SetBackends swaps the table; a failed call keeps the old one.
func TestMaglevSetBackends(t *testing.T) {
	bs := newBackends(4)
	m := newMaglev(t, bs[:3])
	r := &Request{Key: "/logo.png"}
	if err := m.SetBackends(bs); err != nil {
		t.Fatal(err)
	}
	if got := len(m.Order(r, nil)); got != 4 {
		t.Fatalf("order after SetBackends has %d backends, want 4", got)
	}
	before := m.Select(r)
	if err := m.SetBackends([]*Backend{bs[0], bs[0]}); err == nil {
		t.Fatal("duplicate backends accepted")
	}
	if m.Select(r) != before {
		t.Fatal("failed SetBackends changed the table")
	}
}

// The table is a pure function of the backend IDs, weights and M: a change
// to the hash seeds or fill order would remap every key between versions.
func TestMaglevTableStable(t *testing.T) {
	m, err := NewMaglev(newBackends(3), Options{TableSize: 307})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range m.state.Load().table[:24] {
		fmt.Fprint(&sb, e)
	}
	const golden = "002002122002110111021121"
	if got := sb.String(); got != golden {
		t.Fatalf("first table entries %s, want %s", got, golden)
	}
}
