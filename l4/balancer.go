package l4

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/selfcdn/cdn/lb"
)

// Balancer is a running layer-4 balancer. Build it with New, serve with Run.
type Balancer struct {
	cfg     Config
	src     netip.Addr // SourceAddr; zero: the kernel's choice
	logger  *slog.Logger
	metrics *metrics
	pool    *lb.Pool

	mu       sync.Mutex          // guards backends, clients, the listener lists
	backends map[string]*backend // by name, current and removed-but-busy
	clients  map[netip.Addr]int  // flows per client address
	sids     map[string]*backend // QUIC-LB server ID (raw) → current backend
	tcpLns   []*tcpListener
	udpLns   []*udpListener

	tracked  atomic.Int64 // TCP connections + UDP flows
	closing  atomic.Bool
	started  chan struct{}
	startErr error
}

// backend is one backend's live state beyond what lb.Backend holds.
type backend struct {
	lb       *lb.Backend
	cfg      BackendConfig
	udpAddr  *net.UDPAddr
	draining atomic.Bool
	flows    atomic.Int64
	removed  atomic.Bool

	// Metric children, looked up once.
	tcpFlows, udpFlows prometheus.Counter
	gauge              prometheus.Gauge
	connectErrs        prometheus.Counter

	mu    sync.Mutex
	conns map[closer]struct{} // TCP connections and UDP flows, to close on a drain deadline
	// rise/fall counters of the TCP checker
	ok, fail int
}

type closer interface{ close() }

// New validates cfg and builds a balancer; it does not listen until Run. A
// nil logger discards; a nil reg registers no metrics.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Balancer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("l4 config: %w", err)
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	src, _ := netip.ParseAddr(cfg.SourceAddr)
	b := &Balancer{
		cfg: cfg, src: src, logger: logger, backends: map[string]*backend{}, clients: map[netip.Addr]int{},
		started: make(chan struct{}),
	}
	passive := cfg.Passive
	switch {
	case passive.MaxFails == 0:
		passive.MaxFails = DefaultPassiveMaxFails
	case passive.MaxFails < 0:
		passive.MaxFails = 0
	}
	if passive.CoolDown == 0 {
		passive.CoolDown = DefaultPassiveCoolDown
	}
	pc := lb.PoolConfig{
		Name: "l4", Policy: lb.PolicyMaglev, Options: lb.Options{TableSize: cfg.TableSize}, Passive: passive,
	}
	if cfg.Health.Type == "http" {
		pc.Health = &lb.HealthConfig{
			Path: cfg.Health.Path, Interval: cfg.Health.Interval, Timeout: cfg.Health.Timeout,
			Rise: cfg.Health.Rise, Fall: cfg.Health.Fall,
		}
	}
	bes, err := b.makeBackends(cfg.Backends)
	if err != nil {
		return nil, err
	}
	pool, err := lb.NewPool(pc, bes, logger, reg, nil)
	if err != nil {
		return nil, fmt.Errorf("l4 backends: %w", err)
	}
	b.pool = pool
	if b.metrics, err = newMetrics(b, reg); err != nil {
		pool.Close()
		return nil, err
	}
	for _, be := range b.backends {
		b.metrics.bind(be)
	}
	return b, nil
}

// makeBackends returns the lb backends for cfgs, reusing the state of
// backends that stay, and records new ones.
func (b *Balancer) makeBackends(cfgs []BackendConfig) ([]*lb.Backend, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*lb.Backend, 0, len(cfgs))
	sids := map[string]*backend{}
	defer func() { b.sids = sids }()
	addSID := func(be *backend) {
		if id, err := hex.DecodeString(be.cfg.ServerID); err == nil && len(id) > 0 {
			sids[string(id)] = be
		}
	}
	for _, c := range cfgs {
		if be, ok := b.backends[c.Name]; ok && be.cfg == c {
			be.removed.Store(false)
			out = append(out, be.lb)
			addSID(be)
			continue
		}
		var ua *net.UDPAddr
		if ap, err := netip.ParseAddrPort(c.UDPAddr); err == nil {
			ua = net.UDPAddrFromAddrPort(ap)
		} else {
			r, err := net.ResolveUDPAddr("udp", c.UDPAddr)
			if err != nil {
				return nil, fmt.Errorf("backend %q: resolve udp address %q: %w", c.Name, c.UDPAddr, err)
			}
			ua = r
		}
		lbb := &lb.Backend{Name: c.Name, Addr: c.Addr, HealthAddr: c.HealthAddr, Weight: c.Weight, MaxConns: b.cfg.MaxConnsPerBackend}
		be := &backend{lb: lbb, cfg: c, udpAddr: ua, conns: map[closer]struct{}{}}
		if b.metrics != nil {
			b.metrics.bind(be)
		}
		b.backends[c.Name] = be
		addSID(be)
		out = append(out, lbb)
	}
	return out, nil
}

// SetBackends replaces the backend set and rebuilds the Maglev table.
// Tracked flows keep their backends, including flows of removed backends,
// which run until they end; only new flows use the new table.
func (b *Balancer) SetBackends(cfgs []BackendConfig) error {
	d := Config{Backends: cfgs}.withDefaults()
	if err := validateBackends(d.Backends); err != nil {
		return fmt.Errorf("l4 set backends: %w", err)
	}
	bes, err := b.makeBackends(d.Backends)
	if err != nil {
		return err
	}
	if err := b.pool.SetBackends(bes); err != nil {
		return fmt.Errorf("l4 set backends: %w", err)
	}
	keep := map[string]bool{}
	for _, c := range d.Backends {
		keep[c.Name] = true
	}
	b.mu.Lock()
	for name, be := range b.backends {
		if !keep[name] {
			be.removed.Store(true)
			if be.flows.Load() == 0 {
				delete(b.backends, name)
			}
		}
	}
	b.mu.Unlock()
	b.logger.Info("l4 backends replaced", "backends", len(bes))
	return nil
}

// Drain stops sending new flows to the named backend and waits until its
// flows have ended or the deadline passes (0: Config.DrainTimeout), then
// closes what is left. It returns the number of flows it had to close.
// The backend stays drained until Undrain.
func (b *Balancer) Drain(ctx context.Context, name string, timeout time.Duration) (int, error) {
	be := b.backend(name)
	if be == nil {
		return 0, fmt.Errorf("l4 drain: no backend named %q", name)
	}
	if timeout <= 0 {
		timeout = b.cfg.DrainTimeout
	}
	be.draining.Store(true)
	b.logger.Info("l4 backend draining", "backend", name, "flows", be.flows.Load(), "deadline", timeout)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for be.flows.Load() > 0 {
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		case <-deadline.C:
		}
		break
	}
	be.mu.Lock()
	left := make([]closer, 0, len(be.conns))
	for c := range be.conns {
		left = append(left, c)
	}
	be.mu.Unlock()
	for _, c := range left {
		c.close()
	}
	if len(left) > 0 {
		b.logger.Warn("l4 drain deadline: flows closed", "backend", name, "closed", len(left))
	}
	return len(left), ctx.Err()
}

// Undrain lets the named backend take new flows again.
func (b *Balancer) Undrain(name string) error {
	be := b.backend(name)
	if be == nil {
		return fmt.Errorf("l4 undrain: no backend named %q", name)
	}
	be.draining.Store(false)
	return nil
}

// byServerID returns the current backend with that QUIC-LB server ID.
func (b *Balancer) byServerID(sid []byte) *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sids[string(sid)]
}

func (b *Balancer) backend(name string) *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.backends[name]
}

// Backends returns the state of the balancer's current backends.
func (b *Balancer) Backends() []lb.BackendStatus { return b.pool.Status() }

// pick returns the first usable backend in the flow's Maglev order, with a
// flow slot acquired on it, or nil. skip, if not nil, is passed over (a
// backend whose connect just failed).
func (b *Balancer) pick(h uint64, skip map[*lb.Backend]bool) *backend {
	r := lb.Request{Hash: h}
	// Fast path: the table's pick (or lb's failover for an unavailable
	// one) without allocating.
	if lbb := b.pool.Select(&r); lbb != nil && !skip[lbb] {
		b.mu.Lock()
		be := b.backends[lbb.Name]
		b.mu.Unlock()
		if be != nil && !be.draining.Load() && lbb.TryAcquire() {
			return be
		}
	}
	var buf [16]*lb.Backend
	order := b.pool.Order(&r, buf[:0])
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, lbb := range order {
		if skip[lbb] || !lbb.Available() {
			continue
		}
		be := b.backends[lbb.Name]
		if be == nil || be.draining.Load() {
			continue
		}
		if !lbb.TryAcquire() {
			continue
		}
		return be
	}
	return nil
}

// track counts a new flow for client on be; it fails if a limit is hit.
func (b *Balancer) track(client netip.Addr, be *backend, c closer) error {
	if b.closing.Load() {
		return errShutdown
	}
	if n := b.tracked.Add(1); n > int64(b.cfg.ConntrackSize) {
		b.tracked.Add(-1)
		return errTableFull
	}
	b.mu.Lock()
	if max := b.cfg.MaxConnsPerClient; max > 0 && b.clients[client] >= max {
		b.mu.Unlock()
		b.tracked.Add(-1)
		return errClientLimit
	}
	b.clients[client]++
	b.mu.Unlock()
	be.flows.Add(1)
	be.mu.Lock()
	be.conns[c] = struct{}{}
	be.mu.Unlock()
	return nil
}

// untrack ends a flow counted by track and releases its backend slot.
func (b *Balancer) untrack(client netip.Addr, be *backend, c closer) {
	be.mu.Lock()
	delete(be.conns, c)
	be.mu.Unlock()
	be.lb.Release()
	left := be.flows.Add(-1)
	b.mu.Lock()
	if n := b.clients[client] - 1; n > 0 {
		b.clients[client] = n
	} else {
		delete(b.clients, client)
	}
	if left == 0 && be.removed.Load() && b.backends[be.cfg.Name] == be {
		delete(b.backends, be.cfg.Name)
	}
	b.mu.Unlock()
	b.tracked.Add(-1)
}

var (
	errTableFull   = errors.New("connection-tracking table full")
	errClientLimit = errors.New("client at max_conns_per_client")
	errShutdown    = errors.New("balancer shutting down")
)

// Start opens every listener. Run calls it if it was not called; call it
// first to learn the bound addresses (Addrs) before serving.
func (b *Balancer) Start() error {
	select {
	case <-b.started:
		return b.startErr
	default:
	}
	defer close(b.started)
	for _, lc := range b.cfg.Listeners {
		switch lc.Network {
		case "tcp":
			// No TCP keepalives on client flows (four setsockopts per
			// accept): idle flows end at tcp_idle, as with HAProxy
			// without option tcpka.
			ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", lc.Addr)
			if err != nil {
				b.startErr = fmt.Errorf("l4 listen tcp %s: %w", lc.Addr, err)
				break
			}
			b.tcpLns = append(b.tcpLns, &tcpListener{b: b, ln: ln.(*net.TCPListener), svc: serviceHash(lc.Service, protoTCP), port: lc.BackendPort})
		case "udp":
			pc, err := net.ListenPacket("udp", lc.Addr)
			if err != nil {
				b.startErr = fmt.Errorf("l4 listen udp %s: %w", lc.Addr, err)
				break
			}
			b.udpLns = append(b.udpLns, newUDPListener(b, pc.(*net.UDPConn), serviceHash(lc.Service, protoUDP), lc.BackendPort))
		}
		if b.startErr != nil {
			b.closeListeners()
			return b.startErr
		}
	}
	return nil
}

// Addrs returns the bound addresses of the TCP and UDP listeners, in
// configuration order within each network, after Start.
func (b *Balancer) Addrs() (tcp, udp []net.Addr) {
	<-b.started
	for _, l := range b.tcpLns {
		tcp = append(tcp, l.ln.Addr())
	}
	for _, l := range b.udpLns {
		udp = append(udp, l.pc.LocalAddr())
	}
	return tcp, udp
}

func (b *Balancer) closeListeners() {
	for _, l := range b.tcpLns {
		l.ln.Close()
	}
	for _, l := range b.udpLns {
		l.pc.Close()
	}
}

// Run serves until ctx is done, then shuts down gracefully: it stops
// accepting, waits up to ShutdownTimeout for flows to end, closes the rest,
// and returns nil.
func (b *Balancer) Run(ctx context.Context) error {
	if err := b.Start(); err != nil {
		return err
	}
	hctx, hcancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		switch b.cfg.Health.Type {
		case "http":
			b.pool.Run(hctx)
		case "tcp":
			b.runTCPChecks(hctx)
		}
	}()
	var serve sync.WaitGroup
	for _, l := range b.tcpLns {
		serve.Add(1)
		go func() { defer serve.Done(); l.serve() }()
	}
	for _, l := range b.udpLns {
		serve.Add(2)
		go func() { defer serve.Done(); l.serve() }()
		go func() { defer serve.Done(); l.sweep(hctx) }()
	}
	<-ctx.Done()
	b.closing.Store(true)
	for _, l := range b.tcpLns {
		l.ln.Close()
	}
	// UDP has no end of flow to wait for: its flows are forgotten now.
	for _, l := range b.udpLns {
		l.pc.Close()
		l.closeAll()
	}
	if !b.waitFlows(b.cfg.ShutdownTimeout) {
		b.mu.Lock()
		var all []closer
		for _, be := range b.backends {
			be.mu.Lock()
			for c := range be.conns {
				all = append(all, c)
			}
			be.mu.Unlock()
		}
		b.mu.Unlock()
		b.logger.Warn("l4 shutdown deadline: closing flows", "flows", len(all))
		for _, c := range all {
			c.close()
		}
		b.waitFlows(time.Minute)
	}
	hcancel()
	serve.Wait()
	bg.Wait()
	b.pool.Close()
	b.metrics.unregister()
	return nil
}

// dialer returns a TCP dialer from SourceAddr.
func (b *Balancer) dialer(timeout time.Duration) net.Dialer {
	// No keepalives toward backends either (see the listener).
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	if b.src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: b.src.AsSlice()}
		// The source port is chosen at connect, for the whole 4-tuple,
		// not at bind, where it would be unique per address and cost a
		// search of the port range per flow (IP_BIND_ADDRESS_NO_PORT).
		d.Control = bindNoPort
	}
	return d
}

// waitFlows waits up to d for every tracked flow to end, and reports
// whether they did.
func (b *Balancer) waitFlows(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for b.tracked.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// runTCPChecks connects to every backend each interval, with rise/fall.
func (b *Balancer) runTCPChecks(ctx context.Context) {
	t := time.NewTicker(b.cfg.Health.Interval)
	defer t.Stop()
	d := b.dialer(b.cfg.Health.Timeout)
	for {
		var wg sync.WaitGroup
		for _, lbb := range b.pool.Backends() {
			be := b.backend(lbb.Name)
			if be == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := d.DialContext(ctx, "tcp", be.cfg.Addr)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					c.Close()
				}
				b.recordCheck(be, err)
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Balancer) recordCheck(be *backend, err error) {
	be.mu.Lock()
	defer be.mu.Unlock()
	if err != nil {
		be.ok = 0
		be.fail++
		if be.lb.Healthy() && be.fail >= b.cfg.Health.Fall {
			be.lb.SetHealthy(false)
			b.logger.Warn("l4 backend down", "backend", be.cfg.Name, "consecutive_failures", be.fail, "err", err)
		}
		return
	}
	be.fail = 0
	be.ok++
	if !be.lb.Healthy() && be.ok >= b.cfg.Health.Rise {
		be.lb.SetHealthy(true)
		b.logger.Info("l4 backend up", "backend", be.cfg.Name, "consecutive_successes", be.ok)
	}
}
