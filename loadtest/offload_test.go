package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeCDN stands for an edge in front of an origin: the first request for
// a URL goes to the origin (a miss), later ones are hits. The origin
// counts what reached it at /_origin/stats, as the project's origin does.
type fakeCDN struct {
	mu     sync.Mutex
	seen   map[string]bool
	origin int64
}

func (f *fakeCDN) edge(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hit := f.seen[r.URL.RequestURI()]
	if !hit {
		f.seen[r.URL.RequestURI()] = true
		f.origin++
	}
	f.mu.Unlock()
	if hit {
		w.Header().Set("Cache-Status", "edge-1; hit; ttl=100")
	} else {
		w.Header().Set("Cache-Status", "edge-1; fwd=uri-miss; stored")
	}
	w.Write([]byte("x"))
}

func (f *fakeCDN) stats(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(w, `{"total": %d, "paths": {}, "conditional": 0, "bytes": 0}`, f.origin)
}

func TestOriginOffload(t *testing.T) {
	f := &fakeCDN{seen: map[string]bool{}, origin: 1000} // the origin served others before
	edge := httptest.NewServer(http.HandlerFunc(f.edge))
	defer edge.Close()
	origin := httptest.NewServer(http.HandlerFunc(f.stats))
	defer origin.Close()

	cfg := baseConfig(edge.URL)
	cfg.Requests = 400
	cfg.Workload.Objects = 40
	cfg.OriginStats = origin.URL + "/_origin/stats"
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Offload
	if o == nil || o.Error != "" {
		t.Fatalf("offload %+v", o)
	}
	f.mu.Lock()
	misses := int64(len(f.seen))
	f.mu.Unlock()
	if o.Before != 1000 || o.OriginRequests != misses || o.ClientRequests != 400 {
		t.Errorf("offload %+v, want before 1000, origin %d, client 400", o, misses)
	}
	if want := 1 - float64(misses)/400; o.Ratio != want {
		t.Errorf("offload ratio %g, want %g", o.Ratio, want)
	}
	c := rep.Total.Cache
	if c.Misses != misses || c.Hits != 400-misses {
		t.Errorf("cache %+v, want %d misses", c, misses)
	}
}

func TestOriginOffloadBadStats(t *testing.T) {
	edge := newCountingServer(t, "")
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"paths": {}}`))
	}))
	defer bad.Close()
	cfg := baseConfig(edge.URL)
	cfg.Requests = 5
	cfg.OriginStats = bad.URL + "/_origin/stats"
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Offload == nil || rep.Offload.Error == "" {
		t.Errorf("offload %+v: want an error about the missing total", rep.Offload)
	}
	if rep.Total.Requests != 5 {
		t.Errorf("requests %d: a bad stats URL must not stop the run", rep.Total.Requests)
	}
}
