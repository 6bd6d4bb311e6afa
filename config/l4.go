package config

import (
	"fmt"
	"net/netip"
	"time"
)

// Defaults of the l4 section; docs/CONFIG.md lists them too.
const (
	DefaultL4ProxyProtocol = "v2"
	DefaultL4ConntrackSize = 1 << 20
	DefaultL4TableSize     = 65537

	DefaultL4QUICServerIDLen = 2
	DefaultL4QUICNonceLen    = 8
)

// L4 configures the PoPs' layer-4 balancers (pops[].balancers, run by
// cdn l4). Every balancer of the cluster uses this one section, so all of
// them choose the same edge for the same flow.
//
// Edges are the balancers' backends. An edge should accept PROXY headers
// only from the addresses of pops[].balancers (Cluster.TrustedBalancer) and
// refuse them from anyone else; with proxy_protocol off, edges see the
// balancers' addresses as their clients.
type L4 struct {
	// Ports are what each balancer listens on, on its own address, and
	// forwards to the same port of the edges (or BackendPort). Default:
	// ports.http and ports.https over TCP, ports.https over UDP (QUIC).
	Ports []L4Port `yaml:"ports"`
	// ProxyProtocol is what TCP connections to edges start with: v2, v1
	// or off. Default v2.
	ProxyProtocol string `yaml:"proxy_protocol"`
	// TableSize is Maglev's lookup-table size, a prime. Default 65537.
	TableSize uint64 `yaml:"table_size"`
	// ConnectTimeout bounds a connect to an edge. Default 3s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// Conntrack bounds the connection-tracking table.
	Conntrack L4Conntrack `yaml:"conntrack"`
	// Health configures the balancers' checks of the edges.
	Health L4Health `yaml:"health"`
	// Passive configures ejection of an edge after connect failures.
	Passive L4Passive `yaml:"passive"`
	// Limits caps flows per edge and per client address.
	Limits L4Limits `yaml:"limits"`
	// DrainTimeout is the default deadline of a drain. Default 30s.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// ShutdownTimeout is how long a stopping balancer waits for its flows.
	// Default 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// QUICLB routes QUIC by connection ID (QUIC-LB plaintext algorithm):
	// edges issue connection IDs carrying their server ID, and balancers
	// send a packet to the edge whose ID it carries, whatever its source
	// address (client migration, NAT rebinding).
	QUICLB L4QUICLB `yaml:"quic_lb"`
}

// L4QUICLB configures QUIC-LB connection IDs. Server IDs are not listed:
// an edge's is its position among all pops[].edges of the file (1, 2, ...),
// big-endian in server_id_len octets, the same on every balancer and edge.
type L4QUICLB struct {
	// Enabled turns it on. Default false: UDP is routed by the 5-tuple.
	Enabled bool `yaml:"enabled"`
	// ConfigID is the config rotation codepoint, 0-6. Default 0.
	ConfigID uint8 `yaml:"config_id"`
	// ServerIDLen is the server ID's length in octets, 1-15. Default 2.
	ServerIDLen int `yaml:"server_id_len"`
	// NonceLen is the random part's length in octets, 4-18. Default 8.
	NonceLen int `yaml:"nonce_len"`
}

// QUICServerID returns the QUIC-LB server ID of edge (see L4QUICLB), or
// false if edge is not one of pops[].edges or the ID does not fit.
func (c *Cluster) QUICServerID(edge string) ([]byte, bool) {
	n := uint64(0)
	for _, p := range c.PoPs {
		for _, e := range p.Edges {
			n++
			if e.Name != edge {
				continue
			}
			l := c.L4.QUICLB.ServerIDLen
			if l <= 0 || l > 15 || (l < 8 && n >= 1<<(8*l)) {
				return nil, false
			}
			id := make([]byte, l)
			for i := l - 1; i >= 0 && n > 0; i-- {
				id[i] = byte(n)
				n >>= 8
			}
			return id, true
		}
	}
	return nil, false
}

// L4Port is one balanced port.
type L4Port struct {
	// Port is the balancer's listening port.
	Port int `yaml:"port"`
	// Protocol is tcp or udp. Default tcp.
	Protocol string `yaml:"protocol"`
	// BackendPort is the edges' port. Default Port.
	BackendPort int `yaml:"backend_port"`
}

// L4Conntrack sizes the connection-tracking table.
type L4Conntrack struct {
	// Size is the most tracked flows (TCP and UDP). Default 1048576.
	Size int `yaml:"size"`
	// TCPIdle closes a TCP connection idle that long. Default 5m.
	TCPIdle Duration `yaml:"tcp_idle"`
	// UDPIdle forgets a UDP flow idle that long. Default 30s.
	UDPIdle Duration `yaml:"udp_idle"`
}

// L4Health configures active checks of the edges.
type L4Health struct {
	// Type is http (GET Path on the edge's admin port, the default), tcp
	// (connect to the first TCP port) or off.
	Type     string   `yaml:"type"`
	Path     string   `yaml:"path"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
	Rise     int      `yaml:"rise"`
	Fall     int      `yaml:"fall"`
}

// L4Passive configures passive ejection.
type L4Passive struct {
	// MaxFails consecutive connect failures eject an edge. Default 3;
	// negative turns passive ejection off.
	MaxFails int `yaml:"max_fails"`
	// CoolDown is how long an ejection lasts. Default 10s.
	CoolDown Duration `yaml:"cool_down"`
}

// L4Limits caps flows.
type L4Limits struct {
	// MaxConnsPerBackend caps the flows of one edge. Default 0: unlimited.
	MaxConnsPerBackend int64 `yaml:"max_conns_per_backend"`
	// MaxConnsPerClient caps the flows of one client address. Default 0:
	// unlimited.
	MaxConnsPerClient int `yaml:"max_conns_per_client"`
}

func (l *L4) applyDefaults(p Ports) {
	if len(l.Ports) == 0 {
		l.Ports = []L4Port{{Port: p.HTTP}, {Port: p.HTTPS}, {Port: p.HTTPS, Protocol: "udp"}}
	}
	for i := range l.Ports {
		if l.Ports[i].Protocol == "" {
			l.Ports[i].Protocol = "tcp"
		}
		if l.Ports[i].BackendPort == 0 {
			l.Ports[i].BackendPort = l.Ports[i].Port
		}
	}
	if l.ProxyProtocol == "" {
		l.ProxyProtocol = DefaultL4ProxyProtocol
	}
	if l.QUICLB.ServerIDLen == 0 {
		l.QUICLB.ServerIDLen = DefaultL4QUICServerIDLen
	}
	if l.QUICLB.NonceLen == 0 {
		l.QUICLB.NonceLen = DefaultL4QUICNonceLen
	}
	if l.TableSize == 0 {
		l.TableSize = DefaultL4TableSize
	}
	setDur := func(d *Duration, def time.Duration) {
		if *d == 0 {
			*d = Duration(def)
		}
	}
	setDur(&l.ConnectTimeout, 3*time.Second)
	if l.Conntrack.Size == 0 {
		l.Conntrack.Size = DefaultL4ConntrackSize
	}
	setDur(&l.Conntrack.TCPIdle, 5*time.Minute)
	setDur(&l.Conntrack.UDPIdle, 30*time.Second)
	h := &l.Health
	if h.Type == "" {
		h.Type = "http"
	}
	if h.Path == "" {
		h.Path = "/healthz"
	}
	setDur(&h.Interval, 2*time.Second)
	setDur(&h.Timeout, time.Second)
	if h.Rise == 0 {
		h.Rise = 2
	}
	if h.Fall == 0 {
		h.Fall = 3
	}
	if l.Passive.MaxFails == 0 {
		l.Passive.MaxFails = 3
	}
	setDur(&l.Passive.CoolDown, 10*time.Second)
	setDur(&l.DrainTimeout, 30*time.Second)
	setDur(&l.ShutdownTimeout, 30*time.Second)
}

func (l *L4) validate(ck *checker) {
	seen := map[string]int{}
	for i, p := range l.Ports {
		path := fmt.Sprintf("l4.ports[%d]", i)
		if p.Port < 1 || p.Port > 65535 {
			ck.add(path+".port", "must be a port number 1-65535, got %d", p.Port)
		}
		if p.BackendPort < 1 || p.BackendPort > 65535 {
			ck.add(path+".backend_port", "must be a port number 1-65535, got %d", p.BackendPort)
		}
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			ck.add(path+".protocol", "must be tcp or udp, got %q", p.Protocol)
		}
		key := fmt.Sprint(p.Protocol, "/", p.Port)
		if j, dup := seen[key]; dup {
			ck.add(path, "%s is also l4.ports[%d]", key, j)
		}
		seen[key] = i
	}
	switch l.ProxyProtocol {
	case "v1", "v2", "off":
	default:
		ck.add("l4.proxy_protocol", "must be v2, v1 or off, got %q", l.ProxyProtocol)
	}
	if l.TableSize < 101 || l.TableSize > 1<<24 || !prime(l.TableSize) {
		ck.add("l4.table_size", "must be a prime in 101..16777216, got %d", l.TableSize)
	}
	if l.Conntrack.Size < 1 {
		ck.add("l4.conntrack.size", "must be positive, got %d", l.Conntrack.Size)
	}
	for path, d := range map[string]Duration{
		"l4.connect_timeout": l.ConnectTimeout, "l4.conntrack.tcp_idle": l.Conntrack.TCPIdle,
		"l4.conntrack.udp_idle": l.Conntrack.UDPIdle, "l4.health.interval": l.Health.Interval,
		"l4.health.timeout": l.Health.Timeout, "l4.passive.cool_down": l.Passive.CoolDown,
		"l4.drain_timeout": l.DrainTimeout, "l4.shutdown_timeout": l.ShutdownTimeout,
	} {
		if d < 0 {
			ck.add(path, "must be positive, got %s", d.D())
		}
	}
	switch l.Health.Type {
	case "http", "tcp", "off":
	default:
		ck.add("l4.health.type", "must be http, tcp or off, got %q", l.Health.Type)
	}
	if l.Health.Rise < 1 {
		ck.add("l4.health.rise", "must be positive, got %d", l.Health.Rise)
	}
	if l.Health.Fall < 1 {
		ck.add("l4.health.fall", "must be positive, got %d", l.Health.Fall)
	}
	if l.Limits.MaxConnsPerBackend < 0 {
		ck.add("l4.limits.max_conns_per_backend", "must not be negative")
	}
	if l.Limits.MaxConnsPerClient < 0 {
		ck.add("l4.limits.max_conns_per_client", "must not be negative")
	}
}

func prime(n uint64) bool {
	if n < 2 || n%2 == 0 {
		return n == 2
	}
	for d := uint64(3); d <= n/d; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// TrustedBalancer reports whether a is the address of one of the
// cluster's layer-4 balancers (pops[].balancers), the only peers an edge
// should accept PROXY protocol headers from.
func (c *Cluster) TrustedBalancer(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.PoPs {
		for _, b := range p.Balancers {
			if ba, err := netip.ParseAddr(b.Address); err == nil && ba.Unmap() == a {
				return true
			}
		}
	}
	return false
}
