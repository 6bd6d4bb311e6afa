package lb

import (
	"sync"
	"testing"
	"time"
)

func TestBackendZeroValue(t *testing.T) {
	var b Backend
	if !b.Available() || !b.Healthy() || b.Ejected() || b.Inflight() != 0 || b.weight() != 1 {
		t.Fatal("zero Backend must be an available, healthy, idle backend of weight 1")
	}
	// Without a pool, failures are counted but never eject.
	for i := 0; i < 100; i++ {
		b.ReportResult(false)
	}
	if !b.Available() || b.ConsecutiveFailures() != 100 {
		t.Fatalf("available %v, failures %d", b.Available(), b.ConsecutiveFailures())
	}
	b.ReportResult(true)
	if b.ConsecutiveFailures() != 0 {
		t.Fatal("a success must reset the failure count")
	}
}

func TestBackendAvailable(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(b *Backend)
		maxConns int64
		want     bool
	}{
		{"fresh", func(*Backend) {}, 0, true},
		{"unhealthy", func(b *Backend) { b.SetHealthy(false) }, 0, false},
		{"healthy again", func(b *Backend) { b.SetHealthy(false); b.SetHealthy(true) }, 0, true},
		{"below max conns", func(b *Backend) { b.Acquire() }, 2, true},
		{"at max conns", func(b *Backend) { b.Acquire(); b.Acquire() }, 2, false},
		{"unlimited", func(b *Backend) {
			for i := 0; i < 1000; i++ {
				b.Acquire()
			}
		}, 0, true},
		{"released below max", func(b *Backend) { b.Acquire(); b.Acquire(); b.Release() }, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Backend{Name: "x", MaxConns: tt.maxConns}
			tt.setup(b)
			if got := b.Available(); got != tt.want {
				t.Fatalf("Available = %v, want %v", got, tt.want)
			}
		})
	}
}

// TryAcquire never lets concurrent callers past MaxConns.
func TestBackendTryAcquire(t *testing.T) {
	b := &Backend{Name: "x", MaxConns: 10}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.TryAcquire() {
				mu.Lock()
				got++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got != 10 || b.Inflight() != 10 {
		t.Fatalf("%d acquisitions, %d in flight; want 10 with max_conns 10", got, b.Inflight())
	}
	if (&Backend{}).TryAcquire() != true {
		t.Fatal("unlimited backend refused TryAcquire")
	}
}

// Passive health (Envoy outlier detection, consecutive errors): ejection
// after max_fails, return after the cool-down, driven by a fake clock.
func TestPassiveEjectionAndRecovery(t *testing.T) {
	clock := newFakeClock()
	bs := newBackends(2)
	pool, err := NewPool(PoolConfig{Name: "shields", Policy: PolicyMaglev,
		Passive: PassiveConfig{MaxFails: 3, CoolDown: 10 * time.Second}}, bs, nil, nil, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	b := bs[0]

	b.ReportResult(false)
	b.ReportResult(false)
	b.ReportResult(true) // a success breaks the run
	b.ReportResult(false)
	b.ReportResult(false)
	if b.Ejected() {
		t.Fatal("ejected without 3 consecutive failures")
	}
	b.ReportResult(false)
	if !b.Ejected() || b.Available() || b.Ejections() != 1 {
		t.Fatalf("after 3 consecutive failures: ejected %v, available %v, ejections %d",
			b.Ejected(), b.Available(), b.Ejections())
	}
	for i := 0; i < 20; i++ {
		if got := pool.Select(&Request{Key: string(rune('a' + i))}); got != bs[1] {
			t.Fatalf("picked %v while b00 is ejected", got)
		}
	}
	// Late failures from requests in flight at ejection do not extend it.
	for i := 0; i < 10; i++ {
		b.ReportResult(false)
	}
	if b.Ejections() != 1 || b.ConsecutiveFailures() != 0 {
		t.Fatalf("failures while ejected counted: ejections %d, failures %d", b.Ejections(), b.ConsecutiveFailures())
	}
	st := pool.Status()[0]
	if !st.Ejected || !st.EjectedUntil.Equal(clock.Now().Add(10*time.Second)) {
		t.Fatalf("status %+v, want ejected until now+10s", st)
	}

	clock.Advance(10*time.Second - time.Nanosecond)
	if !b.Ejected() {
		t.Fatal("ejection ended before the cool-down")
	}
	clock.Advance(time.Nanosecond)
	if b.Ejected() || !b.Available() {
		t.Fatal("still ejected after the cool-down")
	}
	// Back in service with a fresh count: it takes 3 more failures again.
	b.ReportResult(false)
	b.ReportResult(false)
	if b.Ejected() {
		t.Fatal("re-ejected before 3 new failures")
	}
	b.ReportResult(false)
	if !b.Ejected() || b.Ejections() != 2 {
		t.Fatalf("second ejection: ejected %v, count %d", b.Ejected(), b.Ejections())
	}
}

// With max_fails 0 (the default) passive ejection is off.
func TestPassiveOff(t *testing.T) {
	bs := newBackends(1)
	if _, err := NewPool(PoolConfig{Name: "p"}, bs, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		bs[0].ReportResult(false)
	}
	if !bs[0].Available() {
		t.Fatal("ejected with passive health off")
	}
}
