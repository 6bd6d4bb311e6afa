package sim

import (
	"strings"
	"testing"
	"time"
)

// With --l4, GeoDNS answers each region with its PoP's two balancers,
// requests through either reach the PoP's edges, and a balancer killed
// leaves the answers (the other keeps serving).
func TestSimulationLayer4(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	s := startTestSim(t, func(o *Options) {
		o.L4 = true
		cl := DefaultCluster(*o)
		cl.GeoDNS.Health = o.Cluster.GeoDNS.Health // the harness's fast probes
		o.Cluster = cl
	})
	cl := s.Cluster()
	if cl.GeoDNS.Answer != "balancers" {
		t.Fatalf("geodns.answer = %q with L4", cl.GeoDNS.Answer)
	}
	region := s.Regions()[1]
	var pop = cl.PoPs[1]
	var want []string
	for _, b := range pop.Balancers {
		want = append(want, b.Address)
	}
	if len(want) != 2 {
		t.Fatalf("PoP %s has %d balancers, want 2", pop.Name, len(want))
	}
	waitAnswer(t, s, region.ClientAddr(), want, 10*time.Second)
	const path = "/gen/l4-object?size=3000&cc=public,max-age=300"
	for _, b := range want {
		resp := fetchFrom(t, s, region.ClientAddr(), b, path)
		cs := resp.Header.Get("Cache-Status")
		if !strings.Contains(cs, "edge-"+pop.Name) {
			t.Errorf("through balancer %s: Cache-Status %q names no edge of %s", b, cs, pop.Name)
		}
	}
	if err := s.KillNode(pop.Balancers[0].Name); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, s, region.ClientAddr(), want[1:], 15*time.Second)
	resp := fetchFrom(t, s, region.ClientAddr(), want[1], path)
	if !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Errorf("after one balancer died: Cache-Status %q, want a hit at an edge", resp.Header.Get("Cache-Status"))
	}
}
