package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PoolConfig is the configuration of a Pool: which policy picks among its
// backends and how their health is judged. The zero value, given a Name,
// is a round-robin pool without health checks.
type PoolConfig struct {
	// Name identifies the pool in metrics, logs and errors; required.
	Name string `yaml:"name" json:"name"`
	// Policy is one of Policies(). Default "round_robin".
	Policy string `yaml:"policy,omitempty" json:"policy,omitempty"`
	// Options tunes the policy.
	Options Options `yaml:"options,omitempty" json:"options,omitempty"`
	// Health enables active health checks when set (run by Pool.Run).
	Health *HealthConfig `yaml:"health,omitempty" json:"health,omitempty"`
	// Passive configures ejection on failures reported through
	// Backend.ReportResult; off unless MaxFails > 0.
	Passive PassiveConfig `yaml:"passive,omitempty" json:"passive,omitempty"`
}

// policy returns the configured policy or the default.
func (c PoolConfig) policy() string {
	if c.Policy == "" {
		return PolicyRoundRobin
	}
	return c.Policy
}

// Validate reports every invalid field, each prefixed with the pool's name
// and named by its path ("pool shields: health.interval: must be > 0").
func (c PoolConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	if !slices.Contains(Policies(), c.policy()) {
		errs = append(errs, fmt.Errorf("policy: unknown load-balancing policy %q (known: %v)", c.Policy, Policies()))
	}
	if err := c.Options.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Health != nil {
		if err := c.Health.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Passive.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("pool %q: %w", c.Name, errors.Join(errs...))
}

// Pool is a named set of backends with a selection policy, active and
// passive health checks, metrics and a status report. It is safe for
// concurrent use.
type Pool struct {
	cfg     PoolConfig
	logger  *slog.Logger
	passive *passiveHealth // nil when passive ejection is off
	checker *Checker       // nil without active checks
	reg     prometheus.Registerer
	metrics prometheus.Collector

	mu    sync.Mutex                // serialises SetBackends
	state atomic.Pointer[poolState] // replaced whole by SetBackends
}

// poolState is one immutable generation of a pool's membership.
type poolState struct {
	backends []*Backend // as configured
	sel      Selector
}

// NewPool validates cfg and builds the pool over backends, attaching its
// passive-health settings to each of them. A nil logger discards; a nil reg
// registers no metrics; a nil now means time.Now (it times passive
// ejections).
func NewPool(cfg PoolConfig, backends []*Backend, logger *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	// One lock for the random source across every selector generation.
	if cfg.Options.Rand != nil {
		cfg.Options.Rand = lockSource(cfg.Options.Rand)
	}
	p := &Pool{cfg: cfg, logger: logger, reg: reg}
	if cfg.Passive.MaxFails > 0 {
		pc := cfg.Passive.WithDefaults()
		p.passive = &passiveHealth{
			maxFails: int64(pc.MaxFails), coolDown: pc.CoolDown,
			now: now, logger: logger, pool: cfg.Name,
		}
	}
	if cfg.Health != nil {
		c, err := NewChecker(*cfg.Health, cfg.Name, nil, logger)
		if err != nil {
			return nil, err
		}
		p.checker = c
	}
	if err := p.SetBackends(backends); err != nil {
		return nil, err
	}
	if reg != nil {
		m := newPoolMetrics(p)
		if err := reg.Register(m); err != nil {
			return nil, fmt.Errorf("pool %q: register metrics: %w", cfg.Name, err)
		}
		p.metrics = m
	}
	return p, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.cfg.Name }

// Config returns the configuration the pool was built with.
func (p *Pool) Config() PoolConfig { return p.cfg }

// Policy returns the name of the pool's selection policy.
func (p *Pool) Policy() string { return p.cfg.policy() }

// SetBackends replaces the pool's members and rebuilds its selector (for
// Maglev, the lookup table). Pass the same *Backend values for members
// that stay, so their in-flight counts and health carry over. On error the
// previous members stay in force.
func (p *Pool) SetBackends(backends []*Backend) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Members need distinct names for metrics and status, whatever the
	// policy.
	if err := checkBackends("pool "+p.cfg.Name, backends, true); err != nil {
		return err
	}
	sel, err := NewSelector(p.cfg.policy(), backends, p.cfg.Options)
	if err != nil {
		return fmt.Errorf("pool %q: %w", p.cfg.Name, err)
	}
	for _, b := range backends {
		b.passive.Store(p.passive)
	}
	p.state.Store(&poolState{backends: slices.Clone(backends), sel: sel})
	return nil
}

// Backends returns the pool's members in configured order.
func (p *Pool) Backends() []*Backend { return slices.Clone(p.state.Load().backends) }

// Selector returns the pool's current selector.
func (p *Pool) Selector() Selector { return p.state.Load().sel }

// Select returns a backend for r, or nil if none is available.
func (p *Pool) Select(r *Request) *Backend { return p.state.Load().sel.Select(r) }

// Order appends every member to dst in r's order of preference and returns
// the extended slice. For hashing policies that is the policy's Order; for
// the others it is Select's pick followed by the rest in configured order.
func (p *Pool) Order(r *Request, dst []*Backend) []*Backend {
	s := p.state.Load()
	if o, ok := s.sel.(Orderer); ok {
		return o.Order(r, dst)
	}
	first := s.sel.Select(r)
	if first != nil {
		dst = append(dst, first)
	}
	for _, b := range s.backends {
		if b != first {
			dst = append(dst, b)
		}
	}
	return dst
}

// Run runs the active health checks, if configured, until ctx is done, and
// returns nil then. Without active checks it just waits for ctx.
func (p *Pool) Run(ctx context.Context) error {
	if p.checker == nil {
		<-ctx.Done()
		return nil
	}
	p.checker.Run(ctx, func() []*Backend { return p.state.Load().backends })
	return nil
}

// Close unregisters the pool's metrics, so a pool of the same name can
// replace it (on a configuration reload). The pool keeps working.
func (p *Pool) Close() {
	if p.reg != nil && p.metrics != nil {
		p.reg.Unregister(p.metrics)
	}
}

// Register registers the pool's metrics again after Close (a reload that
// failed puts the old pool back).
func (p *Pool) Register() {
	if p.reg != nil && p.metrics != nil {
		p.reg.Register(p.metrics)
	}
}

// BackendStatus is one backend's state as the admin API shows it.
type BackendStatus struct {
	Name     string `json:"name"`
	Addr     string `json:"addr,omitempty"`
	Weight   int    `json:"weight"`
	MaxConns int64  `json:"max_conns,omitempty"`
	// Available is what policies see: healthy, not ejected, not full.
	Available bool `json:"available"`
	// Healthy is the active health-check verdict.
	Healthy bool `json:"healthy"`
	// Ejected and EjectedUntil describe a passive ejection in force.
	Ejected      bool      `json:"ejected"`
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	Inflight     int64     `json:"inflight"`
	// ConsecutiveFailures counts passive failures since the last success.
	ConsecutiveFailures int64  `json:"consecutive_failures"`
	Ejections           int64  `json:"ejections"`
	Probes              int64  `json:"probes"`
	ProbeFailures       int64  `json:"probe_failures"`
	LastProbeError      string `json:"last_probe_error,omitempty"`
}

// Status returns the state of every member, in configured order, ready to
// be encoded as JSON.
func (p *Pool) Status() []BackendStatus {
	s := p.state.Load()
	out := make([]BackendStatus, 0, len(s.backends))
	for _, b := range s.backends {
		st := BackendStatus{
			Name: b.ID(), Addr: b.Addr, Weight: b.weight(), MaxConns: b.MaxConns,
			Available: b.Available(), Healthy: b.Healthy(), Ejected: b.Ejected(),
			Inflight: b.Inflight(), ConsecutiveFailures: b.ConsecutiveFailures(),
			Ejections: b.Ejections(), Probes: b.probes.Load(), ProbeFailures: b.probeFails.Load(),
		}
		if st.Ejected {
			if u := b.ejectedUntil.Load(); u != 0 {
				st.EjectedUntil = time.Unix(0, u).UTC()
			}
		}
		if e := b.lastProbeErr.Load(); e != nil {
			st.LastProbeError = *e
		}
		out = append(out, st)
	}
	return out
}
