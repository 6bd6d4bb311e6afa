package sim

import (
	"encoding/hex"
	"testing"

	"github.com/selfcdn/cdn/edge"
	"github.com/selfcdn/cdn/l4"
)

// With l4.quic_lb on (as cdn sim --l4 sets it), every balancer and every
// edge built from the same cluster file agree on each edge's QUIC-LB
// server ID, and the IDs are unique.
func TestQUICLBServerIDsAgree(t *testing.T) {
	cl := DefaultCluster(Options{L4: true, WorkDir: t.TempDir()})
	if !cl.L4.QUICLB.Enabled {
		t.Fatal("cdn sim --l4 leaves l4.quic_lb off")
	}
	edgeIDs := map[string]string{}
	seen := map[string]string{}
	for _, p := range cl.PoPs {
		for _, e := range p.Edges {
			c, err := edge.FromCluster(cl, e.Name)
			if err != nil {
				t.Fatal(err)
			}
			if c.QUICLB == nil || len(c.QUICServerID) != cl.L4.QUICLB.ServerIDLen {
				t.Fatalf("edge %s: QUIC-LB %+v, server ID %x", e.Name, c.QUICLB, c.QUICServerID)
			}
			id := hex.EncodeToString(c.QUICServerID)
			if other, dup := seen[id]; dup {
				t.Fatalf("edges %s and %s share server ID %s", other, e.Name, id)
			}
			seen[id], edgeIDs[e.Name] = e.Name, id
		}
	}
	for _, p := range cl.PoPs {
		for _, b := range p.Balancers {
			c, _, err := l4.FromCluster(cl, b.Name)
			if err != nil {
				t.Fatal(err)
			}
			if c.QUICLB == nil {
				t.Fatalf("balancer %s routes QUIC by the 5-tuple only", b.Name)
			}
			for _, be := range c.Backends {
				if be.ServerID != edgeIDs[be.Name] {
					t.Errorf("balancer %s: edge %s has server ID %q, the edge issues %q", b.Name, be.Name, be.ServerID, edgeIDs[be.Name])
				}
			}
		}
	}
}
