package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// A purge through any node's admin API reaches every edge and shield of
// the simulation: each edge then misses, and the origin is asked once.
func TestSimulationPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole simulation")
	}
	s := startTestSim(t, nil)
	ep := s.Endpoints()
	if ep.NATS == "" {
		t.Fatal("endpoints file has no NATS URL")
	}
	path := "/gen/purge-me?size=2048&cc=public,max-age=600"
	var edges []string
	for _, pop := range ep.PoPs {
		edges = append(edges, pop.Edges[0].Address)
	}
	src := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, byte(i + 1), 0, 10}) }
	for i, e := range edges {
		fetchFrom(t, s, src(i), e, path).Body.Close()
	}
	if n := originCount(t, s, "/gen/purge-me"); n != 1 {
		t.Fatalf("origin saw %d requests before the purge, want 1", n)
	}
	body, _ := json.Marshal(map[string]any{"urls": []string{"http://" + SiteHost + path}})
	req, _ := http.NewRequest(http.MethodPost, ep.Admin.URL+"/purge", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ep.Admin.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Confirmed []string `json:"confirmed"`
		Missing   []string `json:"missing"`
	}
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("purge answered %d (missing %v)", resp.StatusCode, res.Missing)
	}
	if len(res.Confirmed) != 8 {
		t.Fatalf("confirmed by %v, want all 6 edges and 2 shields", res.Confirmed)
	}
	for i, e := range edges {
		r := fetchFrom(t, s, src(i), e, path)
		r.Body.Close()
		if cs := r.Header.Get("Cache-Status"); i == 0 && !strings.Contains(cs, "fwd=miss") {
			t.Fatalf("first fetch after purge: Cache-Status %q", cs)
		}
	}
	if n := originCount(t, s, "/gen/purge-me"); n != 2 {
		t.Fatalf("origin saw %d requests, want 2 (one refetch after the purge)", n)
	}
}
