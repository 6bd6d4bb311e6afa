package config

import (
	"strings"
	"time"
)

// Defaults applied by ApplyDefaults; docs/CONFIG.md lists them too.
const (
	DefaultHTTPPort        = 80
	DefaultHTTPSPort       = 443
	DefaultAdminPort       = 9090
	DefaultHTTPEngine      = "fast"
	DefaultDNSPort         = 53
	DefaultMemory          = ByteSize(512 << 20)
	DefaultMaxMemoryObject = ByteSize(16 << 20)
	DefaultDiskSize        = ByteSize(10 << 30)
	DefaultDiskMaxObject   = ByteSize(1 << 30)
	DefaultTokenEnv        = "CDN_ADMIN_TOKEN"
	DefaultStream          = "CDN_PURGE"
	DefaultNATSListen      = "127.0.0.1:4222"

	DefaultMaxFetchesPerConn   = 32
	DefaultMaxAbandonedPerConn = 100
	DefaultH2MaxStreams        = 128
	DefaultFetchTimeout        = Duration(10 * time.Minute)
	DefaultBodyIdleTimeout     = Duration(30 * time.Second)
	DefaultStreamWindow        = ByteSize(256 << 10)
	DefaultMaxHeaderBytes      = ByteSize(64 << 10)
	DefaultMaxHeaderCount      = 101
	DefaultClientBodyTimeout   = Duration(60 * time.Second)
	DefaultSendTimeout         = Duration(60 * time.Second)
	DefaultMaxConnsPerClient   = 256
	DefaultAckTimeout          = Duration(2 * time.Second)
	DefaultStaleOnError        = Duration(time.Hour)
	DefaultSliceSize           = ByteSize(1 << 20)
	DefaultACMEStorage         = "cdn-acme"
	DefaultTableSize           = 65537
	DefaultVirtualNodes        = 100
	DefaultLoadFactor          = 0.25
	DefaultIPv4Prefix          = 32
	DefaultIPv6Prefix          = 64
	DefaultPassiveMaxFails     = 3
	DefaultPassiveCoolDown     = Duration(10 * time.Second)
	// DefaultShieldHealthPath is answered by every edge and shield on its
	// HTTP port, before routing, so shields are probed where they serve.
	DefaultShieldHealthPath = "/.well-known/cdn-healthz"
)

// ApplyDefaults fills every unset field with its documented default.
func (c *Cluster) ApplyDefaults() {
	if c.Zone != "" && !strings.HasSuffix(c.Zone, ".") {
		c.Zone += "."
	}
	c.Zone = strings.ToLower(c.Zone)
	for i := range c.Sites {
		s := &c.Sites[i]
		s.Host = strings.ToLower(strings.TrimSuffix(s.Host, "."))
		for j := range s.Aliases {
			s.Aliases[j] = strings.ToLower(strings.TrimSuffix(s.Aliases[j], "."))
		}
		if s.Cache.MaxHeuristic == 0 {
			s.Cache.MaxHeuristic = Duration(24 * time.Hour)
		}
		if s.Cache.StaleOnError == 0 {
			s.Cache.StaleOnError = DefaultStaleOnError
		}
		if s.Cache.Slices == nil {
			on := true
			s.Cache.Slices = &on
		}
		if s.Cache.SliceSize == 0 {
			s.Cache.SliceSize = DefaultSliceSize
		}
	}
	for name, o := range c.Origins {
		if o.Policy == "" {
			o.Policy = "round_robin"
		}
		o.Balancing.applyDefaults()
		o.Passive.applyDefaults()
		for j := range o.Servers {
			if o.Servers[j].Weight == 0 {
				o.Servers[j].Weight = 1
			}
		}
		o.Health.applyDefaults("")
		c.Origins[name] = o
	}
	if c.Shields.Policy == "" {
		c.Shields.Policy = "maglev"
	}
	c.Shields.Balancing.applyDefaults()
	c.Shields.Passive.applyDefaults()
	c.Shields.Health.applyDefaults(DefaultShieldHealthPath)
	for i := range c.PoPs {
		if c.PoPs[i].Weight == 0 {
			c.PoPs[i].Weight = 1
		}
	}
	if c.Ports.HTTP == 0 {
		c.Ports.HTTP = DefaultHTTPPort
	}
	if c.Ports.HTTPS == 0 {
		c.Ports.HTTPS = DefaultHTTPSPort
	}
	if c.Ports.HTTPEngine == "" {
		c.Ports.HTTPEngine = DefaultHTTPEngine
	}
	if c.Ports.Admin == 0 {
		c.Ports.Admin = DefaultAdminPort
	}
	if c.Cache.Memory == 0 {
		c.Cache.Memory = DefaultMemory
	}
	if c.Cache.MaxMemoryObject == 0 {
		c.Cache.MaxMemoryObject = DefaultMaxMemoryObject
	}
	// The disk sizes are filled in even without a path, so `cdn config`
	// shows what a path alone would get.
	if c.Cache.Disk.Size == 0 {
		c.Cache.Disk.Size = DefaultDiskSize
	}
	if c.Cache.Disk.MaxObject == 0 {
		c.Cache.Disk.MaxObject = DefaultDiskMaxObject
	}
	u := &c.Upstream
	if u.ConnectTimeout == 0 {
		u.ConnectTimeout = Duration(2 * time.Second)
	}
	if u.HeaderTimeout == 0 {
		u.HeaderTimeout = Duration(30 * time.Second)
	}
	if u.IdleTimeout == 0 {
		u.IdleTimeout = Duration(90 * time.Second)
	}
	if u.AckTimeout == 0 {
		u.AckTimeout = DefaultAckTimeout
	}
	if u.MaxIdlePerHost == 0 {
		u.MaxIdlePerHost = 256
	}
	if u.Retries == 0 {
		u.Retries = 2
	}
	l := &c.Limits
	if l.MaxFetchesPerConn == 0 {
		l.MaxFetchesPerConn = DefaultMaxFetchesPerConn
	}
	if l.MaxAbandonedPerConn == 0 {
		l.MaxAbandonedPerConn = DefaultMaxAbandonedPerConn
	}
	if l.H2MaxStreams == 0 {
		l.H2MaxStreams = DefaultH2MaxStreams
	}
	if l.FetchTimeout == 0 {
		l.FetchTimeout = DefaultFetchTimeout
	}
	if l.BodyIdleTimeout == 0 {
		l.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if l.StreamWindow == 0 {
		l.StreamWindow = DefaultStreamWindow
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderCount == 0 {
		l.MaxHeaderCount = DefaultMaxHeaderCount
	}
	if l.ClientBodyTimeout == 0 {
		l.ClientBodyTimeout = DefaultClientBodyTimeout
	}
	if l.SendTimeout == 0 {
		l.SendTimeout = DefaultSendTimeout
	}
	if l.MaxConnsPerClient == 0 {
		l.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	g := &c.GeoDNS
	if g.Port == 0 {
		g.Port = DefaultDNSPort
	}
	if g.TTL == 0 {
		g.TTL = Duration(30 * time.Second)
	}
	if g.NegativeTTL == 0 {
		g.NegativeTTL = Duration(60 * time.Second)
	}
	if g.MaxAnswers == 0 {
		g.MaxAnswers = 2
	}
	if g.Admin == 0 {
		g.Admin = c.Ports.Admin
	}
	if g.Answer == "" {
		g.Answer = "edges"
	}
	if g.DNSSEC.Validity == 0 {
		g.DNSSEC.Validity = Duration(48 * time.Hour)
	}
	g.Health.applyDefaults("/healthz")
	p := &c.Purge
	if p.TokenEnv == "" {
		p.TokenEnv = DefaultTokenEnv
	}
	if p.Timeout == 0 {
		p.Timeout = Duration(5 * time.Second)
	}
	if p.NATS.Embedded == nil {
		e := len(p.NATS.URLs) == 0
		p.NATS.Embedded = &e
	}
	if p.NATS.Listen == "" && *p.NATS.Embedded {
		p.NATS.Listen = DefaultNATSListen
	}
	if p.NATS.Stream == "" {
		p.NATS.Stream = DefaultStream
	}
	if c.TLS.Dir == "" {
		c.TLS.Dir = "cdn-tls"
	}
	if c.TLS.ACME != nil && c.TLS.ACME.Storage == "" {
		c.TLS.ACME.Storage = DefaultACMEStorage
	}
	if c.TLS.HTTP3 == nil {
		t := true
		c.TLS.HTTP3 = &t
	}
	c.L4.applyDefaults(c.Ports)
	c.Proxies.applyDefaults()
}

// Defaults of the proxies section.
const (
	DefaultProxyPort      = 3128
	DefaultProxyAdminPort = 9091
	DefaultProxyMemory    = ByteSize(256 << 20)
	DefaultProxyMaxObject = ByteSize(8 << 20)
)

func (p *Proxies) applyDefaults() {
	if p.Port == 0 {
		p.Port = DefaultProxyPort
	}
	if p.Admin == 0 {
		p.Admin = DefaultProxyAdminPort
	}
	if p.Realm == "" {
		p.Realm = "proxy"
	}
	if p.AuthFailures == 0 {
		p.AuthFailures = 10
	}
	if p.AuthWindow == 0 {
		p.AuthWindow = Duration(time.Minute)
	}
	if p.Memory == 0 {
		p.Memory = DefaultProxyMemory
	}
	if p.MaxObject == 0 {
		p.MaxObject = DefaultProxyMaxObject
	}
	if p.DialTimeout == 0 {
		p.DialTimeout = Duration(5 * time.Second)
	}
	if p.HeaderTimeout == 0 {
		p.HeaderTimeout = Duration(30 * time.Second)
	}
	if p.MaxConnsPerClient == 0 {
		p.MaxConnsPerClient = 256
	}
	if p.MaxTunnels == 0 {
		p.MaxTunnels = 10000
	}
	if p.TunnelIdleTimeout == 0 {
		p.TunnelIdleTimeout = Duration(5 * time.Minute)
	}
}

func (h *HealthCheck) applyDefaults(path string) {
	if h.Path == "" {
		h.Path = path
	}
	if h.Interval == 0 {
		h.Interval = Duration(2 * time.Second)
	}
	if h.Timeout == 0 {
		h.Timeout = Duration(time.Second)
	}
	if h.Rise == 0 {
		h.Rise = 2
	}
	if h.Fall == 0 {
		h.Fall = 2
	}
}

// minDNSSECValidity is the shortest geodns.dnssec.validity accepted.
const minDNSSECValidity = Duration(3 * time.Hour)

func (b *Balancing) applyDefaults() {
	if b.TableSize == 0 {
		b.TableSize = DefaultTableSize
	}
	if b.VirtualNodes == 0 {
		b.VirtualNodes = DefaultVirtualNodes
	}
	if b.LoadFactor == 0 {
		b.LoadFactor = DefaultLoadFactor
	}
	if b.IPv4Prefix == 0 {
		b.IPv4Prefix = DefaultIPv4Prefix
	}
	if b.IPv6Prefix == 0 {
		b.IPv6Prefix = DefaultIPv6Prefix
	}
}

func (p *Passive) applyDefaults() {
	if p.MaxFails == 0 {
		p.MaxFails = DefaultPassiveMaxFails
	}
	if p.CoolDown == 0 {
		p.CoolDown = DefaultPassiveCoolDown
	}
}
