// Package fwdproxy is the forward proxy role: an explicit HTTP/1.1 (and
// HTTP/2) proxy that acts for its clients. Absolute-form requests for
// http:// URLs go through the shared cache core with RFC 9111 rules;
// CONNECT opens tunnels with zero-copy forwarding. Ordered access rules
// (first match wins) decide who may go where, Basic authentication checks
// an htpasswd file of bcrypt hashes, and every destination is checked
// after DNS, at the address actually dialled, so that loopback, private and
// other special addresses are reached only where a rule names them.
package fwdproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/httpcache"
)

// Defaults of Config.
const (
	DefaultName              = "fwdproxy"
	DefaultRealm             = "proxy"
	DefaultAuthFailures      = 10
	DefaultAuthWindow        = time.Minute
	DefaultDialTimeout       = 5 * time.Second
	DefaultHeaderTimeout     = 30 * time.Second
	DefaultMaxConnsPerClient = 256
	DefaultMaxTunnels        = 10000
	DefaultTunnelIdleTimeout = 5 * time.Minute
)

// DefaultRules are used when Config.Rules is empty: clients on loopback
// may use the proxy (CONNECT to port 443 only, since the rule names no
// ports); everyone else is denied.
func DefaultRules() []Rule {
	return []Rule{{
		Action:  "allow",
		Clients: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	}}
}

// Config configures a Proxy. The zero value of every field but Rules is
// its default; a nil Rules means DefaultRules.
type Config struct {
	// Name identifies the proxy in Cache-Status and, where a rule adds
	// forwarding headers, in Via. Default "fwdproxy".
	Name string
	// Rules are the access rules, first match wins; a request no rule
	// matches is denied. Nil: DefaultRules.
	Rules []Rule
	// Groups maps group names to user names, for Rule.Groups.
	Groups map[string][]string
	// Htpasswd is the path of an htpasswd file with bcrypt hashes. When set,
	// every request needs valid Proxy-Authorization (Basic); the file is
	// re-read when it changes.
	Htpasswd string
	// Realm is sent in Proxy-Authenticate. Default "proxy".
	Realm string
	// AuthFailures is how many failed authentications one client address
	// may make per AuthWindow before it gets 429. Default 10; negative: no
	// limit.
	AuthFailures int
	// AuthWindow is the period AuthFailures counts over. Default 1m.
	AuthWindow time.Duration
	// Resolver looks up destination names. If nil, net.DefaultResolver.
	Resolver Resolver
	// Dial connects to checked addresses. If nil, a net.Dialer whose
	// Control hook refuses special addresses once more.
	Dial DialFunc
	// DialTimeout bounds resolving and connecting. Default 5s.
	DialTimeout time.Duration
	// HeaderTimeout bounds the wait for an upstream's response header.
	// Default 30s.
	HeaderTimeout time.Duration
	// Cache stores cacheable responses to absolute-form GET requests. If
	// nil, nothing is cached. The proxy does not close it.
	Cache *cache.Memory
	// CachePolicy holds RFC 9111 knobs (heuristics, Set-Cookie).
	CachePolicy httpcache.Policy
	// KeyOptions shape cache keys.
	KeyOptions cache.KeyOptions
	// MaxConnsPerClient caps open connections from one client address;
	// more are closed at accept. Default 256; negative: no cap.
	MaxConnsPerClient int
	// MaxTunnels caps open CONNECT tunnels; more get 503. Default 10000;
	// negative: no cap.
	MaxTunnels int
	// TunnelIdleTimeout closes a tunnel that carried no byte either way
	// for this long (checked once per period, so closing happens between
	// one and two periods after the last byte). Default 5m.
	TunnelIdleTimeout time.Duration
	// PACProxy is the host:port the PAC file at /proxy.pac tells browsers
	// to use. Default: the Host of the request for the PAC file.
	PACProxy string
	// PACDirect are hosts browsers reach without the proxy ("intranet",
	// ".corp.example.com"); plain host names always go direct.
	PACDirect []string
	// Logger receives operational messages and denials. If nil, discarded.
	Logger *slog.Logger
	// AccessLog receives one JSON-ready record per request or tunnel
	// (user, client, destination, method, status, bytes, duration). If nil,
	// none is written.
	AccessLog *slog.Logger
	// Registerer receives the proxy's metrics. If nil, none are registered.
	Registerer prometheus.Registerer
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
}

func (c *Config) applyDefaults() {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Rules == nil {
		c.Rules = DefaultRules()
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.AuthFailures == 0 {
		c.AuthFailures = DefaultAuthFailures
	}
	if c.AuthWindow <= 0 {
		c.AuthWindow = DefaultAuthWindow
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = DefaultHeaderTimeout
	}
	if c.MaxConnsPerClient == 0 {
		c.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if c.MaxTunnels == 0 {
		c.MaxTunnels = DefaultMaxTunnels
	}
	if c.TunnelIdleTimeout <= 0 {
		c.TunnelIdleTimeout = DefaultTunnelIdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Proxy is a forward proxy. It is an http.Handler; Serve runs it on a
// listener with the per-client connection limit.
type Proxy struct {
	cfg       Config
	rules     atomic.Pointer[ruleSet]
	groups    atomic.Pointer[map[string][]string]
	auth      *htpasswd // nil without Config.Htpasswd
	fails     *failLimiter
	transport *http.Transport
	m         *metrics
	tunnels   atomic.Int64

	flights flights // misses in progress, for collapsing

	selfMu sync.RWMutex // guards self
	self   []netip.AddrPort

	mu      sync.Mutex // guards servers, open, closed
	servers []*http.Server
	open    map[io.Closer]struct{} // hijacked tunnels, closed by Close
	closed  bool
}

// New returns a proxy for cfg.
func New(cfg Config) (*Proxy, error) {
	cfg.applyDefaults()
	p := &Proxy{cfg: cfg, open: map[io.Closer]struct{}{}}
	if err := p.Reload(cfg.Rules, cfg.Groups); err != nil {
		return nil, err
	}
	if cfg.Htpasswd != "" {
		h, err := newHtpasswd(cfg.Htpasswd, cfg.Now)
		if err != nil {
			return nil, err
		}
		p.auth = h
	}
	p.fails = newFailLimiter(cfg.AuthFailures, cfg.AuthWindow, cfg.Now)
	if p.cfg.Dial == nil {
		p.cfg.Dial = p.netDialer()
	}
	p.transport = &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			// addr is the literal checked by resolve (see forward).
			ap, err := netip.ParseAddrPort(addr)
			if err != nil {
				return nil, fmt.Errorf("dial %s: not a checked address", addr)
			}
			r, _ := ctx.Value(dialKey{}).(*compiledRule)
			if c := Special(ap.Addr()); c != "" && !r.allowsPrivate(ap.Addr()) {
				return nil, &denial{status: 403, reason: fmt.Sprintf("dial %s: %s address refused", addr, c)}
			}
			return p.cfg.Dial(ctx, ap)
		},
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
	p.m = newMetrics(cfg.Registerer, p)
	return p, nil
}

// Reload replaces the access rules and groups atomically; requests already
// past their rule check keep the rules they were checked with. On error
// the old rules stay.
func (p *Proxy) Reload(rules []Rule, groups map[string][]string) error {
	if rules == nil {
		rules = DefaultRules()
	}
	rs, err := compileRules(rules)
	if err != nil {
		return fmt.Errorf("access rules: %w", err)
	}
	g := map[string][]string{}
	for k, v := range groups {
		g[k] = append([]string(nil), v...)
	}
	p.rules.Store(rs)
	p.groups.Store(&g)
	if p.m != nil {
		p.m.reloads.Inc()
	}
	return nil
}

// ReloadUsers re-reads the htpasswd file now (it is also re-read on its own
// when it changes).
func (p *Proxy) ReloadUsers() error {
	if p.auth == nil {
		return nil
	}
	return p.auth.reload()
}

// Serve accepts connections on ln until Close. Connections beyond
// MaxConnsPerClient from one address are closed at once.
func (p *Proxy) Serve(ln net.Listener) error {
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		p.selfMu.Lock()
		p.self = append(p.self, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		p.selfMu.Unlock()
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, for HTTP/2 CONNECT
	hs := &http.Server{
		Handler:           p,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(p.cfg.Logger.Handler(), slog.LevelDebug),
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return http.ErrServerClosed
	}
	p.servers = append(p.servers, hs)
	p.mu.Unlock()
	return hs.Serve(&limitListener{Listener: ln, p: p, per: map[netip.Addr]int{}})
}

// Close stops every server started by Serve and closes open tunnels.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	servers := p.servers
	open := p.open
	p.open = map[io.Closer]struct{}{}
	p.mu.Unlock()
	for _, s := range servers {
		s.Close()
	}
	for c := range open {
		c.Close()
	}
	p.transport.CloseIdleConnections()
	return nil
}

// track registers a hijacked connection for Close; it returns false if the
// proxy is closing.
func (p *Proxy) track(c io.Closer, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !on {
		delete(p.open, c)
		return true
	}
	if p.closed {
		return false
	}
	p.open[c] = struct{}{}
	return true
}

// access is one access-log record, filled as the request proceeds.
type access struct {
	start  time.Time
	user   string
	client string
	dest   string
	method string
	status int
	bytes  int64 // to the client
	up     int64 // from the client, tunnels only
	cache  string
	reason string
	rule   int
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := &access{start: p.cfg.Now(), method: r.Method, rule: -1}
	defer p.logAccess(a)
	client := clientAddr(r.RemoteAddr)
	a.client = client.String()

	if r.Method != http.MethodConnect && !r.URL.IsAbs() {
		if r.URL.Path == "/proxy.pac" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			a.dest, a.status = "/proxy.pac", 200
			a.bytes = p.servePAC(w, r)
			return
		}
		p.refuse(w, a, http.StatusBadRequest, "this is a forward proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port")
		return
	}
	var t Target
	var err error
	if r.Method == http.MethodConnect {
		authority := r.Host
		if r.ProtoMajor == 1 {
			authority = r.RequestURI
		}
		t, err = ParseAuthority(authority)
		a.dest = authority
	} else {
		t, err = parseAbsolute(r.URL)
		a.dest = r.URL.Redacted()
	}
	if err != nil {
		p.refuse(w, a, http.StatusBadRequest, err.Error())
		return
	}
	if p.looped(r.Header) {
		p.refuse(w, a, http.StatusLoopDetected, "request already passed through this proxy (loop)")
		return
	}
	q := &request{client: client, target: t, method: r.Method}
	if p.auth != nil {
		if p.fails.blocked(client) {
			p.m.limits.WithLabelValues("auth_failures").Inc()
			p.refuse(w, a, http.StatusTooManyRequests, "too many failed authentication attempts; try again later")
			return
		}
		if err := p.auth.maybeReload(); err != nil {
			p.cfg.Logger.Warn("htpasswd reload failed, keeping the previous users", "err", err)
		}
		user, pass, ok := parseBasic(r.Header.Get("Proxy-Authorization"))
		if !ok || !p.auth.verify(user, pass) {
			if ok {
				p.fails.fail(client)
				p.m.authFailures.Inc()
				a.user = user
			}
			w.Header().Set("Proxy-Authenticate", `Basic realm="`+p.cfg.Realm+`", charset="UTF-8"`)
			p.refuse(w, a, http.StatusProxyAuthRequired, "proxy authentication required")
			return
		}
		q.user, a.user = user, user
		for g, members := range *p.groups.Load() {
			for _, m := range members {
				if m == user {
					q.groups = append(q.groups, g)
					break
				}
			}
		}
	}
	v := p.rules.Load().match(q)
	if v.rule != nil {
		a.rule = v.rule.index
	}
	if !v.allow {
		p.cfg.Logger.Info("request denied", "client", a.client, "user", q.user, "method", r.Method, "dest", t.Authority(), "reason", v.reason, "rule", a.rule)
		p.m.denied.WithLabelValues("rule").Inc()
		p.refuse(w, a, http.StatusForbidden, v.reason)
		return
	}
	if r.Method == http.MethodConnect {
		p.tunnel(w, r, t, v.rule, a)
		return
	}
	p.forward(w, r, t, v.rule, a)
}

// looped reports whether the request carries this proxy's own Via entry.
func (p *Proxy) looped(h http.Header) bool {
	for _, v := range h.Values("Via") {
		for _, hop := range strings.Split(v, ",") {
			f := strings.Fields(hop)
			if len(f) >= 2 && strings.EqualFold(f[1], p.cfg.Name) {
				return true
			}
		}
	}
	return false
}

// refuse answers with status and a one-line reason.
func (p *Proxy) refuse(w http.ResponseWriter, a *access, status int, reason string) {
	a.status, a.reason = status, reason
	body := fmt.Sprintf("%d %s: %s\n", status, http.StatusText(status), reason)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if status >= 400 && status != http.StatusProxyAuthRequired {
		h.Set("Connection", "close")
	}
	w.WriteHeader(status)
	n, _ := io.WriteString(w, body)
	a.bytes = int64(n)
	p.m.responses.WithLabelValues(statusClass(status)).Inc()
}

// fail turns an error of resolve, dial or the upstream into a response.
func (p *Proxy) fail(w http.ResponseWriter, a *access, t Target, err error) {
	var d *denial
	if errors.As(err, &d) {
		if d.status == http.StatusForbidden || d.status == http.StatusLoopDetected {
			p.cfg.Logger.Info("request denied", "client", a.client, "user", a.user, "method", a.method, "dest", t.Authority(), "reason", d.reason)
			p.m.denied.WithLabelValues("address").Inc()
		}
		p.refuse(w, a, d.status, d.reason)
		return
	}
	p.m.upstreamErrors.Inc()
	status := http.StatusBadGateway
	if errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	p.cfg.Logger.Debug("upstream failed", "dest", t.Authority(), "err", err)
	p.refuse(w, a, status, fmt.Sprintf("cannot reach %s", t.Authority()))
}

func (p *Proxy) logAccess(a *access) {
	switch a.method {
	case http.MethodGet:
		p.m.get.Inc()
	case http.MethodConnect:
		p.m.connect.Inc()
	default:
		p.m.requests.WithLabelValues(a.method).Inc()
	}
	if p.cfg.AccessLog == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("user", a.user),
		slog.String("client", a.client),
		slog.String("dest", a.dest),
		slog.String("method", a.method),
		slog.Int("status", a.status),
		slog.Int64("bytes", a.bytes),
		slog.Float64("duration_ms", float64(p.cfg.Now().Sub(a.start).Microseconds())/1000),
	}
	if a.up > 0 {
		attrs = append(attrs, slog.Int64("bytes_up", a.up))
	}
	if a.cache != "" {
		attrs = append(attrs, slog.String("cache", a.cache))
	}
	if a.rule >= 0 {
		attrs = append(attrs, slog.Int("rule", a.rule))
	}
	if a.reason != "" {
		attrs = append(attrs, slog.String("reason", a.reason))
	}
	p.cfg.AccessLog.LogAttrs(context.Background(), slog.LevelInfo, "access", attrs...)
}

func clientAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func statusClass(s int) string {
	return fmt.Sprintf("%dxx", s/100)
}

// Status is what the proxy's status page shows.
type Status struct {
	TunnelsOpen int64
	Rules       []Rule
}

// Status returns the proxy's current rules and open tunnels.
func (p *Proxy) Status() Status {
	st := Status{TunnelsOpen: p.tunnels.Load()}
	if rs := p.rules.Load(); rs != nil {
		for _, r := range rs.rules {
			st.Rules = append(st.Rules, r.Rule)
		}
	}
	return st
}
