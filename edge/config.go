// Package edge is the CDN's caching reverse proxy. The same program runs
// as an edge (clients in front, shields or origins behind) and as a shield
// (edges in front, origins behind). It speaks HTTP/1.1 and HTTP/2, keeps
// objects in the cache core's tiers under RFC 9111 rules, collapses
// concurrent misses, and reports what it did in Cache-Status.
package edge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/compress"
	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/httpcache"
	"github.com/selfcdn/cdn/lb"
	"github.com/selfcdn/cdn/quiclb"
)

// Role says which tier a node is.
type Role string

// Roles.
const (
	RoleEdge   Role = "edge"
	RoleShield Role = "shield"
)

// Config is everything one node needs. Build it from a cluster file with
// FromCluster, or by hand (quick mode, tests).
type Config struct {
	// Name identifies the node in Cache-Status, Via, CDN-Loop and logs.
	Name string
	// Role is edge (default) or shield.
	Role Role
	// Listen is the HTTP address (HTTP/1.1 and cleartext HTTP/2).
	Listen string
	// TLSListen serves HTTPS (HTTP/1.1 and h2 over TCP, and HTTP/3 over
	// UDP on the same port unless DisableHTTP3). Certificates come from
	// TLSConfig if set, else from the TLSCert and TLSKey files.
	TLSListen, TLSCert, TLSKey string
	// TLSConfig, if non-nil, provides certificates (GetCertificate or
	// Certificates) for the HTTPS and HTTP/3 listeners.
	TLSConfig *tls.Config
	// WrapHTTP, if set, wraps the handler of the HTTP and HTTPS listeners
	// (ACME uses it to answer HTTP-01 challenges).
	WrapHTTP func(http.Handler) http.Handler
	// DisableHTTP3 turns HTTP/3 off on the TLS address.
	DisableHTTP3 bool
	// QUICLB, if set, makes HTTP/3 issue QUIC-LB connection IDs carrying
	// QUICServerID, so layer-4 balancers route QUIC by connection ID.
	QUICLB       *quiclb.Config
	QUICServerID []byte
	// Allow0RTT accepts QUIC 0-RTT; requests in early data are limited to
	// safe methods (others get 425 Too Early, RFC 8470).
	Allow0RTT bool
	// H3MaxStreams bounds concurrent HTTP/3 streams per connection.
	// Default 256.
	H3MaxStreams int64
	// Admin is the admin listener (/metrics, /healthz, /status); empty
	// means none.
	Admin string
	// AdminToken, if set, is required as a bearer token on the admin
	// listener's /metrics and /status (/healthz stays open).
	AdminToken string
	// Sites are the hostnames served. A site with Host "*" serves every
	// host (quick mode: every request goes to its one origin).
	Sites []Site
	// Origins are the origin pools by name.
	Origins map[string]Pool
	// Shields, for an edge, are the mid-tier nodes misses go to. Empty:
	// misses go to the site's origin.
	Shields []Upstream
	// ShieldPolicy is the consistent hash for shields: maglev (default),
	// rendezvous or bounded_load.
	ShieldPolicy string
	// ShieldHealth configures active checks of shields; zero disables.
	ShieldHealth lb.HealthConfig
	// ShieldOptions and ShieldPassive tune the shields' hash and passive
	// ejection, as Pool.Options and Pool.Passive do for origins.
	ShieldOptions lb.Options
	ShieldPassive lb.PassiveConfig
	// Memory is the memory tier budget in bytes. Default 512 MiB
	// (config.DefaultMemory).
	Memory int64
	// MaxMemoryObject is the largest object kept in memory, and the most
	// of one body a request holds in memory while it arrives. Default
	// 16 MiB (at most Memory/4).
	MaxMemoryObject int64
	// DiskDir enables the disk tier in that folder; empty means memory
	// only.
	DiskDir string
	// DiskSize is the most bytes the disk tier holds. Default 10 GiB.
	DiskSize int64
	// DiskMaxObject is the largest object stored on disk. Default 1 GiB
	// (at most DiskSize/8).
	DiskMaxObject int64
	// ConnectTimeout, HeaderTimeout and IdleTimeout bound upstream
	// connections. Defaults 2s, 30s, 90s.
	ConnectTimeout, HeaderTimeout, IdleTimeout time.Duration
	// AckTimeout fails an upstream connection whose sent data is not
	// acknowledged for this long (TCP_USER_TIMEOUT on Linux), so a shield
	// whose packets are dropped costs a request this long, not the header
	// timeout. Default 2s; negative disables.
	AckTimeout time.Duration
	// BodyIdleTimeout fails an upstream body on which nothing arrives for
	// this long (then a shield's body resumes from the next shield).
	// Default 30s.
	BodyIdleTimeout time.Duration
	// FetchTimeout bounds one upstream fetch from request to the body's
	// last byte, so a slow-drip upstream cannot hold a flight (and the
	// clients waiting on it) forever. Default 10m.
	FetchTimeout time.Duration
	// StreamWindow is what a body that is not stored may buffer ahead of
	// its slowest reader; the upstream is read no faster than that.
	// Default 256 KiB.
	StreamWindow int64
	// MaxFetchesPerConn bounds the upstream fetches one client connection
	// may have in progress; further misses on it wait. Default 32.
	MaxFetchesPerConn int
	// MaxAbandonedPerConn closes a client connection after it has given
	// up this many requests whose fetches it started (HTTP/2 rapid reset).
	// Default 100; negative disables.
	MaxAbandonedPerConn int
	// ClientBodyTimeout fails a request body on which the client sends
	// nothing for this long (nginx's client_body_timeout). Default 60s.
	ClientBodyTimeout time.Duration
	// SendTimeout abandons a response the client does not read for this
	// long (nginx's send_timeout). Default 60s.
	SendTimeout time.Duration
	// MaxConnsPerClient bounds the connections one client address holds
	// on the HTTP and HTTPS listeners. Default 256; negative: no limit.
	MaxConnsPerClient int
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin
	// listener (behind AdminToken when set).
	Pprof bool
	// HTTP1Engine serves the cleartext HTTP/1.1 listener: EngineFast (the
	// default) answers plain hits itself and hands everything else to
	// net/http; EngineStdlib leaves every request to net/http.
	HTTP1Engine string
	// H2MaxStreams bounds concurrent HTTP/2 streams per connection.
	// Default 128.
	H2MaxStreams int
	// MaxIdlePerHost is the keep-alive pool per upstream. Default 256.
	MaxIdlePerHost int
	// TrustedProxies are the peers whose X-Forwarded-For, -Proto, -Host
	// are believed: the cluster's own nodes and the cluster file's
	// trusted_proxies. From anyone else they are replaced by what the
	// node saw itself.
	TrustedProxies []netip.Prefix
	// ProxyProtocolFrom are the layer-4 balancers in front of the node:
	// connections from them must start with a PROXY protocol (v1 or v2)
	// header, whose client address the node then uses as the peer (logs,
	// X-Forwarded-For, ip_hash). A PROXY header from anyone else is
	// refused. Empty: no PROXY protocol.
	ProxyProtocolFrom []netip.Prefix
	// Retries is how many further upstreams an idempotent request tries.
	// Default 2; negative means none.
	Retries int
	// MaxHeaderBytes bounds request headers; larger gets 431. Default 64 KiB.
	MaxHeaderBytes int
	// MaxHeaderCount bounds the number of request header fields; more
	// get 431. Default 101 (HAProxy's).
	MaxHeaderCount int
	// DisableCompression turns off compressed variants (edges only; shields
	// never compress).
	DisableCompression bool
	// Compression tunes which responses are compressed and at which
	// levels; the zero value is compress's defaults.
	Compression compress.Config
	// AccessLog writes one JSON line per request to Logger.
	AccessLog bool
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives metrics; nil registers none (a private registry
	// still serves the admin /metrics).
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Site is one served hostname with its caching policy.
type Site struct {
	// Host is the canonical hostname (the cache key uses it, so aliases
	// share objects); "*" matches any host.
	Host string
	// Aliases are further hostnames of the site.
	Aliases []string
	// Origin names a pool in Config.Origins.
	Origin string
	// Policy is the RFC 9111 policy knobs.
	Policy httpcache.Policy
	// Key shapes the cache key.
	Key cache.KeyOptions
	// ForwardHeaders are URL- or method-override request fields
	// (X-Original-URL, X-HTTP-Method-Override, X-Forwarded-Port, ...) sent
	// upstream for this site; by default they are dropped, since they are
	// not part of the cache key.
	ForwardHeaders []string
	// Slice, when positive, is the size of the aligned parts in which
	// ranges of objects not stored whole are fetched and stored (slice.go);
	// 0 turns slicing off. At most MaxMemoryObject.
	Slice int64
}

// Pool is an origin pool.
type Pool struct {
	// Policy is an lb policy name; default round_robin.
	Policy string
	// Servers are the pool's members.
	Servers []Upstream
	// Health configures active checks; zero Path disables them.
	Health lb.HealthConfig
	// HostHeader, when set, replaces the Host sent upstream.
	HostHeader string
	// Options tunes the hashing policies (zero: lb's defaults).
	Options lb.Options
	// Passive ejects a server after consecutive failures. Zero MaxFails
	// means 3, -1 turns ejection off; zero CoolDown means 10s.
	Passive lb.PassiveConfig
}

// Upstream is one server behind the node.
type Upstream struct {
	// Name identifies it (consistent hashing, metrics). Default: URL.
	Name string
	// URL is its base URL, http://host:port.
	URL string
	// Weight for weighted policies; default 1.
	Weight int
	// MaxConns caps requests in flight; 0 means no cap.
	MaxConns int
	// HealthAddr is where active health probes go (host:port); empty
	// means the URL's host. Shields are probed on their admin listener.
	HealthAddr string
}

// Defaults of the limits that protect a node from its clients.
const (
	DefaultMaxFetchesPerConn   = config.DefaultMaxFetchesPerConn
	DefaultMaxAbandonedPerConn = config.DefaultMaxAbandonedPerConn
	DefaultH2MaxStreams        = config.DefaultH2MaxStreams
	DefaultFetchTimeout        = time.Duration(config.DefaultFetchTimeout)
	DefaultStreamWindow        = int64(config.DefaultStreamWindow)
	DefaultBodyIdleTimeout     = time.Duration(config.DefaultBodyIdleTimeout)
)

func (c *Config) applyDefaults() {
	if c.Role == "" {
		c.Role = RoleEdge
	}
	if c.Name == "" {
		c.Name = string(c.Role)
	}
	// The cluster file's defaults (config.Default*) are the only ones.
	if c.Memory == 0 {
		c.Memory = int64(config.DefaultMemory)
	}
	if c.MaxMemoryObject == 0 {
		c.MaxMemoryObject = min(int64(config.DefaultMaxMemoryObject), c.Memory/4)
	}
	for i := range c.Sites {
		// A slice is held in memory whole.
		c.Sites[i].Slice = min(c.Sites[i].Slice, c.MaxMemoryObject)
	}
	if c.DiskDir != "" {
		if c.DiskSize == 0 {
			c.DiskSize = int64(config.DefaultDiskSize)
		}
		if c.DiskMaxObject == 0 {
			c.DiskMaxObject = min(int64(config.DefaultDiskMaxObject), c.DiskSize/8)
		}
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 2 * time.Second
	}
	if c.HeaderTimeout == 0 {
		c.HeaderTimeout = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 90 * time.Second
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = time.Duration(config.DefaultAckTimeout)
	}
	if c.BodyIdleTimeout == 0 {
		c.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if c.MaxIdlePerHost == 0 {
		c.MaxIdlePerHost = 256
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.StreamWindow == 0 {
		c.StreamWindow = DefaultStreamWindow
	}
	if c.MaxFetchesPerConn == 0 {
		c.MaxFetchesPerConn = DefaultMaxFetchesPerConn
	}
	if c.MaxAbandonedPerConn == 0 {
		c.MaxAbandonedPerConn = DefaultMaxAbandonedPerConn
	}
	if c.H2MaxStreams == 0 {
		c.H2MaxStreams = DefaultH2MaxStreams
	}
	if c.ClientBodyTimeout == 0 {
		c.ClientBodyTimeout = time.Duration(config.DefaultClientBodyTimeout)
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = time.Duration(config.DefaultSendTimeout)
	}
	if c.MaxConnsPerClient == 0 {
		c.MaxConnsPerClient = config.DefaultMaxConnsPerClient
	}
	if c.Retries == 0 {
		c.Retries = 2
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.H3MaxStreams == 0 {
		c.H3MaxStreams = 256
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = int(config.DefaultMaxHeaderBytes)
	}
	if c.MaxHeaderCount == 0 {
		c.MaxHeaderCount = config.DefaultMaxHeaderCount
	}
	if c.ShieldPolicy == "" {
		c.ShieldPolicy = lb.PolicyMaglev
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem with its field path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, f string, a ...any) { errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(f, a...))) }
	if c.Listen == "" && c.TLSListen == "" {
		bad("listen", "an HTTP or HTTPS listen address is required")
	}
	if e := c.HTTP1Engine; e != "" && e != EngineFast && e != EngineStdlib {
		bad("http1_engine", "must be %s or %s, got %q", EngineFast, EngineStdlib, e)
	}
	if c.TLSListen != "" && c.TLSConfig == nil && (c.TLSCert == "" || c.TLSKey == "") {
		bad("tls", "tls listen address given without certificate and key")
	}
	if c.Role != RoleEdge && c.Role != RoleShield {
		bad("role", "must be edge or shield, got %q", c.Role)
	}
	if len(c.Sites) == 0 {
		bad("sites", "at least one site is required")
	}
	for i, s := range c.Sites {
		if s.Host == "" {
			bad(fmt.Sprintf("sites[%d].host", i), "missing")
		}
		if _, ok := c.Origins[s.Origin]; !ok {
			bad(fmt.Sprintf("sites[%d].origin", i), "no origin pool named %q", s.Origin)
		}
	}
	for name, p := range c.Origins {
		if len(p.Servers) == 0 {
			bad("origins."+name+".servers", "at least one server is required")
		}
		for j, s := range p.Servers {
			if err := checkURL(s.URL); err != nil {
				bad(fmt.Sprintf("origins.%s.servers[%d].url", name, j), "%v", err)
			}
		}
	}
	for i, s := range c.Shields {
		if err := checkURL(s.URL); err != nil {
			bad(fmt.Sprintf("shields[%d].url", i), "%v", err)
		}
	}
	if c.Memory < 1<<20 {
		bad("memory", "must be at least 1MiB")
	}
	return errors.Join(errs...)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("not an http:// or https:// URL: %q", s)
	}
	return nil
}

// FromCluster builds the Config of the named edge or shield node from a
// loaded cluster file.
func FromCluster(cl *config.Cluster, node string) (Config, error) {
	info, err := cl.FindNode(node)
	if err != nil {
		return Config{}, err
	}
	var role Role
	switch info.Role {
	case config.RoleEdge:
		role = RoleEdge
	case config.RoleShield:
		role = RoleShield
	default:
		return Config{}, fmt.Errorf("node %q has role %s, not edge or shield", node, info.Role)
	}
	hostPort := func(addr string, port int) string {
		if strings.Contains(addr, ":") {
			return fmt.Sprintf("[%s]:%d", addr, port)
		}
		return fmt.Sprintf("%s:%d", addr, port)
	}
	c := Config{
		Name:            node,
		Role:            role,
		Listen:          hostPort(info.Address, cl.Ports.HTTP),
		Admin:           hostPort(info.Address, cl.Ports.Admin),
		Memory:          int64(cl.Cache.Memory),
		MaxMemoryObject: int64(cl.Cache.MaxMemoryObject),
		ConnectTimeout:  cl.Upstream.ConnectTimeout.D(),
		HeaderTimeout:   cl.Upstream.HeaderTimeout.D(),
		IdleTimeout:     cl.Upstream.IdleTimeout.D(),
		AckTimeout:      cl.Upstream.AckTimeout.D(),
		MaxIdlePerHost:  cl.Upstream.MaxIdlePerHost,
		Retries:         cl.Upstream.Retries,
		FetchTimeout:    cl.Limits.FetchTimeout.D(),
		BodyIdleTimeout: cl.Limits.BodyIdleTimeout.D(),
		StreamWindow:    int64(cl.Limits.StreamWindow),
		H2MaxStreams:    cl.Limits.H2MaxStreams,
		HTTP1Engine:     cl.Ports.HTTPEngine,
		Pprof:           cl.Admin.Pprof,

		MaxHeaderBytes:      int(cl.Limits.MaxHeaderBytes),
		ClientBodyTimeout:   cl.Limits.ClientBodyTimeout.D(),
		SendTimeout:         cl.Limits.SendTimeout.D(),
		MaxConnsPerClient:   cl.Limits.MaxConnsPerClient,
		MaxHeaderCount:      cl.Limits.MaxHeaderCount,
		MaxFetchesPerConn:   cl.Limits.MaxFetchesPerConn,
		MaxAbandonedPerConn: cl.Limits.MaxAbandonedPerConn,
		ShieldPolicy:        cl.Shields.Policy,
		ShieldOptions:       lbOptions(cl.Shields.Balancing),
		ShieldPassive:       passiveConfig(cl.Shields.Passive),
		Origins:             map[string]Pool{},
		AccessLog:           true,
	}
	if cl.Cache.Disk.Path != "" {
		c.DiskDir = filepath.Join(cl.Cache.Disk.Path, node)
		c.DiskSize = int64(cl.Cache.Disk.Size)
		c.DiskMaxObject = int64(cl.Cache.Disk.MaxObject)
	}
	for _, s := range cl.Sites {
		c.Sites = append(c.Sites, Site{
			Host:    s.Host,
			Aliases: s.Aliases,
			Origin:  s.Origin,
			Policy: httpcache.Policy{
				CacheSetCookie:        s.Cache.CacheSetCookie,
				DefaultTTL:            s.Cache.DefaultTTL.D(),
				MaxHeuristic:          s.Cache.MaxHeuristic.D(),
				IgnoreCDNCacheControl: s.Cache.IgnoreCDNCacheControl,
				StaleOnError:          s.Cache.StaleOnError.D(),
			},
			Key:            cache.KeyOptions{IgnoreQuery: s.Cache.IgnoreQuery, SortQuery: s.Cache.SortQuery},
			ForwardHeaders: s.ForwardHeaders,
			Slice:          sliceSize(s.Cache),
		})
	}
	c.TrustedProxies = trustedPrefixes(cl)
	if cl.L4.ProxyProtocol != "off" {
		for _, p := range cl.PoPs {
			for _, b := range p.Balancers {
				if a, err := netip.ParseAddr(b.Address); err == nil {
					a = a.Unmap()
					c.ProxyProtocolFrom = append(c.ProxyProtocolFrom, netip.PrefixFrom(a, a.BitLen()))
				}
			}
		}
	}
	if cl.Admin.Bind != "" {
		c.Admin = hostPort(cl.Admin.Bind, cl.Ports.Admin)
	}
	if cl.Admin.Protect {
		c.AdminToken = cl.AdminToken()
		if c.AdminToken == "" {
			return Config{}, fmt.Errorf("admin.protect: %w", config.ErrNoToken)
		}
	}
	for name, o := range cl.Origins {
		p := Pool{Policy: o.Policy, HostHeader: o.HostHeader, Health: healthConfig(o.Health),
			Options: lbOptions(o.Balancing), Passive: passiveConfig(o.Passive)}
		for _, s := range o.Servers {
			p.Servers = append(p.Servers, Upstream{Name: s.URL, URL: s.URL, Weight: s.Weight, MaxConns: s.MaxConns})
		}
		c.Origins[name] = p
	}
	if cl.TLS.SelfSigned || len(cl.TLS.Certificates) > 0 || cl.TLS.ACME != nil {
		// The caller supplies TLSConfig (see ClusterTLS).
		c.TLSListen = tlsAddr(cl, info.Address)
		c.DisableHTTP3 = !*cl.TLS.HTTP3
		c.Allow0RTT = cl.TLS.Allow0RTT
	}
	if q := cl.L4.QUICLB; q.Enabled && role == RoleEdge {
		if id, ok := cl.QUICServerID(node); ok {
			c.QUICLB = &quiclb.Config{ConfigID: q.ConfigID, ServerIDLen: q.ServerIDLen, NonceLen: q.NonceLen}
			c.QUICServerID = id
		}
	}
	if role == RoleEdge {
		for _, s := range cl.Shields.Nodes {
			// Probed on the port that serves traffic, so a data port that
			// drops packets takes the shield out even while its admin
			// port answers.
			c.Shields = append(c.Shields, Upstream{Name: s.Name, URL: "http://" + hostPort(s.Address, cl.Ports.HTTP)})
		}
		c.ShieldHealth = healthConfig(cl.Shields.Health)
	}
	return c, nil
}

func healthConfig(h config.HealthCheck) lb.HealthConfig {
	if h.Path == "" {
		return lb.HealthConfig{}
	}
	return lb.HealthConfig{
		Path:     h.Path,
		Interval: h.Interval.D(),
		Timeout:  h.Timeout.D(),
		Rise:     h.Rise,
		Fall:     h.Fall,
	}
}

// QuickConfig is the configuration of a single edge in front of one
// origin (cdn edge --listen ADDR --origin URL): every request, whatever its
// Host, goes to that origin. It is not an open proxy: the origin is fixed.
func QuickConfig(name, listen, origin string) Config {
	return Config{
		Name:    name,
		Role:    RoleEdge,
		Listen:  listen,
		Sites:   []Site{{Host: "*", Origin: "origin", Slice: int64(config.DefaultSliceSize)}},
		Origins: map[string]Pool{"origin": {Policy: lb.PolicyRoundRobin, Servers: []Upstream{{Name: "origin", URL: origin}}}},
	}
}

// sliceSize is a site's slice size, 0 when slicing is off.
func sliceSize(c config.SiteCache) int64 {
	if !c.SlicesOn() {
		return 0
	}
	if c.SliceSize == 0 {
		return int64(config.DefaultSliceSize)
	}
	return int64(c.SliceSize)
}

// trustedPrefixes are the cluster's own nodes (edges, shields, balancers)
// and its trusted_proxies.
func trustedPrefixes(cl *config.Cluster) []netip.Prefix {
	var out []netip.Prefix
	add := func(addr string) {
		if a, err := netip.ParseAddr(addr); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	for _, p := range cl.PoPs {
		for _, e := range p.Edges {
			add(e.Address)
		}
	}
	for _, n := range cl.Shields.Nodes {
		add(n.Address)
	}
	for _, c := range cl.TrustedProxies {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		} else {
			add(c)
		}
	}
	return out
}

// lbOptions carries a pool's balancing section to the lb package.
func lbOptions(b config.Balancing) lb.Options {
	return lb.Options{TableSize: uint64(b.TableSize), VirtualNodes: b.VirtualNodes, LoadFactor: b.LoadFactor,
		IPv4PrefixLen: b.IPv4Prefix, IPv6PrefixLen: b.IPv6Prefix}
}

// passiveConfig carries a pool's passive section (-1 max_fails is off).
func passiveConfig(p config.Passive) lb.PassiveConfig {
	return lb.PassiveConfig{MaxFails: p.MaxFails, CoolDown: p.CoolDown.D()}
}
