package edge

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tiers starts nShields shields and nEdges edges in front of o.
func tiers(t *testing.T, o *testOrigin, nEdges, nShields int) (edges, shields []*testEdge) {
	t.Helper()
	site := []Site{{Host: "assets.example.com", Origin: "main"}}
	origins := map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}}
	var ups []Upstream
	for i := range nShields {
		name := fmt.Sprintf("shield-%d", i+1)
		sh := startEdge(t, Config{Name: name, Role: RoleShield, Sites: site, Origins: origins, Now: o.clock.Now})
		shields = append(shields, sh)
		ups = append(ups, Upstream{Name: name, URL: sh.URL})
	}
	for i := range nEdges {
		e := startEdge(t, Config{Name: fmt.Sprintf("edge-%d", i+1), Sites: site, Origins: origins, Shields: ups, Now: o.clock.Now})
		edges = append(edges, e)
	}
	return edges, shields
}

func hostGet(client *http.Client, url string) (result, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = "assets.example.com"
	resp, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{resp.StatusCode, resp.Header, b}, nil
}

// Collapsing across tiers: many clients on several edges asking for one
// cold object make exactly one origin request (invariant 4).
func TestCollapsingAcrossTiers(t *testing.T) {
	o := startOrigin(t)
	edges, shields := tiers(t, o, 3, 2)
	p := uniq(t)
	path := p + "?size=100000&delay=300&cc=max-age%3D600"
	const clients = 200
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	results := make([]result, clients)
	errs := make([]error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = hostGet(client, edges[i%len(edges)].URL+path)
		}()
	}
	wg.Wait()
	for i := range clients {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i].status != 200 {
			t.Fatalf("status %d", results[i].status)
		}
		checkDigest(t, results[i])
	}
	if c := o.count(p); c != 1 {
		// Say which tier let a second fetch through (an upstream error
		// retried on the other shield, or an object not stored).
		var why []string
		for i, n := range append(edges, shields...) {
			name := fmt.Sprintf("edge-%d", i+1)
			if i >= len(edges) {
				name = fmt.Sprintf("shield-%d", i-len(edges)+1)
			}
			admin := "http://" + n.Addr("admin").String()
			for _, m := range []string{"cdn_upstream_errors_total", "cdn_cache_not_stored_total", "cdn_collapsed_requests_total"} {
				v, err := metricValue(admin, m)
				if err == nil && v > 0 {
					why = append(why, fmt.Sprintf("%s %s=%v", name, m, v))
				}
			}
		}
		t.Fatalf("origin saw %d requests for %d clients on 3 edges, want 1 (%s)", c, clients, strings.Join(why, ", "))
	}
	cs := results[0].cacheStatus()
	if !strings.Contains(cs, "shield-") || !strings.Contains(cs, "edge-") || strings.Index(cs, "shield-") > strings.Index(cs, "edge-") {
		t.Fatalf("Cache-Status %q should list the shield's entry, then the edge's", cs)
	}
	t.Logf("Cache-Status: %s", cs)
}

// Every edge picks the same shield for a key, so each object is fetched
// from the origin once however many edges ask.
func TestEdgesAgreeOnShield(t *testing.T) {
	o := startOrigin(t)
	edges, _ := tiers(t, o, 3, 3)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 30 {
		p := fmt.Sprintf("%s-%d", uniq(t), i)
		for _, e := range edges {
			r, err := hostGet(client, e.URL+p+"?cc=max-age%3D600")
			if err != nil || r.status != 200 {
				t.Fatalf("%v %d", err, r.status)
			}
		}
		if c := o.count(p); c != 1 {
			t.Fatalf("%s: origin saw %d requests from 3 edges, want 1", p, c)
		}
	}
}

// A shield that dies under load costs clients nothing: connections fail
// over to the next shield in the key's order, and bodies cut off mid-way
// resume from it.
func TestShieldKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	o := startOrigin(t)
	edges, shields := tiers(t, o, 2, 2)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	base := uniq(t)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Cold objects keep the shields busy fetching.
				p := fmt.Sprintf("%s-%d-%d?size=300000&delay=20&cc=max-age%%3D600", base, w, i)
				r, err := hostGet(client, edges[(w+i)%2].URL+p)
				if err == nil && r.status != 200 {
					err = fmt.Errorf("status %d: %s", r.status, r.body)
				}
				if err == nil {
					if d := r.header.Get("Repr-Digest"); d == "" {
						err = fmt.Errorf("no digest: %v %q", r.header, r.body)
					}
				}
				if err == nil {
					err = digestError(r)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	halt := func(format string, args ...any) {
		close(stop)
		wg.Wait()
		t.Fatalf(format, args...)
	}
	if err := waitCount(&ok, 50, 20*time.Second); err != nil {
		halt("requests before the kill: %v (failed %d, first: %v)", err, failed.Load(), firstErr.Load())
	}
	shields[0].Close()
	if err := waitCount(&ok, ok.Load()+150, 30*time.Second); err != nil {
		halt("requests after the kill: %v (failed %d, first: %v)", err, failed.Load(), firstErr.Load())
	}
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d client requests failed after a shield was killed (first: %v)", n, firstErr.Load())
	}
	t.Logf("%d requests, none failed, shield-1 killed mid-run", ok.Load())
}
