package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClosedLoopCountsExactly(t *testing.T) {
	srv := newCountingServer(t, "edge-1; hit")
	cfg := baseConfig(srv.URL)
	cfg.Requests = 500
	cfg.Concurrency = 8
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.n.Load(); got != 500 {
		t.Errorf("server saw %d requests, want 500", got)
	}
	tot := rep.Total
	if tot.Requests != 500 || tot.Responses != 500 || tot.Errors != 0 {
		t.Errorf("report requests/responses/errors = %d/%d/%d, want 500/500/0", tot.Requests, tot.Responses, tot.Errors)
	}
	if tot.Latency.Count != 500 {
		t.Errorf("latency count = %d, want 500", tot.Latency.Count)
	}
	if tot.BytesReceived != 500*5 {
		t.Errorf("bytes = %d, want %d", tot.BytesReceived, 500*5)
	}
	if tot.Cache.Hits != 500 || tot.Cache.HitRatio != 1 {
		t.Errorf("cache = %+v, want 500 hits, ratio 1", tot.Cache)
	}
	if tot.Statuses["200"] != 500 || tot.Protocols["HTTP/1.1"] != 500 {
		t.Errorf("statuses %v protocols %v", tot.Statuses, tot.Protocols)
	}
	if rep.Loop != "closed" || rep.StopReason != "500 requests sent" || rep.Interrupted {
		t.Errorf("loop %q stop %q interrupted %v", rep.Loop, rep.StopReason, rep.Interrupted)
	}
	var series int64
	for _, s := range rep.Series {
		series += s.Requests
	}
	if series != 500 {
		t.Errorf("time series holds %d requests, want 500", series)
	}
	// The workload's paths reach the server.
	_, paths := srv.requests()
	for _, p := range paths {
		if !strings.HasPrefix(p, "/gen/obj-") || !strings.Contains(p, "size=5") || !strings.Contains(p, "cc=public%2C+max-age%3D300") {
			t.Fatalf("unexpected path %q", p)
		}
	}
}

func TestWarmupLeftOut(t *testing.T) {
	srv := newCountingServer(t, "")
	cfg := baseConfig(srv.URL)
	cfg.Requests = 0
	cfg.Warmup = 200 * time.Millisecond
	cfg.Duration = 300 * time.Millisecond
	cfg.Concurrency = 2
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.WarmupRequests == 0 {
		t.Error("no warmup request recorded")
	}
	if got := rep.WarmupRequests + rep.Total.Requests + rep.Cancelled; got != srv.n.Load() {
		t.Errorf("warmup %d + measured %d + cancelled %d = %d, server saw %d",
			rep.WarmupRequests, rep.Total.Requests, rep.Cancelled, got, srv.n.Load())
	}
	if rep.Total.Cache.Without != rep.Total.Responses {
		t.Errorf("responses without Cache-Status = %d, want %d", rep.Total.Cache.Without, rep.Total.Responses)
	}
}

func TestTraceReplay(t *testing.T) {
	srv := newCountingServer(t, "")
	trace := []TraceEntry{{"GET", "/a"}, {"HEAD", "/b?x=1"}, {"", "/c"}, {"POST", srv.URL + "/d"}, {"DELETE", "/e"}}

	t.Run("once-in-order", func(t *testing.T) {
		cfg := baseConfig(srv.URL)
		cfg.Requests, cfg.Concurrency = 0, 1
		cfg.Workload = Workload{Trace: trace}
		before := srv.n.Load()
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total.Requests != 5 || srv.n.Load()-before != 5 {
			t.Fatalf("report %d, server %d requests; want 5", rep.Total.Requests, srv.n.Load()-before)
		}
		if rep.StopReason != "trace replayed" {
			t.Errorf("stop reason %q", rep.StopReason)
		}
		methods, paths := srv.requests()
		wantM := []string{"GET", "HEAD", "GET", "POST", "DELETE"}
		wantP := []string{"/a", "/b?x=1", "/c", "/d", "/e"}
		for i := range wantM {
			if methods[i] != wantM[i] || paths[i] != wantP[i] {
				t.Errorf("request %d = %s %s, want %s %s", i, methods[i], paths[i], wantM[i], wantP[i])
			}
		}
	})
	t.Run("looped", func(t *testing.T) {
		cfg := baseConfig(srv.URL)
		cfg.Requests, cfg.Concurrency = 12, 3
		cfg.Workload = Workload{Trace: trace, TraceLoop: true}
		before := srv.n.Load()
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total.Requests != 12 || srv.n.Load()-before != 12 {
			t.Errorf("report %d, server %d requests; want 12", rep.Total.Requests, srv.n.Load()-before)
		}
	})
}

func TestObjectURLList(t *testing.T) {
	srv := newCountingServer(t, "")
	cfg := baseConfig("")
	cfg.URLs = []string{srv.URL + "/one", srv.URL + "/two?x=y", srv.URL + "/three"}
	cfg.Requests = 300
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, paths := srv.requests()
	counts := map[string]int{}
	for _, p := range paths {
		counts[p]++
	}
	if len(counts) != 3 || counts["/one"] <= counts["/two?x=y"] || counts["/one"] <= counts["/three"] {
		t.Errorf("counts %v: want the first URL the most popular of exactly three", counts)
	}
	if !strings.Contains(rep.Workload, "over 3 URLs") {
		t.Errorf("workload %q", rep.Workload)
	}
}

func TestUnreachableTargetCountsErrors(t *testing.T) {
	// A listener closed at once leaves a port nobody listens on.
	l := httptest.NewServer(http.NotFoundHandler())
	url := l.URL
	l.Close()
	cfg := baseConfig(url)
	cfg.Requests = 20
	cfg.Concurrency = 2
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Errors != 20 || rep.Total.ErrorsByKind[errConnect] != 20 {
		t.Errorf("errors %d by kind %v, want 20 connect", rep.Total.Errors, rep.Total.ErrorsByKind)
	}
	if rep.Total.Responses != 0 || rep.Total.Latency.Count != 0 {
		t.Errorf("responses %d latency count %d, want 0", rep.Total.Responses, rep.Total.Latency.Count)
	}
}

func TestStatusErrorsAndBodyShort(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "obj-0"):
			w.WriteHeader(http.StatusServiceUnavailable)
		case strings.Contains(r.URL.Path, "obj-1"):
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("short"))
		}
	}))
	defer srv.Close()
	cfg := baseConfig(srv.URL)
	cfg.Workload.Objects = 3
	cfg.Workload.Uniform = true
	cfg.Requests = 60
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := rep.Total.ErrorsByKind
	if k[errStatus5xx] == 0 || k[errStatus4xx] == 0 || k[errBodyShort] == 0 {
		t.Errorf("errors by kind %v: want 5xx, 4xx and body_short", k)
	}
	if rep.Total.Errors != 60 {
		t.Errorf("errors %d, want 60", rep.Total.Errors)
	}
	if rep.Total.Statuses["503"]+rep.Total.Statuses["404"] != rep.Total.Responses {
		t.Errorf("statuses %v vs responses %d", rep.Total.Statuses, rep.Total.Responses)
	}
}

func TestCancelGivesPartialReport(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "slow") {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := baseConfig(srv.URL)
	cfg.Requests = 0
	cfg.Duration = time.Minute
	cfg.Workload = Workload{Trace: []TraceEntry{{"GET", "/fast"}, {"GET", "/fast"}, {"GET", "/x?slow"}}}
	cfg.Concurrency = 1
	cfg.observe = func(ticket int64, _, _ time.Time) {
		if ticket == 1 {
			cancel()
		}
	}
	done := make(chan struct{})
	var rep *Report
	var err error
	go func() {
		defer close(done)
		rep, err = Run(ctx, cfg)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.StopReason != "interrupted" {
		t.Errorf("interrupted %v reason %q", rep.Interrupted, rep.StopReason)
	}
	if rep.Total.Requests != 2 || rep.Total.Errors != 0 {
		t.Errorf("requests %d errors %d, want 2 and 0", rep.Total.Requests, rep.Total.Errors)
	}
}

func TestValidateNamesFields(t *testing.T) {
	cfg := Config{
		URLs:        []string{"ftp://x", "http://h/a", "http://h"},
		Proto:       "h9",
		Rate:        -1,
		Concurrency: -2,
		Duration:    -time.Second,
		OriginStats: "nope",
		Workload: Workload{
			Zipf: -1, Sizes: []SizeWeight{{Bytes: -1, Weight: -1}},
			Trace: []TraceEntry{{Method: "G T", Target: "rel"}},
		},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, path := range []string{
		"proto:", "rate:", "concurrency:", "duration:", "origin_stats:", "urls[0]:", "urls:",
		"workload.zipf:", "workload.sizes[0].bytes:", "workload.sizes[0].weight:",
		"workload.trace[0].method:", "workload.trace[0].target:",
	} {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error does not name %q:\n%v", path, err)
		}
	}
	if err := (Config{URLs: []string{"http://127.0.0.1:1"}}).Validate(); err != nil {
		t.Errorf("minimal config rejected: %v", err)
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "urls: no target") {
		t.Errorf("config without target: %v", err)
	}
	if err := (Config{Mode: ModeDNS}).Validate(); err == nil || !strings.Contains(err.Error(), "dns.server") {
		t.Errorf("DNS config without server: %v", err)
	}
}
