package lb

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// switchServer is a real HTTP server on 127.0.0.1:0 whose health endpoint
// answers with a status that the test sets.
type switchServer struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int64
	host   atomic.Pointer[string]
}

func newSwitchServer(t *testing.T) *switchServer {
	t.Helper()
	s := &switchServer{}
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		h := r.Host
		s.host.Store(&h)
		s.hits.Add(1)
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write([]byte("state\n"))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestCheckerRiseAndFall(t *testing.T) {
	srv := newSwitchServer(t)
	b := &Backend{Name: "origin-1", Addr: srv.Listener.Addr().String()}
	c, err := NewChecker(HealthConfig{Path: "/healthz", Rise: 2, Fall: 3, Timeout: 2 * time.Second}, "origins", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx, b); err != nil || !b.Healthy() {
		t.Fatalf("healthy server: err %v, healthy %v", err, b.Healthy())
	}
	srv.status.Store(http.StatusInternalServerError)
	for i := 1; i <= 3; i++ {
		err := c.Check(ctx, b)
		if err == nil || !strings.Contains(err.Error(), "status 500 outside 200-399") {
			t.Fatalf("probe %d: error %v, want a status error", i, err)
		}
		if want := i < 3; b.Healthy() != want {
			t.Fatalf("after %d failures healthy=%v, want %v (fall 3)", i, b.Healthy(), want)
		}
	}
	srv.status.Store(http.StatusNoContent)
	for i := 1; i <= 2; i++ {
		if err := c.Check(ctx, b); err != nil {
			t.Fatal(err)
		}
		if want := i == 2; b.Healthy() != want {
			t.Fatalf("after %d successes healthy=%v, want %v (rise 2)", i, b.Healthy(), want)
		}
	}
	// One failure between successes does not take it down.
	srv.status.Store(http.StatusServiceUnavailable)
	_ = c.Check(ctx, b)
	srv.status.Store(http.StatusOK)
	_ = c.Check(ctx, b)
	srv.status.Store(http.StatusServiceUnavailable)
	_ = c.Check(ctx, b)
	_ = c.Check(ctx, b)
	if !b.Healthy() {
		t.Fatal("non-consecutive failures took the backend down")
	}
	if b.probes.Load() != 10 || b.probeFails.Load() != 6 {
		t.Fatalf("probes %d, failures %d; want 10 and 6", b.probes.Load(), b.probeFails.Load())
	}
}

// The Run loop against a live server: down after fall failures, back after
// rise successes, polled with a deadline.
func TestCheckerRunLoop(t *testing.T) {
	srv := newSwitchServer(t)
	bs := []*Backend{
		{Name: "a", Addr: srv.Listener.Addr().String()},
		{Name: "b", Addr: srv.URL}, // a URL form of the same server
	}
	c, err := NewChecker(HealthConfig{
		Path: "/healthz", Interval: 20 * time.Millisecond, Timeout: time.Second,
		Rise: 2, Fall: 2, Host: "health.example",
	}, "p", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Run(ctx, func() []*Backend { return bs }) }()
	defer func() { cancel(); wg.Wait() }()

	waitFor(t, "first probes", 5*time.Second, func() bool { return srv.hits.Load() >= 2 })
	if h := srv.host.Load(); h == nil || *h != "health.example" {
		t.Fatalf("Host header %v, want health.example", h)
	}
	srv.status.Store(http.StatusBadGateway)
	waitFor(t, "backends down", 5*time.Second, func() bool { return !bs[0].Healthy() && !bs[1].Healthy() })
	if n := bs[0].probeFails.Load(); n < 2 {
		t.Fatalf("down after %d failed probes, want at least fall=2", n)
	}
	srv.status.Store(http.StatusOK)
	waitFor(t, "backends up", 5*time.Second, func() bool { return bs[0].Healthy() && bs[1].Healthy() })
}

// A backend that refuses connections fails its probes.
func TestCheckerConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	b := &Backend{Name: "gone", Addr: addr}
	c, _ := NewChecker(HealthConfig{Fall: 1, Timeout: time.Second}, "p", nil, nil)
	err := c.Check(context.Background(), b)
	if err == nil || !strings.Contains(err.Error(), `backend "gone"`) {
		t.Fatalf("error %v, want one naming the backend", err)
	}
	if b.Healthy() {
		t.Fatal("refused connection with fall 1 left the backend healthy")
	}
}

func TestCheckerURL(t *testing.T) {
	c, _ := NewChecker(HealthConfig{Path: "/hc?deep=1", Scheme: "https"}, "p", nil, nil)
	tests := []struct {
		addr, want, err string
	}{
		{"10.0.0.1:8080", "https://10.0.0.1:8080/hc?deep=1", ""},
		{"http://10.0.0.5:8080", "http://10.0.0.5:8080/hc?deep=1", ""},
		{"http://[2001:db8::1]:80/base", "http://[2001:db8::1]:80/hc?deep=1", ""},
		{"", "", "no address"},
		{"http://%zz", "", "parse address"},
	}
	for _, tt := range tests {
		got, err := c.URL(&Backend{Name: "x", Addr: tt.addr})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("URL(%q): error %v, want %q", tt.addr, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("URL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}

func TestHealthConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  HealthConfig
		want []string
	}{
		{"zero takes defaults", HealthConfig{}, nil},
		{"negative interval", HealthConfig{Interval: -time.Second}, []string{"health.interval: must be > 0"}},
		{"negative timeout", HealthConfig{Timeout: -1}, []string{"health.timeout: must be > 0"}},
		{"rise and fall", HealthConfig{Rise: -1, Fall: -2}, []string{"health.rise", "health.fall"}},
		{"path", HealthConfig{Path: "healthz"}, []string{"health.path"}},
		{"scheme", HealthConfig{Scheme: "gopher"}, []string{"health.scheme"}},
		{"status range", HealthConfig{StatusMin: 500, StatusMax: 200}, []string{"health.status_max: 200 is below"}},
		{"status bounds", HealthConfig{StatusMin: 99, StatusMax: 600}, []string{"health.status_min", "health.status_max"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	d := HealthConfig{}.WithDefaults()
	if d.Interval != DefaultHealthInterval || d.Rise != 2 || d.Fall != 3 || d.StatusMax != 399 || d.Path != "/" {
		t.Fatalf("defaults %+v", d)
	}
}

func TestPassiveConfigValidate(t *testing.T) {
	if err := (PassiveConfig{}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := PassiveConfig{MaxFails: -1, CoolDown: -time.Second}.Validate()
	if err == nil || !strings.Contains(err.Error(), "passive.max_fails") || !strings.Contains(err.Error(), "passive.cool_down") {
		t.Fatalf("error %v, want both fields named", err)
	}
}
