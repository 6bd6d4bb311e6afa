// Package l4 is a layer-4 load balancer: it forwards TCP connections and UDP
// flows to backends chosen by Maglev consistent hashing over the flow's
// addresses, keeps every tracked flow on its backend when the backend set
// changes, and writes PROXY protocol headers toward the backends so they see
// the client's address. Two balancers with the same configuration and no
// shared state choose the same backend for every new flow.
package l4

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/selfcdn/cdn/lb"
	"github.com/selfcdn/cdn/quiclb"
)

// Defaults for Config fields left zero.
const (
	DefaultConnectTimeout  = 3 * time.Second
	DefaultTCPIdleTimeout  = 5 * time.Minute
	DefaultUDPIdleTimeout  = 30 * time.Second
	DefaultConntrackSize   = 1 << 20
	DefaultDrainTimeout    = 30 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultHealthInterval  = 2 * time.Second
	DefaultHealthTimeout   = time.Second
	DefaultHealthRise      = 2
	DefaultHealthFall      = 3
	DefaultPassiveMaxFails = 3
	DefaultPassiveCoolDown = 10 * time.Second
	DefaultCopyChunk       = 1 << 20
)

// PROXY protocol settings for Config.ProxyProtocol.
const (
	ProxyV2  = "v2"
	ProxyV1  = "v1"
	ProxyOff = "off"
)

// Config is a balancer's configuration. The zero value of every field but
// Listeners and Backends takes the default shown in its comment.
type Config struct {
	// Listeners are the sockets to balance; at least one.
	Listeners []ListenerConfig
	// Backends are the servers flows go to; at least one.
	Backends []BackendConfig
	// ProxyProtocol is what TCP connections to backends start with:
	// "v2" (the default), "v1" or "off". UDP datagrams never carry a
	// header (QUIC and DNS servers would not understand one).
	ProxyProtocol string
	// TableSize is Maglev's M, a prime ≥ 100 × backends. Default 65537.
	// Every balancer of one service must use the same value.
	TableSize uint64
	// SourceAddr, if set, is the IP address connections and datagrams to
	// backends come from: the address backends trust to send PROXY
	// headers. Default: the kernel's choice.
	SourceAddr string
	// ConnectTimeout bounds a TCP connect to a backend. Default 3s.
	ConnectTimeout time.Duration
	// TCPIdleTimeout closes a TCP connection with no bytes in either
	// direction for this long. Default 5m.
	TCPIdleTimeout time.Duration
	// UDPIdleTimeout forgets a UDP flow with no datagram in either
	// direction for this long. Default 30s.
	UDPIdleTimeout time.Duration
	// ConntrackSize bounds the tracked flows, TCP and UDP together. A new
	// UDP flow over the bound evicts the least recently used UDP flow; a
	// new TCP connection over it is refused. Default 1048576.
	ConntrackSize int
	// MaxConnsPerBackend caps the flows of one backend (0: unlimited);
	// a full backend is skipped as if it were down.
	MaxConnsPerBackend int64
	// MaxConnsPerClient caps the flows of one client address (0:
	// unlimited); the next one is refused.
	MaxConnsPerClient int
	// Health configures active checks.
	Health HealthConfig
	// Passive configures ejection after consecutive connect failures:
	// MaxFails default 3 (negative turns it off), CoolDown default 10s.
	Passive lb.PassiveConfig
	// DrainTimeout is Drain's default deadline. Default 30s.
	DrainTimeout time.Duration
	// ShutdownTimeout is how long Run waits for flows after its context is
	// done before it closes them. Default 30s.
	ShutdownTimeout time.Duration
	// QUICLB, if set, routes QUIC packets on UDP listeners by the server
	// ID in their destination connection ID (the QUIC-LB draft's
	// plaintext algorithm, package quiclb) to the backend with that
	// BackendConfig.ServerID, so a client whose address or port changes
	// keeps its backend. Packets without a known server ID (a client's
	// Initial, DNS) are routed by the flow hash. Nil: flow hash only.
	QUICLB *quiclb.Config
	// CopyChunk is the most bytes one splice round moves before idle
	// deadlines and byte counters are updated. Default 1 MiB.
	CopyChunk int64
}

// ListenerConfig is one socket the balancer serves.
type ListenerConfig struct {
	// Network is "tcp" or "udp".
	Network string
	// Addr is host:port to listen on.
	Addr string
	// Service names what this listener balances in the flow hash, in place
	// of the destination address and port: balancers that should agree on
	// a flow must give the same Service to the listeners that receive it.
	// Default: Addr's port (so "443" for "10.0.0.1:443"), which is right
	// when every balancer listens on the same port of its own address. A
	// listener on port 0 must set it.
	Service string
	// BackendPort, if set, is the port flows of this listener go to on
	// each backend's host, instead of the port of its Addr (TCP) or
	// UDPAddr (UDP). One backend list then serves several ports.
	BackendPort int
}

// BackendConfig is one backend.
type BackendConfig struct {
	// Name identifies the backend in the hash, metrics and logs. Default
	// Addr. Every balancer must use the same names.
	Name string
	// Addr is host:port for TCP flows.
	Addr string
	// UDPAddr is host:port for UDP flows. Default Addr.
	UDPAddr string
	// HealthAddr is host:port of the backend's admin listener for HTTP
	// checks. Default Addr.
	HealthAddr string
	// Weight is the relative share of flows. Default 1.
	Weight int
	// ServerID is the backend's QUIC-LB server ID in hex (Config.QUICLB's
	// ServerIDLen octets), the one its quiclb.Generator encodes.
	ServerID string
}

// HealthConfig configures active health checks.
type HealthConfig struct {
	// Type is "tcp" (connect to Addr, the default), "http" (GET Path on
	// HealthAddr, 2xx or 3xx is healthy) or "off".
	Type string
	// Path is the HTTP check's path. Default "/healthz".
	Path string
	// Interval between checks of one backend. Default 2s.
	Interval time.Duration
	// Timeout of one check. Default 1s.
	Timeout time.Duration
	// Rise consecutive successes bring a backend up. Default 2.
	Rise int
	// Fall consecutive failures take it down. Default 3.
	Fall int
}

func (c Config) withDefaults() Config {
	if c.ProxyProtocol == "" {
		c.ProxyProtocol = ProxyV2
	}
	if c.TableSize == 0 {
		c.TableSize = lb.DefaultMaglevTableSize
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.TCPIdleTimeout == 0 {
		c.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if c.UDPIdleTimeout == 0 {
		c.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	if c.ConntrackSize == 0 {
		c.ConntrackSize = DefaultConntrackSize
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.CopyChunk == 0 {
		c.CopyChunk = DefaultCopyChunk
	}
	h := &c.Health
	if h.Type == "" {
		h.Type = "tcp"
	}
	if h.Path == "" {
		h.Path = "/healthz"
	}
	if h.Interval == 0 {
		h.Interval = DefaultHealthInterval
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultHealthTimeout
	}
	if h.Rise == 0 {
		h.Rise = DefaultHealthRise
	}
	if h.Fall == 0 {
		h.Fall = DefaultHealthFall
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Service == "" {
			if ap, err := netip.ParseAddrPort(l.Addr); err == nil {
				l.Service = fmt.Sprint(ap.Port())
			} else if _, port, ok := cutLast(l.Addr, ':'); ok {
				l.Service = port
			}
		}
	}
	for i := range c.Backends {
		b := &c.Backends[i]
		if b.Name == "" {
			b.Name = b.Addr
		}
		if b.UDPAddr == "" {
			b.UDPAddr = b.Addr
		}
		if b.HealthAddr == "" {
			b.HealthAddr = b.Addr
		}
	}
	return c
}

func cutLast(s string, sep byte) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Validate reports every invalid field with its path.
func (c Config) Validate() error {
	d := c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(d.Listeners) == 0 {
		bad("listeners: at least one is needed")
	}
	for i, l := range d.Listeners {
		if l.Network != "tcp" && l.Network != "udp" {
			bad("listeners[%d].network: %q is not tcp or udp", i, l.Network)
		}
		if _, _, ok := cutLast(l.Addr, ':'); !ok {
			bad("listeners[%d].addr: %q is not host:port", i, l.Addr)
		}
		if l.BackendPort < 0 || l.BackendPort > 65535 {
			bad("listeners[%d].backend_port: must be a port number, got %d", i, l.BackendPort)
		}
		if l.Service == "" || l.Service == "0" {
			bad("listeners[%d].service: must be set for a listener on port 0 (%q)", i, l.Addr)
		}
	}
	if err := validateBackends(d.Backends); err != nil {
		errs = append(errs, err)
	}
	if d.SourceAddr != "" {
		if _, err := netip.ParseAddr(d.SourceAddr); err != nil {
			bad("source_addr: %q is not an IP address", d.SourceAddr)
		}
	}
	switch d.ProxyProtocol {
	case ProxyV1, ProxyV2, ProxyOff:
	default:
		bad("proxy_protocol: %q is not v2, v1 or off", d.ProxyProtocol)
	}
	if err := (lb.Options{TableSize: d.TableSize}).Validate(); err != nil {
		errs = append(errs, err)
	} else if uint64(len(d.Backends))*100 > d.TableSize {
		bad("options.table_size: %d must be at least 100 × %d backends", d.TableSize, len(d.Backends))
	}
	for name, v := range map[string]time.Duration{
		"connect_timeout": d.ConnectTimeout, "tcp_idle_timeout": d.TCPIdleTimeout,
		"udp_idle_timeout": d.UDPIdleTimeout, "drain_timeout": d.DrainTimeout,
		"shutdown_timeout": d.ShutdownTimeout, "health.interval": d.Health.Interval,
		"health.timeout": d.Health.Timeout,
	} {
		if v < 0 {
			bad("%s: must be > 0, got %v", name, v)
		}
	}
	if d.ConntrackSize < 1 {
		bad("conntrack.size: must be > 0, got %d", d.ConntrackSize)
	}
	if d.MaxConnsPerBackend < 0 || d.MaxConnsPerClient < 0 {
		bad("limits: max_conns_per_backend and max_conns_per_client must not be negative")
	}
	if d.CopyChunk < 1 {
		bad("copy_chunk: must be > 0")
	}
	switch d.Health.Type {
	case "tcp", "http", "off":
	default:
		bad("health.type: %q is not tcp, http or off", d.Health.Type)
	}
	if d.Health.Rise < 1 || d.Health.Fall < 1 {
		bad("health.rise and health.fall: must be > 0")
	}
	if d.QUICLB != nil {
		if err := d.QUICLB.Validate(); err != nil {
			errs = append(errs, err)
		}
		for i, b := range d.Backends {
			if id, err := hex.DecodeString(b.ServerID); b.ServerID != "" && (err != nil || len(id) != d.QUICLB.ServerIDLen) {
				bad("backends[%d].server_id: %q is not %d octets of hex", i, b.ServerID, d.QUICLB.ServerIDLen)
			}
		}
	}
	passive := d.Passive
	passive.MaxFails = max(passive.MaxFails, 0) // negative: off
	if err := passive.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validateBackends(bs []BackendConfig) error {
	var errs []error
	if len(bs) == 0 {
		errs = append(errs, errors.New("backends: at least one is needed"))
	}
	seen := map[string]int{}
	for i, b := range bs {
		if j, dup := seen[b.Name]; dup {
			errs = append(errs, fmt.Errorf("backends[%d]: name %q is also backends[%d]'s", i, b.Name, j))
		}
		seen[b.Name] = i
		for what, a := range map[string]string{"addr": b.Addr, "udp_addr": b.UDPAddr, "health_addr": b.HealthAddr} {
			if _, _, ok := cutLast(a, ':'); !ok || a == "" {
				errs = append(errs, fmt.Errorf("backends[%d].%s: %q is not host:port", i, what, a))
			}
		}
		if b.Weight < 0 {
			errs = append(errs, fmt.Errorf("backends[%d].weight: must not be negative, got %d", i, b.Weight))
		}
	}
	return errors.Join(errs...)
}
