package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfcdn/cdn/purge"
)

// purgeTiers runs two shields and two edges; attach lists the nodes that
// join the purge bus (a shield left out plays one that has not applied the
// purge yet).
func purgeTiers(t *testing.T, o *testOrigin, attach map[string]bool) (edges, shields []*testEdge, api string) {
	t.Helper()
	ns, err := purge.StartEmbedded(purge.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	site := []Site{{Host: "assets.example.com", Origin: "main"}}
	origins := map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}}
	start := func(cfg Config) *testEdge {
		cfg.Now = o.clock.Now
		cfg.Listen, cfg.Admin = "127.0.0.1:0", "127.0.0.1:0"
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		if attach[cfg.Name] {
			if err := srv.AttachPurge(PurgeOptions{URLs: []string{ns.ClientURL()}, Token: "secret", Timeout: 5 * time.Second}); err != nil {
				t.Fatal(err)
			}
		}
		go func() { srv.Run(ctx); close(done) }()
		<-srv.Ready()
		t.Cleanup(func() { cancel(); <-done })
		// Until a node has caught up with the purge log it revalidates
		// everything; wait, so the tests see settled behaviour.
		for deadline := time.Now().Add(10 * time.Second); !srv.Synced() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		return &testEdge{Node: srv, URL: "http://" + srv.Addr("http").String(), clock: o.clock}
	}
	var ups []Upstream
	for i := range 2 {
		name := fmt.Sprintf("shield-%d", i+1)
		sh := start(Config{Name: name, Role: RoleShield, Sites: site, Origins: origins})
		shields = append(shields, sh)
		ups = append(ups, Upstream{Name: name, URL: sh.URL})
	}
	for i := range 2 {
		edges = append(edges, start(Config{Name: fmt.Sprintf("edge-%d", i+1), Sites: site, Origins: origins, Shields: ups}))
	}
	for _, e := range append(edges, shields...) {
		if attach[e.Name()] {
			api = "http://" + e.Addr("admin").String()
			break
		}
	}
	return edges, shields, api
}

func postPurge(t *testing.T, api, token string, body any) (int, purge.Result) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, api+"/purge", bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res purge.Result
	json.NewDecoder(resp.Body).Decode(&res)
	return resp.StatusCode, res
}

func setSeed(t *testing.T, o *testOrigin, v int) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("%s/_origin/seed?value=%d", o.URL, v), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Invariant 3: after the purge API reports success, no node serves the
// purged content — here even though one shield never applies the purge.
func TestPurgeNoStaleAfterSuccess(t *testing.T) {
	o := startOrigin(t)
	attach := map[string]bool{"edge-1": true, "edge-2": true, "shield-1": true}
	edges, _, api := purgeTiers(t, o, attach)
	client := &http.Client{Timeout: 10 * time.Second}
	var paths []string
	old := map[string]string{}
	for i := range 12 {
		p := fmt.Sprintf("%s-%d?cc=max-age%%3D3600&tags=t%d", uniq(t), i, i%3)
		paths = append(paths, p)
		for _, e := range edges {
			r, err := hostGet(client, e.URL+p)
			if err != nil || r.status != 200 {
				t.Fatalf("%v %d", err, r.status)
			}
			old[p] = r.header.Get("Repr-Digest")
		}
	}
	// No token: refused.
	if code, _ := postPurge(t, api, "", map[string]any{"urls": []string{"http://assets.example.com" + paths[0]}}); code != http.StatusUnauthorized {
		t.Fatalf("purge without token: %d, want 401", code)
	}
	// Clients keep requesting every object through every edge while the
	// purge happens; the origin changes its content at the purge time.
	var succeeded atomic.Bool
	var staleAfter atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				after := succeeded.Load() // read before sending
				p := paths[(w+i)%len(paths)]
				r, err := hostGet(client, edges[(w+i)%len(edges)].URL+p)
				if err != nil || r.status != 200 {
					continue
				}
				if after && r.header.Get("Repr-Digest") == old[p] {
					staleAfter.Add(1)
				}
			}
		}()
	}
	setSeed(t, o, 7)
	var urls []string
	for _, p := range paths {
		urls = append(urls, "http://assets.example.com"+p)
	}
	code, res := postPurge(t, api, "secret", map[string]any{"urls": urls})
	if code != http.StatusOK {
		t.Fatalf("purge: %d %+v", code, res)
	}
	succeeded.Store(true)
	time.Sleep(300 * time.Millisecond) // let the clients keep going after success (bounded)
	close(stop)
	wg.Wait()
	if n := staleAfter.Load(); n > 0 {
		t.Fatalf("%d responses with purged content after the purge API reported success", n)
	}
	for _, p := range paths {
		for _, e := range edges {
			r, err := hostGet(client, e.URL+p)
			if err != nil || r.status != 200 {
				t.Fatalf("%v %d", err, r.status)
			}
			checkDigest(t, r)
			if r.header.Get("Repr-Digest") == old[p] {
				t.Fatalf("%s served purged content after success (Cache-Status %q)", e.Name(), r.cacheStatus())
			}
		}
	}
}

func TestPurgeByTagAndPrefixAndSite(t *testing.T) {
	o := startOrigin(t)
	attach := map[string]bool{"edge-1": true, "edge-2": true, "shield-1": true, "shield-2": true}
	edges, _, api := purgeTiers(t, o, attach)
	client := &http.Client{Timeout: 10 * time.Second}
	base := uniq(t)
	fetch := func(p string) result {
		r, err := hostGet(client, edges[0].URL+p)
		if err != nil || r.status != 200 {
			t.Fatalf("%v %d", err, r.status)
		}
		return r
	}
	red := base + "/red?cc=max-age%3D3600&tags=red"
	blue := base + "/blue?cc=max-age%3D3600&tags=blue"
	fetch(red)
	fetch(blue)
	if code, res := postPurge(t, api, "secret", map[string]any{"tags": []string{"red"}}); code != 200 {
		t.Fatalf("tag purge: %d %+v", code, res)
	}
	mustContain(t, "red after tag purge", fetch(red).cacheStatus(), "fwd=miss")
	mustContain(t, "blue after tag purge", fetch(blue).cacheStatus(), "hit")
	if r := fetch(red); r.header.Get("Surrogate-Key") != "" {
		t.Fatal("Surrogate-Key reached a client")
	}
	if code, _ := postPurge(t, api, "secret", map[string]any{"prefixes": []string{"http://assets.example.com" + base + "/"}}); code != 200 {
		t.Fatal("prefix purge failed")
	}
	mustContain(t, "blue after prefix purge", fetch(blue).cacheStatus(), "fwd=miss")
	if code, _ := postPurge(t, api, "secret", map[string]any{"all": "assets.example.com"}); code != 200 {
		t.Fatal("site purge failed")
	}
	mustContain(t, "blue after site purge", fetch(blue).cacheStatus(), "fwd=miss")
	// A URL of no configured site is refused.
	if code, _ := postPurge(t, api, "secret", map[string]any{"urls": []string{"http://evil.example.net/x"}}); code != http.StatusBadRequest {
		t.Fatalf("foreign URL: %d, want 400", code)
	}
}

// A node with a disk tier that restarts rebuilds its purge rules from the
// log, so content purged before the restart is not served from its disk
// afterwards.
func TestPurgeSurvivesRestartWithDisk(t *testing.T) {
	o := startOrigin(t)
	ns, err := purge.StartEmbedded(purge.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	dir := t.TempDir()
	start := func() (*testEdge, func()) {
		cfg := QuickConfig("edge-disk", "127.0.0.1:0", o.URL)
		cfg.Now = o.clock.Now
		cfg.Admin = "127.0.0.1:0"
		cfg.DiskDir, cfg.DiskSize, cfg.MaxMemoryObject = dir, 64<<20, 1024
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.AttachPurge(PurgeOptions{URLs: []string{ns.ClientURL()}, Token: "secret"}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}, 1)
		go func() { srv.Run(ctx); done <- struct{}{} }()
		<-srv.Ready()
		deadline := time.Now().Add(10 * time.Second)
		for !srv.Synced() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !srv.Synced() {
			t.Fatal("node never caught up with the purge log")
		}
		return &testEdge{Node: srv, URL: "http://" + srv.Addr("http").String(), clock: o.clock},
			func() { cancel(); <-done }
	}
	e, stop := start()
	p := uniq(t)
	red := e.URL + p + "-red?size=5000&cc=max-age%3D3600&tags=red"
	blue := e.URL + p + "-blue?size=5000&cc=max-age%3D3600&tags=blue"
	get(t, red)
	get(t, blue)
	mustContain(t, "red before purge", get(t, red).cacheStatus(), "hit")
	if code, res := postPurge(t, "http://"+e.Addr("admin").String(), "secret", map[string]any{"tags": []string{"red"}}); code != 200 {
		t.Fatalf("purge: %d %+v", code, res)
	}
	// A second object, purged while the node is down, through another
	// node's API.
	green := e.URL + p + "-green?size=5000&cc=max-age%3D3600&tags=green"
	get(t, green)
	stop()
	other, err := New(Config{Name: "edge-api", Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Sites: []Site{{Host: "*", Origin: "o"}},
		Origins: map[string]Pool{"o": {Servers: []Upstream{{URL: o.URL}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.AttachPurge(PurgeOptions{URLs: []string{ns.ClientURL()}, Token: "secret"}); err != nil {
		t.Fatal(err)
	}
	octx, ocancel := context.WithCancel(context.Background())
	odone := make(chan struct{})
	defer func() { ocancel(); <-odone }()
	go func() { other.Run(octx); close(odone) }()
	<-other.Ready()
	for deadline := time.Now().Add(10 * time.Second); !other.Synced() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if code, res := postPurge(t, "http://"+other.Addr("admin").String(), "secret", map[string]any{"tags": []string{"green"}}); code != 200 && code != 202 {
		t.Fatalf("purge while the node is down: %d %+v", code, res)
	}

	e2, stop2 := start()
	defer stop2()
	red2 := strings.Replace(red, e.URL, e2.URL, 1)
	blue2 := strings.Replace(blue, e.URL, e2.URL, 1)
	mustContain(t, "blue after restart (from disk)", get(t, blue2).cacheStatus(), "hit")
	mustContain(t, "red after restart", get(t, red2).cacheStatus(), "fwd=miss")
	green2 := strings.Replace(green, e.URL, e2.URL, 1)
	mustContain(t, "green (purged while down) after restart", get(t, green2).cacheStatus(), "fwd=miss")
}
