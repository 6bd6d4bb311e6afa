package geodns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options are the server's dependencies.
type Options struct {
	// Name identifies this node on the admin status page. If empty, the
	// zone is shown.
	Name string
	// Logger receives the server's logs. If nil, logs are discarded.
	Logger *slog.Logger
	// Registerer receives the metrics. If nil, metrics are not registered.
	Registerer prometheus.Registerer
	// Now is the clock for health timestamps, SOA serials and log rate
	// limits. If nil, time.Now.
	Now func() time.Time
	// HTTPClient sends health probes; its own Timeout, if any, applies on
	// top of Health.Timeout. If nil, a client with its own transport is
	// used.
	HTTPClient *http.Client
}

// Server is an authoritative GeoDNS server for one zone.
type Server struct {
	name    string
	log     *slog.Logger
	now     func() time.Time
	client  *http.Client
	metrics *metrics

	snap atomic.Pointer[snapshot] // what queries read

	mu     sync.Mutex            // serialises Reload and health updates
	states map[string]*edgeState // guarded by mu: by edgeKey

	serving        atomic.Bool
	portableUDP    bool // tests: serve UDP through the portable reader
	ready          chan struct{}
	addr           atomic.Pointer[string]
	lastAllDownLog atomic.Int64
}

// New validates cfg, opens its GeoIP database and returns a server ready to
// answer through ServeDNS and Handle, and to listen with ListenAndServe.
func New(cfg Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("geodns config: %w", err)
	}
	s := &Server{
		name:   opts.Name,
		log:    opts.Logger,
		now:    opts.Now,
		client: opts.HTTPClient,
		states: map[string]*edgeState{},
		ready:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.client == nil {
		s.client = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		}}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if _, err := s.load(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// load builds a snapshot for cfg: defaults, GeoIP database, zone, PoPs
// with the health state of edges it already knows.
func (s *Server) load(cfg Config) (*snapshot, error) {
	c := cfg.withDefaults()
	var db *geoDB
	if c.GeoIPPath != "" {
		var err error
		if db, err = openGeoDB(c.GeoIPPath); err != nil {
			return nil, err
		}
	}
	var key *zoneKey
	if c.DNSSEC.KeyFile != "" {
		var err error
		if key, err = loadZoneKey(c.Zone, c.DNSSEC); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	live := map[string]*edgeState{}
	sn, err := buildSnapshot(c, db, key, s.now, func(pop, edge int) *edgeState {
		p := c.PoPs[pop]
		k := edgeKey(p.Name, p.Edges[edge])
		st, ok := s.states[k]
		if !ok {
			// Unknown until probed: not served while its PoP has a
			// probed edge (see refreshAnswers).
			st = &edgeState{pop: p.Name, name: p.Edges[edge].Name, url: probeTarget(p.Edges[edge])}
		}
		live[k] = st
		return st
	})
	if err != nil {
		return nil, err
	}
	for k, st := range s.states {
		if _, ok := live[k]; !ok {
			s.metrics.edgeUp.DeleteLabelValues(st.pop, st.name)
		}
	}
	for _, st := range live {
		s.metrics.setEdge(st.pop, st.name, c.Health.Disabled || st.up())
	}
	s.states = live
	s.snap.Store(sn)
	return sn, nil
}

// Reload validates cfg and swaps in its zone and GeoIP database atomically:
// queries in flight finish on the old snapshot, later ones see the new one,
// none is dropped. The old database is released when the last query that
// uses it is done. Edges keep their health when their PoP, name and health
// URL are unchanged. On error the running configuration stays.
func (s *Server) Reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("reload geodns config: %w", err)
	}
	sn, err := s.load(cfg)
	if err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("reload geodns config: %w", err)
	}
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.Info("geodns configuration reloaded", "zone", sn.cfg.Zone, "serial", sn.cfg.SOA.Serial,
		"pops", len(sn.pops), "geoip", sn.cfg.GeoIPPath)
	return nil
}

// ReloadWith is Reload with the configuration from load, so that a
// failure to read it (a broken cluster file) is counted and logged like
// an invalid configuration. On error the running configuration stays.
func (s *Server) ReloadWith(load func() (Config, error)) error {
	cfg, err := load()
	if err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("reload geodns config: %w", err)
	}
	return s.Reload(cfg)
}

// Ready is closed once ListenAndServe is listening; Addr is then valid.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the host:port both listeners are bound to, or "" before Ready.
func (s *Server) Addr() string {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// ListenAndServe answers queries over UDP and TCP on addr (host:port; port
// 0 picks one, see Addr) and probes edge health, until ctx is done. It then
// stops the listeners, lets queries in flight finish, and returns nil. It
// may be called once per Server.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	if !s.serving.CompareAndSwap(false, true) {
		return errors.New("geodns: ListenAndServe called twice")
	}
	l, err := listen(addr, runtime.GOMAXPROCS(0))
	if err != nil {
		return err
	}
	bound := l.tcp.Addr().String()
	s.addr.Store(&bound)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	readers := make([]udpReader, len(l.udp))
	for i, pc := range l.udp {
		readers[i] = s.newUDPReader(pc)
		wg.Go(readers[i].serve)
	}
	tcp := newTCPServer(s, l.tcp)
	wg.Go(func() { tcp.serve(ctx) })
	wg.Go(func() { s.runHealth(ctx) })
	close(s.ready)
	s.log.Info("geodns listening", "addr", bound, "udp_sockets", len(l.udp), "zone", s.snap.Load().cfg.Zone)

	<-ctx.Done()
	// Wake the readers; each finishes the batch it holds, then returns.
	for _, r := range readers {
		r.stop()
	}
	tcp.shutdown()
	wg.Wait()
	for _, r := range readers {
		r.close()
	}
	return nil
}
