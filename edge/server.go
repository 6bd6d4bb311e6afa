package edge

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"golang.org/x/sync/singleflight"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/cache/disk"
	"github.com/selfcdn/cdn/compress"
	"github.com/selfcdn/cdn/lb"
	"github.com/selfcdn/cdn/proxyproto"
	"github.com/selfcdn/cdn/quiclb"
)

// Server is one edge or shield node.
type Server struct {
	cfg       Config
	log       *slog.Logger
	mem       *cache.Memory
	disk      *disk.Store // nil without a disk tier; the node opens and closes it
	inv       *cache.Invalidations
	purges    recentPurges  // the last purges applied, for the status page
	engines   []*fastEngine // fast HTTP/1.1 engines of the running listeners
	fronts    []front       // what accepts for net/http: fast engines, the TLS front
	store     *cache.Tiered // the tiers as requests see them
	flights   flightGroup
	routes    atomic.Pointer[routes] // sites and upstreams; replaced by Reload
	reloadMu  sync.Mutex             // serialises reloads
	reloaded  chan struct{}          // a reload happened: restart health checks
	source    func() (Config, error) // where ReloadFromSource reads the configuration; nil: none
	transport *http.Transport
	metrics   *metrics
	registry  *prometheus.Registry
	reg       prometheus.Registerer // registry, and the caller's if any
	loopID    string
	via       string // "1.1 <name>"

	baseCtx context.Context
	cancel  context.CancelFunc

	mu      sync.Mutex // guards addrs and running
	addrs   map[string]net.Addr
	running []*http.Server

	compressCfg compress.Config
	compressing singleflight.Group // builds each compressed variant once

	adminExtra map[string]http.Handler     // guarded by mu; added before Run
	background []func(ctx context.Context) // guarded by mu; run by Run until shutdown
	afterStop  []func()                    // guarded by mu; run by Run once everything has stopped
	h3         *http3.Server
	altSvc     string // Alt-Svc value advertising HTTP/3, set before serving
	readyOnce  sync.Once
	ready      chan struct{}
}

// New checks cfg and builds a node. Run starts it.
func New(cfg Config) (*Server, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("edge config: %w", err)
	}
	mem, err := cache.NewMemory(cache.MemoryConfig{Budget: cfg.Memory, MaxObject: cfg.MaxMemoryObject})
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger.With("node", cfg.Name),
		mem:         mem,
		inv:         &cache.Invalidations{},
		transport:   newTransport(&cfg),
		loopID:      cfg.Name,
		via:         "1.1 " + cfg.Name,
		compressCfg: cfg.Compression,
		addrs:       map[string]net.Addr{},
		ready:       make(chan struct{}),
		reloaded:    make(chan struct{}, 1),
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.reg = s.registry
	if cfg.Registerer != nil {
		s.reg = multiRegisterer{s.registry, cfg.Registerer}
	}
	rt, err := s.buildRoutes(&cfg)
	if err != nil {
		return nil, err
	}
	s.routes.Store(rt)
	s.metrics = newMetrics(s.reg, s)
	if cfg.DiskDir != "" {
		d, err := disk.Open(disk.Config{
			Dir:        cfg.DiskDir,
			MaxBytes:   cfg.DiskSize,
			MaxObject:  cfg.DiskMaxObject,
			Logger:     s.log,
			Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"node": cfg.Name}, s.reg),
			Now:        cfg.Now,
		})
		if err != nil {
			mem.Close()
			return nil, fmt.Errorf("disk tier: %w", err)
		}
		s.disk = d
	}
	tc := cache.TieredConfig{
		Memory:          mem,
		MaxMemoryObject: cfg.MaxMemoryObject,
		MaxDiskObject:   cfg.DiskMaxObject,
		StreamWindow:    cfg.StreamWindow,
		Invalidations:   s.inv,
		Logger:          s.log,
		Registerer:      s.reg,
		ConstLabels:     prometheus.Labels{"node": cfg.Name, "role": string(cfg.Role)},
	}
	if s.disk != nil {
		tc.Disk = s.disk.Tier()
	}
	s.store = cache.NewTiered(tc)
	return s, nil
}

// fromBalancer reports whether a peer is a layer-4 balancer that sends
// PROXY protocol headers.
func (s *Server) fromBalancer(a netip.Addr) bool {
	for _, p := range s.cfg.ProxyProtocolFrom {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// multiRegisterer registers with the node's own registry (served on the
// admin listener) and the caller's.
type multiRegisterer struct {
	own   *prometheus.Registry
	other prometheus.Registerer
}

func (m multiRegisterer) Register(c prometheus.Collector) error {
	if err := m.own.Register(c); err != nil {
		return err
	}
	return m.other.Register(c)
}

func (m multiRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := m.Register(c); err != nil {
			panic(err)
		}
	}
}

func (m multiRegisterer) Unregister(c prometheus.Collector) bool {
	m.other.Unregister(c)
	return m.own.Unregister(c)
}

// Invalidations returns the node's purge rules, for the purge API.
func (s *Server) Invalidations() *cache.Invalidations { return s.inv }

// Memory returns the node's memory tier.
func (s *Server) Memory() *cache.Memory { return s.mem }

// Name returns the node's name.
func (s *Server) Name() string { return s.cfg.Name }

// Ready is closed once every listener is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the bound address of a listener: "http", "https" or "admin".
func (s *Server) Addr(name string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}

// Run serves until ctx is cancelled, then shuts down gracefully: listeners
// close, in-flight requests finish (up to 30 s), upstream fetches stop.
func (s *Server) Run(ctx context.Context) error {
	defer s.cancel()
	defer s.mem.Close()
	if s.disk != nil {
		defer s.disk.Close()
	}
	type srv struct {
		name  string
		hs    *http.Server
		ln    net.Listener
		front front // nil: net/http accepts the connections itself
	}
	var servers []srv
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	mk := func(name, addr string, h http.Handler, tlsCfg *tls.Config) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s on %s: %w", name, addr, err)
		}
		hs := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
			ErrorLog:          errLog,
			// Every request reaches the handler, "OPTIONS *" included:
			// the framing guard counts requests, and a request net/http
			// answered itself would put its count out of step.
			DisableGeneralOptionsHandler: true,
			BaseContext:                  func(net.Listener) context.Context { return s.baseCtx },
		}
		if name != "admin" {
			hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: s.cfg.H2MaxStreams}
			hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(connContext(ctx, c), clientConnKey{}, s.newClientConn(c))
			}
		}
		if name != "admin" && len(s.cfg.ProxyProtocolFrom) > 0 {
			ln = proxyproto.NewListener(ln, proxyproto.ListenerConfig{Trusted: s.fromBalancer, Logger: s.log})
		}
		if name != "admin" {
			ln = newConnLimitListener(ln, s.cfg.MaxConnsPerClient, func() {
				s.metrics.limitTrips.WithLabelValues("conns_per_client").Inc()
			})
		}
		var fr front
		var eng *fastEngine
		if name == "http" {
			hs.Protocols = &protocols
			if s.cfg.HTTP1Engine != EngineStdlib && s.cfg.WrapHTTP == nil {
				// The fast engine takes the connections and hands to
				// net/http (behind the framing guard) what it does not
				// answer itself.
				eng = newFastEngine(s, ln)
				fr, ln = eng, eng.handoff
			} else {
				ln = framingListener{ln}
			}
		}
		var h1 *http.Server // HTTP/1.1 over TLS, behind the framing guard
		if tlsCfg != nil {
			hs.TLSConfig = tlsCfg
			tf := newTLSFront(ln, tlsCfg)
			fr, ln = tf, tf.h2
			if s.cfg.HTTP1Engine != EngineStdlib && s.cfg.WrapHTTP == nil {
				eng = &fastEngine{s: s, tls: true, handoff: tf.h1}
				tf.fast = eng
			}
			var p1 http.Protocols
			p1.SetHTTP1(true)
			h1 = &http.Server{
				Handler: hs.Handler, ReadHeaderTimeout: hs.ReadHeaderTimeout, IdleTimeout: hs.IdleTimeout,
				MaxHeaderBytes: hs.MaxHeaderBytes, ErrorLog: errLog, DisableGeneralOptionsHandler: true,
				BaseContext: hs.BaseContext, Protocols: &p1,
				ConnContext: func(ctx context.Context, c net.Conn) context.Context {
					return hs.ConnContext(tlsConnContext(ctx, c), c)
				},
			}
			servers = append(servers, srv{name + "-h1", h1, tf.h1, nil})
		}
		s.mu.Lock()
		s.addrs[name] = ln.Addr()
		s.running = append(s.running, hs)
		if h1 != nil {
			s.running = append(s.running, h1)
		}
		if fr != nil {
			s.fronts = append(s.fronts, fr)
		}
		if eng != nil {
			s.engines = append(s.engines, eng)
		}
		s.mu.Unlock()
		servers = append(servers, srv{name, hs, ln, fr})
		return nil
	}
	closeAll := func() {
		for _, x := range servers {
			x.ln.Close()
			if x.front != nil {
				x.front.close()
			}
		}
	}
	var handler http.Handler = s
	if s.cfg.WrapHTTP != nil {
		handler = s.cfg.WrapHTTP(s)
	}
	if s.cfg.Listen != "" {
		if err := mk("http", s.cfg.Listen, handler, nil); err != nil {
			return err
		}
	}
	var h3 *http3.Server
	var h3conn net.PacketConn
	if s.cfg.TLSListen != "" {
		tc, err := s.tlsConfig()
		if err != nil {
			closeAll()
			return err
		}
		if err := mk("https", s.cfg.TLSListen, handler, tc); err != nil {
			closeAll()
			return err
		}
		if !s.cfg.DisableHTTP3 {
			// HTTP/3 on the same port as TLS over TCP (UDP).
			h3conn, err = net.ListenPacket("udp", s.Addr("https").String())
			if err != nil {
				closeAll()
				return fmt.Errorf("listen http3 on %s: %w", s.Addr("https"), err)
			}
			h3 = &http3.Server{
				Handler: s,
				ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
					cc := s.newClientConn(nil)
					cc.closeFn = func() { c.CloseWithError(0, "too many abandoned requests") }
					return context.WithValue(ctx, clientConnKey{}, cc)
				},
				TLSConfig:      http3.ConfigureTLSConfig(tc.Clone()),
				MaxHeaderBytes: s.cfg.MaxHeaderBytes,
				IdleTimeout:    120 * time.Second,
				QUICConfig: &quic.Config{
					MaxIncomingStreams: s.cfg.H3MaxStreams,
					MaxIdleTimeout:     60 * time.Second,
					Allow0RTT:          s.cfg.Allow0RTT,
				},
			}
			port := h3conn.LocalAddr().(*net.UDPAddr).Port
			s.altSvc = fmt.Sprintf(`h3=":%d"; ma=86400`, port)
			s.mu.Lock()
			s.addrs["http3"] = h3conn.LocalAddr()
			s.h3 = h3
			s.mu.Unlock()
		}
	}
	if s.cfg.Admin != "" {
		if err := mk("admin", s.cfg.Admin, s.adminHandler(), nil); err != nil {
			closeAll()
			return err
		}
	}
	stopHealth := sync.OnceFunc(s.startHealthChecks())
	defer stopHealth()
	errc := make(chan error, len(servers)+1) // and HTTP/3
	for _, x := range servers {
		s.log.Info("listening", "listener", x.name, "addr", x.ln.Addr().String(), "role", s.cfg.Role)
		if x.front != nil {
			go x.front.serve()
		}
		go func() {
			if err := x.hs.Serve(x.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", x.name, err)
			}
		}()
	}
	var h3ln *quic.EarlyListener
	var h3tr *quic.Transport
	if h3 != nil && s.cfg.QUICLB != nil {
		// QUIC-LB: connection IDs carry this edge's server ID.
		gen, err := quiclb.NewGenerator(*s.cfg.QUICLB, s.cfg.QUICServerID)
		if err == nil {
			h3tr = &quic.Transport{Conn: h3conn, ConnectionIDGenerator: gen}
			h3ln, err = h3tr.ListenEarly(h3.TLSConfig, h3.QUICConfig)
		}
		if err != nil {
			closeAll()
			h3conn.Close()
			return fmt.Errorf("http3 with QUIC-LB connection IDs: %w", err)
		}
	}
	if h3 != nil {
		s.log.Info("listening", "listener", "http3", "addr", h3conn.LocalAddr().String(), "role", s.cfg.Role)
		go func() {
			var err error
			if h3ln != nil {
				err = h3.ServeListener(h3ln)
			} else {
				err = h3.Serve(h3conn)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
				errc <- fmt.Errorf("http3 listener: %w", err)
			}
		}()
	}
	s.readyOnce.Do(func() { close(s.ready) })
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, x := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if x.front != nil {
				x.front.close()
			}
			if err := x.hs.Shutdown(sctx); err != nil {
				x.hs.Close()
			}
		}()
	}
	if h3 != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h3.Shutdown(sctx); err != nil {
				h3.Close()
			}
			if h3ln != nil {
				h3ln.Close()
				h3tr.Close()
			}
			h3conn.Close()
		}()
	}
	wg.Wait()
	s.cancel()
	s.transport.CloseIdleConnections()
	stopHealth()
	s.mu.Lock()
	after := s.afterStop
	s.afterStop = nil
	s.mu.Unlock()
	for _, fn := range after {
		fn()
	}
	return runErr
}

// Close stops the node at once: listeners and every connection are
// closed mid-request, as if the process died. Run then returns.
func (s *Server) Close() {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	for _, hs := range running {
		hs.Close()
	}
	s.mu.Lock()
	fronts := s.fronts
	s.mu.Unlock()
	for _, f := range fronts {
		f.close()
	}
	s.mu.Lock()
	h3 := s.h3
	s.mu.Unlock()
	if h3 != nil {
		h3.Close()
	}
	s.cancel()
}

// tlsConfig returns the TLS settings of the HTTPS and HTTP/3 listeners.
func (s *Server) tlsConfig() (*tls.Config, error) {
	if s.cfg.TLSConfig != nil {
		tc := s.cfg.TLSConfig.Clone()
		if len(tc.NextProtos) == 0 {
			tc.NextProtos = []string{"h2", "http/1.1"}
		}
		return tc, nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s: %w", s.cfg.TLSCert, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}, nil
}

// adminHandler serves /metrics, /healthz, /status and the HTML status
// page at exactly "/".
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.adminAuth(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /healthz", s.healthz)
	s.mu.Lock()
	for p, h := range s.adminExtra {
		mux.Handle(p, h)
	}
	s.mu.Unlock()
	mux.Handle("GET /status", s.adminAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.status())
	})))
	mux.Handle("GET /{$}", s.adminAuth(http.HandlerFunc(s.statusPage)))
	if s.cfg.Pprof {
		mux.Handle("/debug/pprof/", s.adminAuth(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", s.adminAuth(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("/debug/pprof/profile", s.adminAuth(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", s.adminAuth(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", s.adminAuth(http.HandlerFunc(pprof.Trace)))
	}
	return mux
}

// adminAuth requires AdminToken, when one is set: as a bearer token, or
// as the password of HTTP Basic authentication (any user name), so that a
// browser opening the status page asks for it.
func (s *Server) adminAuth(h http.Handler) http.Handler {
	if s.cfg.AdminToken == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !adminTokenOK(r, s.cfg.AdminToken) {
			w.Header().Add("WWW-Authenticate", `Bearer realm="cdn admin"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="cdn admin: any user, the admin token as password", charset="UTF-8"`)
			http.Error(w, "admin token required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// adminTokenOK reports whether r carries token, as a bearer token or as
// a Basic password, compared in constant time.
func adminTokenOK(r *http.Request, token string) bool {
	if _, pass, ok := r.BasicAuth(); ok {
		return subtle.ConstantTimeCompare([]byte(pass), []byte(token)) == 1
	}
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) == 1
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.baseCtx.Done():
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// Status is the node's state as the admin /status endpoint reports it.
type Status struct {
	Name        string                        `json:"name"`
	Role        Role                          `json:"role"`
	MemoryBytes int64                         `json:"memory_bytes"`
	Upstreams   map[string][]lb.BackendStatus `json:"upstreams"`
}

func (s *Server) status() Status {
	st := Status{Name: s.cfg.Name, Role: s.cfg.Role, MemoryBytes: s.mem.Used(), Upstreams: map[string][]lb.BackendStatus{}}
	for _, set := range s.routes.Load().sets {
		st.Upstreams[set.name] = set.pool.Status()
	}
	return st
}
