package lb

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"
)

// Backend is one server a policy can pick: its configuration (the exported
// fields, set before the Backend is handed to a policy and not changed
// after) and its live state (unexported atomics, safe for concurrent use).
//
// The zero value is a healthy, unlimited backend of weight 1. A Backend
// belongs to at most one Pool, which attaches its passive-health settings;
// one Backend may be shared by several selectors of that pool.
type Backend struct {
	// Name identifies the backend in consistent-hashing policies, metrics
	// and status. If empty, Addr is used. Every process must give a backend
	// the same name for keys to map alike everywhere.
	Name string
	// Addr is where to reach the backend: host:port, or a URL such as
	// http://10.0.0.5:8080 for HTTP origins.
	Addr string
	// HealthAddr, if set, is where active health probes go instead of
	// Addr (host:port or URL), e.g. a node's admin listener.
	HealthAddr string
	// Weight is the backend's relative share of traffic. 0 means 1;
	// negative weights are rejected by the policy constructors.
	Weight int
	// MaxConns caps the requests in flight (see Acquire); a backend at its
	// cap is not Available. 0 means unlimited.
	MaxConns int64

	// unhealthy is set by active health checks (SetHealthy); false, the zero
	// value, means healthy.
	unhealthy atomic.Bool
	// inflight counts requests between Acquire and Release.
	inflight atomic.Int64
	// fails counts consecutive passive failures (ReportResult(false)).
	fails atomic.Int64
	// ejectedUntil is the passive ejection deadline in Unix nanoseconds of
	// the passive clock; 0 means not ejected.
	ejectedUntil atomic.Int64
	// ejections counts passive ejections since creation.
	ejections atomic.Int64
	// passive holds the owning pool's passive-health settings; nil means
	// ReportResult counts failures but never ejects.
	passive atomic.Pointer[passiveHealth]

	// Active health-check state, written by one Checker goroutine at a time.
	probeOK      atomic.Int64 // consecutive successful probes
	probeFail    atomic.Int64 // consecutive failed probes
	probes       atomic.Int64 // probes sent
	probeFails   atomic.Int64 // probes failed
	lastProbeErr atomic.Pointer[string]
}

// passiveHealth is a pool's passive-health policy, shared by its backends.
type passiveHealth struct {
	maxFails int64
	coolDown time.Duration
	now      func() time.Time
	logger   *slog.Logger
	pool     string
}

// ID returns the identity used for hashing, metrics and status: Name, or
// Addr when Name is empty.
func (b *Backend) ID() string {
	if b.Name != "" {
		return b.Name
	}
	return b.Addr
}

// weight returns the effective weight, at least 1.
func (b *Backend) weight() int {
	if b.Weight <= 0 {
		return 1
	}
	return b.Weight
}

// Available reports whether a policy may pick b: healthy, not ejected by
// passive health checks, and below MaxConns.
func (b *Backend) Available() bool {
	if b.unhealthy.Load() {
		return false
	}
	if b.MaxConns > 0 && b.inflight.Load() >= b.MaxConns {
		return false
	}
	return !b.ejected()
}

// ejected reports whether a passive ejection is in force, and clears an
// expired one so the backend is tried again.
func (b *Backend) ejected() bool {
	until := b.ejectedUntil.Load()
	if until == 0 {
		return false
	}
	if b.nowNanos() < until {
		return true
	}
	if b.ejectedUntil.CompareAndSwap(until, 0) {
		if p := b.passive.Load(); p != nil && p.logger != nil {
			p.logger.Info("backend ejection ended", "pool", p.pool, "backend", b.ID())
		}
	}
	return false
}

func (b *Backend) nowNanos() int64 {
	if p := b.passive.Load(); p != nil && p.now != nil {
		return p.now().UnixNano()
	}
	return time.Now().UnixNano()
}

// Healthy reports the active health-check verdict (true unless SetHealthy
// (false) was called). It ignores passive ejection and MaxConns.
func (b *Backend) Healthy() bool { return !b.unhealthy.Load() }

// SetHealthy records the active health-check verdict. An operator may also
// call it to drain a backend.
func (b *Backend) SetHealthy(healthy bool) { b.unhealthy.Store(!healthy) }

// Acquire counts one more request in flight to b. Every Acquire must be
// paired with one Release. LeastConn, PowerOfTwo and BoundedLoad read this
// count; MaxConns is checked against it.
func (b *Backend) Acquire() { b.inflight.Add(1) }

// TryAcquire counts one more request in flight unless that would exceed
// MaxConns, and reports whether it did. Use it instead of Acquire when
// several callers may race for a backend's last slot.
func (b *Backend) TryAcquire() bool {
	if b.MaxConns <= 0 {
		b.inflight.Add(1)
		return true
	}
	// Lock-free: a failed swap means another caller's succeeded.
	for {
		n := b.inflight.Load()
		if n >= b.MaxConns {
			return false
		}
		if b.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release ends one request counted by Acquire or a successful TryAcquire.
func (b *Backend) Release() { b.inflight.Add(-1) }

// Inflight returns the number of requests in flight (Acquire minus Release).
func (b *Backend) Inflight() int64 { return b.inflight.Load() }

// ReportResult feeds passive health: ok=false counts a consecutive failure
// (a refused connection, a reset, a timeout: whatever the caller deems the
// backend's fault), ok=true resets the count. When the count reaches the
// pool's PassiveConfig.MaxFails, the backend is ejected for
// PassiveConfig.CoolDown and then offered traffic again, starting from a
// count of zero. Failures reported while ejected are ignored, so requests
// that were in flight at ejection do not extend it. Without a pool, or with
// MaxFails 0, failures are counted and nothing is ejected.
func (b *Backend) ReportResult(ok bool) {
	if ok {
		if b.fails.Load() != 0 {
			b.fails.Store(0)
		}
		return
	}
	if b.ejectedUntil.Load() != 0 && b.ejected() {
		return
	}
	n := b.fails.Add(1)
	p := b.passive.Load()
	if p == nil || p.maxFails <= 0 || n < p.maxFails {
		return
	}
	if !b.fails.CompareAndSwap(n, 0) {
		return // a concurrent report ejects or resets
	}
	until := p.now().Add(p.coolDown)
	b.ejectedUntil.Store(until.UnixNano())
	b.ejections.Add(1)
	if p.logger != nil {
		p.logger.Warn("backend ejected", "pool", p.pool, "backend", b.ID(),
			"consecutive_failures", n, "until", until)
	}
}

// ConsecutiveFailures returns the passive failure count since the last
// success or ejection.
func (b *Backend) ConsecutiveFailures() int64 { return b.fails.Load() }

// Ejected reports whether b is ejected by passive health checks right now.
func (b *Backend) Ejected() bool { return b.ejected() }

// Ejections returns how many times b has been ejected.
func (b *Backend) Ejections() int64 { return b.ejections.Load() }

// checkBackends validates a backend list for a policy: no nil entries, no
// negative weights or limits, and, when unique is set, no two backends with
// the same ID (consistent hashing needs distinct identities).
func checkBackends(policy string, backends []*Backend, unique bool) error {
	seen := make(map[string]int, len(backends))
	for i, b := range backends {
		if b == nil {
			return fmt.Errorf("%s: backends[%d] is nil", policy, i)
		}
		if b.Weight < 0 {
			return fmt.Errorf("%s: backends[%d] (%q): weight %d must not be negative", policy, i, b.ID(), b.Weight)
		}
		if b.MaxConns < 0 {
			return fmt.Errorf("%s: backends[%d] (%q): max_conns %d must not be negative", policy, i, b.ID(), b.MaxConns)
		}
		if !unique {
			continue
		}
		id := b.ID()
		if id == "" {
			return fmt.Errorf("%s: backends[%d]: needs a name or address to hash", policy, i)
		}
		if j, dup := seen[id]; dup {
			return fmt.Errorf("%s: backends[%d] and backends[%d] share the name %q", policy, j, i, id)
		}
		seen[id] = i
	}
	return nil
}

// sortedByID returns a copy of backends ordered by ID, so that every process
// builds the same tables whatever order its configuration lists them in.
func sortedByID(backends []*Backend) []*Backend {
	s := slices.Clone(backends)
	slices.SortStableFunc(s, func(a, b *Backend) int { return cmp.Compare(a.ID(), b.ID()) })
	return s
}
