package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenLoopRate(t *testing.T) {
	srv := newCountingServer(t, "")
	cfg := baseConfig(srv.URL)
	cfg.Requests = 0
	cfg.Rate = 200
	cfg.Duration = time.Second
	cfg.Concurrency = 8
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The schedule holds exactly Rate × Duration requests, however fast
	// or slow the machine is.
	if got := srv.n.Load(); got != 200 {
		t.Errorf("server saw %d requests, want 200", got)
	}
	if rep.Total.Requests != 200 {
		t.Errorf("report has %d requests, want 200", rep.Total.Requests)
	}
	if rep.Loop != "open" || rep.TargetRate != 200 {
		t.Errorf("loop %q target %g", rep.Loop, rep.TargetRate)
	}
	// Loose: the throughput is about the rate, not a speed assertion.
	if tp := rep.Total.Throughput; tp < 50 || tp > 400 {
		t.Errorf("throughput %.1f req/s, want about 200", tp)
	}
}

// TestOpenLoopCoordinatedOmission stalls the server once for 300ms with
// one client at 100 req/s. The requests scheduled during the stall wait
// for the client, and their latency must count that wait: measured from
// the scheduled time, tickets behind the stall record decreasing latencies
// starting near 300ms. Measured from the actual send time they would all
// look fast.
func TestOpenLoopCoordinatedOmission(t *testing.T) {
	const stallAt = 20
	const stall = 300 * time.Millisecond
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)-1 == stallAt {
			timer := time.NewTimer(stall)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()

	var mu sync.Mutex
	lat := map[int64]time.Duration{}
	cfg := baseConfig(srv.URL)
	cfg.Requests = 0
	cfg.Rate = 100
	cfg.Duration = time.Second
	cfg.Concurrency = 1
	cfg.observe = func(ticket int64, intended, done time.Time) {
		mu.Lock()
		lat[ticket] = done.Sub(intended)
		mu.Unlock()
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) != 100 {
		t.Fatalf("observed %d requests, want 100", len(lat))
	}
	if lat[stallAt] < stall-10*time.Millisecond {
		t.Errorf("stalled request latency %s, want at least about %s", lat[stallAt], stall)
	}
	// Requests scheduled 10ms, 20ms, ... after the stalled one waited
	// about 290ms, 280ms, ...: at least the next 15 record over 100ms.
	for k := int64(stallAt + 1); k <= stallAt+15; k++ {
		if lat[k] < 100*time.Millisecond {
			t.Errorf("ticket %d (scheduled %dms after the stall began) latency %s: the wait behind the stall is missing",
				k, (k-stallAt)*10, lat[k])
		}
	}
	// And they decrease: each was scheduled later, yet all were sent
	// when the stall ended.
	if !(lat[stallAt] > lat[stallAt+5] && lat[stallAt+5] > lat[stallAt+15]) {
		t.Errorf("latencies behind the stall do not decrease: %s, %s, %s", lat[stallAt], lat[stallAt+5], lat[stallAt+15])
	}
	// The histogram agrees: well over 10% of requests took 100ms or more.
	if p85 := percentileOf(rep.Total.Latency, 85); p85 < 100 {
		t.Errorf("p85 = %.1fms, want >= 100ms", p85)
	}
	if rep.Total.Latency.Max < float64(stall.Milliseconds())-10 {
		t.Errorf("max %.1fms, want about %s", rep.Total.Latency.Max, stall)
	}
}

func percentileOf(l Latency, p float64) float64 {
	for _, q := range l.Distribution {
		if q.Percentile == p {
			return q.Ms
		}
	}
	return -1
}
