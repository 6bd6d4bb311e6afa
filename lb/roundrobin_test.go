package lb

import (
	"strings"
	"testing"
)

func TestRoundRobinOrderAndSkip(t *testing.T) {
	bs := newBackends(3)
	rr, err := NewRoundRobin(bs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 6; i++ {
		got = append(got, rr.Select(nil).Name)
	}
	if want := "b00 b01 b02 b00 b01 b02"; strings.Join(got, " ") != want {
		t.Fatalf("sequence %v, want %s", got, want)
	}
	bs[1].SetHealthy(false)
	for i := 0; i < 10; i++ {
		if b := rr.Select(nil); b == bs[1] {
			t.Fatal("picked an unhealthy backend")
		}
	}
	bs[0].SetHealthy(false)
	bs[2].SetHealthy(false)
	if b := rr.Select(nil); b != nil {
		t.Fatalf("picked %s with every backend down", b.Name)
	}
}

// The example of nginx's ngx_http_upstream_round_robin.c comment on smooth
// weighted round robin: weights {a:5, b:1, c:1} give a a b a c a a.
func TestWeightedRoundRobinNginxSequence(t *testing.T) {
	bs := []*Backend{{Name: "a", Weight: 5}, {Name: "b", Weight: 1}, {Name: "c", Weight: 1}}
	w, err := NewWeightedRoundRobin(bs)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		var got []string
		for i := 0; i < 7; i++ {
			got = append(got, w.Select(nil).Name)
		}
		if want := "a a b a c a a"; strings.Join(got, " ") != want {
			t.Fatalf("round %d: sequence %v, want %s", round, got, want)
		}
	}
}

func TestWeightedRoundRobinFairness(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"equal", []int{1, 1, 1}},
		{"zero means one", []int{0, 1, 0}},
		{"skewed", []int{10, 3, 2, 1}},
		{"large", []int{100, 250, 650}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackends(len(tt.weights), tt.weights...)
			w, err := NewWeightedRoundRobin(bs)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, b := range bs {
				total += b.weight()
			}
			// Over whole cycles of the total weight, smooth WRR is exact.
			count := map[*Backend]int{}
			for i := 0; i < total*50; i++ {
				count[w.Select(nil)]++
			}
			for _, b := range bs {
				if count[b] != b.weight()*50 {
					t.Errorf("%s: %d picks, want %d", b.Name, count[b], b.weight()*50)
				}
			}
		})
	}
}

func TestWeightedRoundRobinSkipsUnavailable(t *testing.T) {
	bs := []*Backend{{Name: "a", Weight: 5}, {Name: "b", Weight: 1}, {Name: "c", Weight: 1, MaxConns: 1}}
	w, err := NewWeightedRoundRobin(bs)
	if err != nil {
		t.Fatal(err)
	}
	bs[0].SetHealthy(false)
	bs[2].Acquire() // full
	for i := 0; i < 5; i++ {
		if b := w.Select(nil); b != bs[1] {
			t.Fatalf("pick %d = %v, want b", i, b)
		}
	}
	bs[1].SetHealthy(false)
	if b := w.Select(nil); b != nil {
		t.Fatalf("picked %s with none available", b.Name)
	}
}

func TestConstructorsRejectBadBackends(t *testing.T) {
	tests := []struct {
		name     string
		backends []*Backend
		hashing  bool // only hashing policies reject this
		want     string
	}{
		{"nil entry", []*Backend{{Name: "a"}, nil}, false, "backends[1] is nil"},
		{"negative weight", []*Backend{{Name: "a", Weight: -1}}, false, "weight -1 must not be negative"},
		{"negative max conns", []*Backend{{Name: "a", MaxConns: -2}}, false, "max_conns -2"},
		{"duplicate name", []*Backend{{Name: "a"}, {Name: "a"}}, true, `share the name "a"`},
		{"no identity", []*Backend{{}}, true, "needs a name or address"},
	}
	for _, tt := range tests {
		for _, policy := range Policies() {
			t.Run(tt.name+"/"+policy, func(t *testing.T) {
				_, err := NewSelector(policy, tt.backends, Options{})
				hashing := policy == PolicyIPHash || policy == PolicyMaglev ||
					policy == PolicyRendezvous || policy == PolicyBoundedLoad
				if tt.hashing && !hashing {
					if err != nil {
						t.Fatalf("unexpected error: %v", err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), policy) {
					t.Fatalf("error %v, want one naming %s and containing %q", err, policy, tt.want)
				}
			})
		}
	}
}
