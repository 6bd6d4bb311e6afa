package lb

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestPoolConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  PoolConfig
		want []string
	}{
		{"minimal", PoolConfig{Name: "origins"}, nil},
		{"full", PoolConfig{Name: "shields", Policy: PolicyMaglev, Options: Options{TableSize: 65537},
			Health: &HealthConfig{Interval: time.Second}, Passive: PassiveConfig{MaxFails: 5}}, nil},
		{"no name", PoolConfig{}, []string{"name: must not be empty"}},
		{"unknown policy", PoolConfig{Name: "x", Policy: "fastest"}, []string{`pool "x"`, `policy: unknown load-balancing policy "fastest"`}},
		{"nested fields", PoolConfig{Name: "x", Options: Options{TableSize: 4},
			Health: &HealthConfig{Fall: -1}, Passive: PassiveConfig{CoolDown: -1}},
			[]string{"options.table_size", "health.fall", "passive.cool_down"}},
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
}

// gather returns the value of metric name for backend in reg.
func gather(t *testing.T, reg *prometheus.Registry, name, pool, backend string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["pool"] == pool && labels["backend"] == backend {
				// A family is a gauge or a counter; the other getter
				// returns 0.
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{pool=%q,backend=%q}", name, pool, backend)
	return 0
}

func TestPoolMetricsAndStatus(t *testing.T) {
	srv := newSwitchServer(t)
	srv.status.Store(http.StatusInternalServerError)
	clock := newFakeClock()
	reg := prometheus.NewRegistry()
	bs := []*Backend{
		{Name: "o1", Addr: srv.URL, Weight: 2, MaxConns: 5},
		{Name: "o2", Addr: srv.Listener.Addr().String()},
	}
	cfg := PoolConfig{Name: "origins", Policy: PolicyLeastConn,
		Health:  &HealthConfig{Path: "/healthz", Interval: 20 * time.Millisecond, Fall: 1, Rise: 1, Timeout: time.Second},
		Passive: PassiveConfig{MaxFails: 1, CoolDown: time.Minute}}
	pool, err := NewPool(cfg, bs, nil, reg, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	// A second pool of another name shares the registry; the same name is refused.
	if _, err := NewPool(PoolConfig{Name: "shields"}, newBackends(1), nil, reg, nil); err != nil {
		t.Fatalf("second pool: %v", err)
	}
	if _, err := NewPool(cfg, newBackends(1), nil, reg, nil); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Fatalf("duplicate pool name: error %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	waitFor(t, "o1 and o2 down", 5*time.Second, func() bool { return !bs[0].Healthy() && !bs[1].Healthy() })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	bs[0].SetHealthy(true)
	bs[0].Acquire()
	bs[1].SetHealthy(true)
	bs[1].ReportResult(false) // ejects o2 for a minute

	for _, c := range []struct {
		name, backend string
		want          float64
	}{
		{"cdn_lb_backend_healthy", "o1", 1},
		{"cdn_lb_backend_available", "o2", 0},
		{"cdn_lb_backend_ejected", "o2", 1},
		{"cdn_lb_ejections_total", "o2", 1},
		{"cdn_lb_backend_inflight", "o1", 1},
	} {
		if got := gather(t, reg, c.name, "origins", c.backend); got != c.want {
			t.Errorf("%s{backend=%s} = %v, want %v", c.name, c.backend, got, c.want)
		}
	}
	if got := gather(t, reg, "cdn_lb_health_probe_failures_total", "origins", "o1"); got < 1 {
		t.Errorf("probe failures of o1 = %v, want ≥ 1", got)
	}

	raw, err := json.Marshal(pool.Status())
	if err != nil {
		t.Fatal(err)
	}
	var st []map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0]["name"] != "o1" || st[0]["weight"] != 2.0 || st[0]["max_conns"] != 5.0 ||
		st[0]["inflight"] != 1.0 || st[0]["available"] != true || st[1]["ejected"] != true ||
		st[1]["ejected_until"] == nil || st[0]["ejected_until"] != nil ||
		!strings.Contains(st[0]["last_probe_error"].(string), "status 500") {
		t.Fatalf("status JSON %s", raw)
	}
	if got := pool.Select(nil); got != bs[0] {
		t.Fatalf("picked %v, want o1 (o2 ejected)", got)
	}

	// Close frees the name for a replacement pool.
	pool.Close()
	if _, err := NewPool(cfg, newBackends(1), nil, reg, nil); err != nil {
		t.Fatalf("pool after Close: %v", err)
	}
}

func TestPoolSetBackendsAndOrder(t *testing.T) {
	bs := newBackends(4)
	pool, err := NewPool(PoolConfig{Name: "p", Policy: PolicyRoundRobin}, bs[:2], nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pool.Policy() != PolicyRoundRobin || pool.Name() != "p" {
		t.Fatal("name or policy lost")
	}
	if err := pool.SetBackends(bs); err != nil {
		t.Fatal(err)
	}
	if len(pool.Backends()) != 4 {
		t.Fatalf("%d backends after SetBackends, want 4", len(pool.Backends()))
	}
	// Round robin has no Orderer: Select's pick first, then the rest.
	bs[0].SetHealthy(false)
	order := pool.Order(nil, nil)
	if len(order) != 4 || !order[0].Available() {
		t.Fatalf("order %v", order)
	}
	// Members need distinct names whatever the policy.
	err = pool.SetBackends([]*Backend{bs[0], {Name: "b00"}})
	if err == nil || !strings.Contains(err.Error(), `pool p`) {
		t.Fatalf("duplicate member names: error %v", err)
	}
	if len(pool.Backends()) != 4 {
		t.Fatal("failed SetBackends changed the members")
	}
	if _, err := NewPool(PoolConfig{Name: "bad", Policy: PolicyMaglev, Options: Options{TableSize: 101}}, bs, nil, nil, nil); err == nil {
		t.Fatal("maglev table too small for 4 backends accepted")
	}
}

// Without active checks Run just waits for the context.
func TestPoolRunWithoutHealth(t *testing.T) {
	pool, _ := NewPool(PoolConfig{Name: "p"}, newBackends(1), nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
