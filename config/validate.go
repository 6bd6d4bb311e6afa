package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Problems is every problem found in a cluster file, each naming the field.
type Problems []string

func (p Problems) Error() string {
	if len(p) == 1 {
		return "invalid cluster file: " + p[0]
	}
	return fmt.Sprintf("invalid cluster file, %d problems:\n  %s", len(p), strings.Join(p, "\n  "))
}

type checker struct{ probs Problems }

func (c *checker) add(path, format string, args ...any) {
	c.probs = append(c.probs, path+": "+fmt.Sprintf(format, args...))
}

// Validate reports every problem in the cluster file with its field path,
// such as "pops[1].edges[0].address: not an IP address". It expects
// ApplyDefaults to have run.
func (c *Cluster) Validate() error {
	var ck checker
	names := map[string]string{} // node name → path of first use
	addrPorts := map[string]string{}
	node := func(path string, n Node, role string) {
		if n.Name == "" {
			ck.add(path+".name", "missing")
		} else if prev, dup := names[n.Name]; dup {
			ck.add(path+".name", "%q is already used by %s", n.Name, prev)
		} else {
			names[n.Name] = path
		}
		if n.Address == "" {
			ck.add(path+".address", "missing")
			return
		}
		if _, err := netip.ParseAddr(n.Address); err != nil {
			ck.add(path+".address", "not an IP address: %q", n.Address)
			return
		}
		if role == "http" {
			if prev, dup := addrPorts[n.Address]; dup {
				ck.add(path+".address", "%s is already used by %s (edges and shields share ports, so each needs its own address)", n.Address, prev)
			} else {
				addrPorts[n.Address] = path
			}
		}
	}

	if c.Zone != "" && !validDomain(strings.TrimSuffix(c.Zone, ".")) {
		ck.add("zone", "not a domain name: %q", c.Zone)
	}
	if len(c.Sites) == 0 {
		ck.add("sites", "at least one site is required")
	}
	hosts := map[string]string{}
	for i, s := range c.Sites {
		p := fmt.Sprintf("sites[%d]", i)
		for j, h := range append([]string{s.Host}, s.Aliases...) {
			hp := p + ".host"
			if j > 0 {
				hp = fmt.Sprintf("%s.aliases[%d]", p, j-1)
			}
			switch {
			case h == "":
				ck.add(hp, "missing")
			case !validDomain(h):
				ck.add(hp, "not a host name: %q", h)
			default:
				if prev, dup := hosts[h]; dup {
					ck.add(hp, "%q is already served by %s", h, prev)
				}
				hosts[h] = p
			}
		}
		if s.Origin == "" {
			ck.add(p+".origin", "missing")
		} else if _, ok := c.Origins[s.Origin]; !ok {
			ck.add(p+".origin", "no origin named %q in origins", s.Origin)
		}
		if s.Cache.DefaultTTL < 0 {
			ck.add(p+".cache.default_ttl", "must not be negative")
		}
	}
	for _, name := range sortedKeys(c.Origins) {
		o := c.Origins[name]
		p := "origins." + name
		if !knownPolicy(o.Policy) {
			ck.add(p+".policy", "unknown policy %q (want one of %s)", o.Policy, strings.Join(Policies, ", "))
		}
		if len(o.Servers) == 0 {
			ck.add(p+".servers", "at least one server is required")
		}
		for j, s := range o.Servers {
			sp := fmt.Sprintf("%s.servers[%d]", p, j)
			u, err := url.Parse(s.URL)
			switch {
			case s.URL == "":
				ck.add(sp+".url", "missing")
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				ck.add(sp+".url", "not an http:// or https:// URL: %q", s.URL)
			case u.Path != "" && u.Path != "/":
				ck.add(sp+".url", "must not have a path: %q", s.URL)
			}
			if s.Weight < 0 {
				ck.add(sp+".weight", "must not be negative")
			}
			if s.MaxConns < 0 {
				ck.add(sp+".max_conns", "must not be negative")
			}
		}
		o.Health.validate(&ck, p+".health")
		o.Balancing.validate(&ck, p+".balancing", len(o.Servers))
		o.Passive.validate(&ck, p+".passive")
	}
	switch c.Shields.Policy {
	case "maglev", "rendezvous", "bounded_load":
	default:
		ck.add("shields.policy", "unknown policy %q (want maglev, rendezvous or bounded_load)", c.Shields.Policy)
	}
	for i, n := range c.Shields.Nodes {
		node(fmt.Sprintf("shields.nodes[%d]", i), n, "http")
	}
	c.Shields.Health.validate(&ck, "shields.health")
	c.Shields.Balancing.validate(&ck, "shields.balancing", len(c.Shields.Nodes))
	c.Shields.Passive.validate(&ck, "shields.passive")
	if len(c.PoPs) == 0 {
		ck.add("pops", "at least one PoP is required")
	}
	popNames := map[string]bool{}
	for i, pop := range c.PoPs {
		p := fmt.Sprintf("pops[%d]", i)
		if pop.Name == "" {
			ck.add(p+".name", "missing")
		} else if popNames[pop.Name] {
			ck.add(p+".name", "duplicate PoP name %q", pop.Name)
		}
		popNames[pop.Name] = true
		if pop.Location.Lat < -90 || pop.Location.Lat > 90 {
			ck.add(p+".location.lat", "must be within [-90, 90], got %v", pop.Location.Lat)
		}
		if pop.Location.Lon < -180 || pop.Location.Lon > 180 {
			ck.add(p+".location.lon", "must be within [-180, 180], got %v", pop.Location.Lon)
		}
		if pop.Weight <= 0 {
			ck.add(p+".weight", "must be positive")
		}
		if len(pop.Edges) == 0 {
			ck.add(p+".edges", "at least one edge is required")
		}
		for j, e := range pop.Edges {
			node(fmt.Sprintf("%s.edges[%d]", p, j), e, "http")
		}
		for j, b := range pop.Balancers {
			node(fmt.Sprintf("%s.balancers[%d]", p, j), b, "http")
		}
	}
	for _, pp := range []struct {
		path string
		v    int
	}{{"ports.http", c.Ports.HTTP}, {"ports.https", c.Ports.HTTPS}, {"ports.admin", c.Ports.Admin}, {"geodns.port", c.GeoDNS.Port}, {"geodns.admin", c.GeoDNS.Admin}} {
		if pp.v < 1 || pp.v > 65535 {
			ck.add(pp.path, "must be a port number 1-65535, got %d", pp.v)
		}
	}
	if c.Ports.HTTP == c.Ports.Admin {
		ck.add("ports.admin", "must differ from ports.http")
	}
	if e := c.Ports.HTTPEngine; e != "" && e != "fast" && e != "stdlib" {
		ck.add("ports.http_engine", "must be fast or stdlib, got %q", e)
	}
	if c.Cache.Memory < 1<<20 {
		ck.add("cache.memory", "must be at least 1MiB, got %s", c.Cache.Memory)
	}
	if c.Cache.MaxMemoryObject > c.Cache.Memory {
		ck.add("cache.max_memory_object", "must not exceed cache.memory (%s)", c.Cache.Memory)
	}
	if c.Cache.Disk.Path != "" && c.Cache.Disk.MaxObject > c.Cache.Disk.Size {
		ck.add("cache.disk.max_object", "must not exceed cache.disk.size (%s)", c.Cache.Disk.Size)
	}
	if c.Upstream.Retries < 0 {
		ck.add("upstream.retries", "must not be negative")
	}
	for _, d := range []struct {
		path string
		v    Duration
	}{{"upstream.connect_timeout", c.Upstream.ConnectTimeout}, {"upstream.header_timeout", c.Upstream.HeaderTimeout}, {"upstream.idle_timeout", c.Upstream.IdleTimeout}} {
		if d.v < 0 {
			ck.add(d.path, "must not be negative")
		}
	}
	if c.Admin.Bind != "" {
		if _, err := netip.ParseAddr(c.Admin.Bind); err != nil {
			ck.add("admin.bind", "not an IP address: %q", c.Admin.Bind)
		}
	}
	for i, tp := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(tp); err != nil {
			if _, err2 := netip.ParseAddr(tp); err2 != nil {
				ck.add(fmt.Sprintf("trusted_proxies[%d]", i), "not a CIDR or IP address: %q", tp)
			}
		}
	}
	for i, st := range c.Sites {
		if st.Cache.StaleOnError.D() > 7*24*time.Hour {
			ck.add(fmt.Sprintf("sites[%d].cache.stale_on_error", i), "at most 168h")
		}
		if z := st.Cache.SliceSize; z != 0 && (z < 64<<10 || z > 64<<20) {
			ck.add(fmt.Sprintf("sites[%d].cache.slice_size", i), "from 64KiB to 64MiB, not %s", z)
		} else if m := c.Cache.MaxMemoryObject; m != 0 && z > m {
			ck.add(fmt.Sprintf("sites[%d].cache.slice_size", i), "%s is larger than cache.max_memory_object (%s): a slice is held in memory", z, m)
		}
	}
	lim := c.Limits
	if lim.MaxFetchesPerConn < 1 {
		ck.add("limits.max_fetches_per_conn", "must be at least 1")
	}
	if lim.MaxAbandonedPerConn < -1 {
		ck.add("limits.max_abandoned_per_conn", "must be -1 (off) or more")
	}
	if lim.H2MaxStreams < 1 {
		ck.add("limits.h2_max_streams", "must be at least 1")
	}
	if lim.FetchTimeout < 0 || lim.BodyIdleTimeout < 0 {
		ck.add("limits", "fetch_timeout and body_idle_timeout must not be negative")
	}
	if lim.ClientBodyTimeout < 0 || lim.SendTimeout < 0 {
		ck.add("limits", "client_body_timeout and send_timeout must not be negative")
	}
	if lim.MaxConnsPerClient < -1 {
		ck.add("limits.max_conns_per_client", "must be -1 (no limit) or more")
	}
	if lim.MaxHeaderBytes < 1<<10 {
		ck.add("limits.max_header_bytes", "must be at least 1KiB")
	}
	if lim.MaxHeaderCount < 8 {
		ck.add("limits.max_header_count", "must be at least 8")
	}
	if lim.StreamWindow < 4<<10 {
		ck.add("limits.stream_window", "must be at least 4KiB")
	}
	g := c.GeoDNS
	for i, n := range g.Nodes {
		node(fmt.Sprintf("geodns.nodes[%d]", i), n, "dns")
	}
	if len(g.Nodes) > 0 && c.Zone == "" {
		ck.add("zone", "required when geodns.nodes are given")
	}
	if len(g.Nodes) > 0 && g.GeoIP == "" {
		ck.add("geodns.geoip", "required when geodns.nodes are given (path of a MaxMind City database)")
	}
	if g.MaxAnswers < 1 {
		ck.add("geodns.max_answers", "must be at least 1")
	}
	for i, name := range g.DefaultPoPs {
		if !popNames[name] {
			ck.add(fmt.Sprintf("geodns.default_pops[%d]", i), "no PoP named %q", name)
		}
	}
	for i, r := range g.Records {
		p := fmt.Sprintf("geodns.records[%d]", i)
		if r.Name == "" {
			ck.add(p+".name", "missing")
		}
		if r.Type == "" {
			ck.add(p+".type", "missing")
		}
		if r.Value == "" {
			ck.add(p+".value", "missing")
		}
	}
	g.Health.validate(&ck, "geodns.health")
	if g.Answer != "edges" && g.Answer != "balancers" {
		ck.add("geodns.answer", "must be edges or balancers, not %q", g.Answer)
	}
	if (g.DNSSEC.Key == "") != (g.DNSSEC.Private == "") {
		ck.add("geodns.dnssec", "key and private are given together (cdn geodns keygen writes both)")
	}
	if g.DNSSEC.Validity < minDNSSECValidity {
		ck.add("geodns.dnssec.validity", "must be at least 3h (signatures are renewed when a third of it is left)")
	}
	if !*c.Purge.NATS.Embedded && len(c.Purge.NATS.URLs) == 0 {
		ck.add("purge.nats.urls", "required when purge.nats.embedded is false")
	}
	for i, u := range c.Purge.NATS.URLs {
		if pu, err := url.Parse(u); err != nil || pu.Host == "" {
			ck.add(fmt.Sprintf("purge.nats.urls[%d]", i), "not a URL such as nats://host:4222: %q", u)
		}
	}
	if a := c.TLS.ACME; a != nil {
		if c.TLS.SelfSigned || len(c.TLS.Certificates) > 0 {
			ck.add("tls.acme", "exclusive with tls.self_signed and tls.certificates")
		}
		if a.CA != "" {
			if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" || u.Host == "" {
				ck.add("tls.acme.ca", "not an https:// directory URL: %q", a.CA)
			}
		}
	}
	for i, cert := range c.TLS.Certificates {
		p := fmt.Sprintf("tls.certificates[%d]", i)
		if cert.Cert == "" {
			ck.add(p+".cert", "missing")
		}
		if cert.Key == "" {
			ck.add(p+".key", "missing")
		}
	}
	c.L4.validate(&ck)
	if q := c.L4.QUICLB; q.Enabled {
		if q.ConfigID > 6 {
			ck.add("l4.quic_lb.config_id", "must be 0-6, got %d", q.ConfigID)
		}
		if q.ServerIDLen < 1 || q.ServerIDLen > 15 {
			ck.add("l4.quic_lb.server_id_len", "must be 1-15, got %d", q.ServerIDLen)
		}
		if q.NonceLen < 4 || q.NonceLen > 18 {
			ck.add("l4.quic_lb.nonce_len", "must be 4-18, got %d", q.NonceLen)
		}
		if 1+q.ServerIDLen+q.NonceLen > 20 {
			ck.add("l4.quic_lb", "connection IDs of 1 + server_id_len + nonce_len = %d octets exceed QUIC's 20", 1+q.ServerIDLen+q.NonceLen)
		}
		edges := 0
		for _, p := range c.PoPs {
			edges += len(p.Edges)
		}
		if q.ServerIDLen >= 1 && q.ServerIDLen < 8 && uint64(edges) >= 1<<(8*q.ServerIDLen) {
			ck.add("l4.quic_lb.server_id_len", "%d octets number at most %d edges; the file has %d", q.ServerIDLen, 1<<(8*q.ServerIDLen)-1, edges)
		}
	}
	for i, n := range c.Proxies.Nodes {
		node(fmt.Sprintf("proxies.nodes[%d]", i), n, "proxy")
	}
	c.Proxies.validate(&ck)
	if len(ck.probs) == 0 {
		return nil
	}
	return ck.probs
}

func (p *Proxies) validate(ck *checker) {
	for _, pp := range []struct {
		path string
		v    int
	}{{"proxies.port", p.Port}, {"proxies.admin", p.Admin}} {
		if pp.v < 1 || pp.v > 65535 {
			ck.add(pp.path, "must be a port number 1-65535, got %d", pp.v)
		}
	}
	if p.Port == p.Admin {
		ck.add("proxies.admin", "must differ from proxies.port")
	}
	if p.Memory < 1<<20 {
		ck.add("proxies.memory", "must be at least 1MiB, got %s", p.Memory)
	}
	if p.MaxObject > p.Memory {
		ck.add("proxies.max_object", "must not exceed proxies.memory (%s)", p.Memory)
	}
	for _, n := range []struct {
		path string
		v    int
	}{{"proxies.auth_failures", p.AuthFailures}, {"proxies.max_conns_per_client", p.MaxConnsPerClient}, {"proxies.max_tunnels", p.MaxTunnels}} {
		if n.v < -1 {
			ck.add(n.path, "must be positive, or -1 for no limit")
		}
	}
	for _, d := range []struct {
		path string
		v    Duration
	}{{"proxies.auth_window", p.AuthWindow}, {"proxies.dial_timeout", p.DialTimeout}, {"proxies.header_timeout", p.HeaderTimeout}, {"proxies.tunnel_idle_timeout", p.TunnelIdleTimeout}} {
		if d.v <= 0 {
			ck.add(d.path, "must be positive")
		}
	}
	if p.PAC.Proxy != "" {
		if _, port, err := net.SplitHostPort(p.PAC.Proxy); err != nil || port == "" {
			ck.add("proxies.pac.proxy", "not host:port: %q", p.PAC.Proxy)
		}
	}
	for _, g := range sortedKeys(p.Groups) {
		if len(p.Groups[g]) == 0 {
			ck.add("proxies.groups."+g, "a group needs at least one user")
		}
	}
	for i, r := range p.Rules {
		rp := fmt.Sprintf("proxies.rules[%d]", i)
		if r.Action != "allow" && r.Action != "deny" {
			ck.add(rp+".action", "must be allow or deny, got %q", r.Action)
		}
		for _, f := range []struct {
			name string
			list []string
		}{{"clients", r.Clients}, {"private", r.Private}} {
			for j, s := range f.list {
				if _, err := ParsePrefix(s); err != nil {
					ck.add(fmt.Sprintf("%s.%s[%d]", rp, f.name, j), "not a CIDR or IP address: %q", s)
				}
			}
		}
		for j, h := range r.Hosts {
			hp := fmt.Sprintf("%s.hosts[%d]", rp, j)
			switch {
			case strings.HasPrefix(h, "~"):
				if _, err := regexp.Compile(h[1:]); err != nil {
					ck.add(hp, "bad regexp %q: %v", h, err)
				}
			case strings.HasPrefix(h, "."):
				if !validDomain(strings.TrimSuffix(h[1:], ".")) {
					ck.add(hp, "not a domain suffix: %q", h)
				}
			default:
				if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err != nil && !validDomain(strings.TrimSuffix(h, ".")) {
					ck.add(hp, "not a host name, .suffix, ~regexp or IP address: %q", h)
				}
			}
		}
		for j, pr := range r.Ports {
			lo, hi, ok := strings.Cut(pr, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.ParseUint(lo, 10, 16)
			b, err2 := strconv.ParseUint(hi, 10, 16)
			if err1 != nil || err2 != nil || a == 0 || a > b {
				ck.add(fmt.Sprintf("%s.ports[%d]", rp, j), "not a port or range such as 8000-8999: %q", pr)
			}
		}
		for j, m := range r.Methods {
			if m == "" || strings.ToUpper(m) != m {
				ck.add(fmt.Sprintf("%s.methods[%d]", rp, j), "must be an upper-case method such as GET: %q", m)
			}
		}
		for j, sc := range r.Schemes {
			if sc != "http" && sc != "https" {
				ck.add(fmt.Sprintf("%s.schemes[%d]", rp, j), "must be http or https: %q", sc)
			}
		}
		for j, g := range r.Groups {
			if _, ok := p.Groups[g]; !ok {
				ck.add(fmt.Sprintf("%s.groups[%d]", rp, j), "no group named %q in proxies.groups", g)
			}
		}
		if (len(r.Users) > 0 || len(r.Groups) > 0) && p.Htpasswd == "" {
			ck.add(rp, "users and groups need proxies.htpasswd")
		}
		if r.Action == "deny" && (len(r.Private) > 0 || r.ForwardedHeaders) {
			ck.add(rp, "private and forwarded_headers only apply to allow rules")
		}
	}
}

// ParsePrefix parses a CIDR, or a single address as its /32 or /128.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (h HealthCheck) validate(ck *checker, path string) {
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		ck.add(path+".path", "must start with /: %q", h.Path)
	}
	if h.Interval <= 0 {
		ck.add(path+".interval", "must be positive")
	}
	if h.Timeout <= 0 {
		ck.add(path+".timeout", "must be positive")
	}
	if h.Rise < 1 {
		ck.add(path+".rise", "must be at least 1")
	}
	if h.Fall < 1 {
		ck.add(path+".fall", "must be at least 1")
	}
}

// Policies are the load-balancing policy names an origin pool accepts.
var Policies = []string{"round_robin", "weighted_round_robin", "least_conn", "p2c", "ip_hash", "maglev", "rendezvous", "bounded_load"}

func knownPolicy(p string) bool {
	for _, q := range Policies {
		if p == q {
			return true
		}
	}
	return false
}

// validDomain reports whether s is a plausible DNS name (RFC 1123 labels).
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// Role is what a node does.
type Role string

// Node roles.
const (
	RoleEdge   Role = "edge"
	RoleShield Role = "shield"
	RoleGeoDNS Role = "geodns"
	// RoleBalancer is a layer-4 balancer of pops[].balancers.
	RoleBalancer Role = "balancer"
	RoleProxy    Role = "proxy"
)

// NodeInfo is a node found by name, with its role and PoP (edges and
// balancers only).
type NodeInfo struct {
	Node
	Role Role
	PoP  *PoP
}

// FindNode returns the node with that name.
func (c *Cluster) FindNode(name string) (NodeInfo, error) {
	for i := range c.PoPs {
		for _, e := range c.PoPs[i].Edges {
			if e.Name == name {
				return NodeInfo{Node: e, Role: RoleEdge, PoP: &c.PoPs[i]}, nil
			}
		}
	}
	for i := range c.PoPs {
		for _, b := range c.PoPs[i].Balancers {
			if b.Name == name {
				return NodeInfo{Node: b, Role: RoleBalancer, PoP: &c.PoPs[i]}, nil
			}
		}
	}
	for _, s := range c.Shields.Nodes {
		if s.Name == name {
			return NodeInfo{Node: s, Role: RoleShield}, nil
		}
	}
	for _, g := range c.GeoDNS.Nodes {
		if g.Name == name {
			return NodeInfo{Node: g, Role: RoleGeoDNS}, nil
		}
	}
	for _, p := range c.Proxies.Nodes {
		if p.Name == name {
			return NodeInfo{Node: p, Role: RoleProxy}, nil
		}
	}
	return NodeInfo{}, fmt.Errorf("no node named %q in the cluster file", name)
}

// SiteFor returns the site that serves host (case-insensitive, port ignored).
func (c *Cluster) SiteFor(host string) (*Site, bool) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for i := range c.Sites {
		if c.Sites[i].Host == host {
			return &c.Sites[i], true
		}
		for _, a := range c.Sites[i].Aliases {
			if a == host {
				return &c.Sites[i], true
			}
		}
	}
	return nil, false
}

// AdminToken returns the admin API token: purge.token, else the variable
// named by purge.token_env. Empty means no token is configured.
func (c *Cluster) AdminToken() string {
	if c.Purge.Token != "" {
		return c.Purge.Token
	}
	return os.Getenv(c.Purge.TokenEnv)
}

// ErrNoToken is returned where an admin API needs a token and none is set.
var ErrNoToken = errors.New("no admin token: set purge.token or the variable named by purge.token_env")

func (b Balancing) validate(ck *checker, path string, servers int) {
	if b.TableSize < 1 || !isPrime(b.TableSize) {
		ck.add(path+".table_size", "must be a prime such as 65537, got %d", b.TableSize)
	} else if b.TableSize < 100*servers {
		ck.add(path+".table_size", "%d is under 100 × the %d servers; Maglev spreads keys unevenly below that", b.TableSize, servers)
	}
	if b.VirtualNodes < 1 || b.VirtualNodes > 10000 {
		ck.add(path+".virtual_nodes", "must be within [1, 10000], got %d", b.VirtualNodes)
	}
	if b.LoadFactor <= 0 || b.LoadFactor > 10 {
		ck.add(path+".load_factor", "must be above 0 and at most 10, got %g", b.LoadFactor)
	}
	if b.IPv4Prefix < 1 || b.IPv4Prefix > 32 {
		ck.add(path+".ipv4_prefix", "must be within [1, 32], got %d", b.IPv4Prefix)
	}
	if b.IPv6Prefix < 1 || b.IPv6Prefix > 128 {
		ck.add(path+".ipv6_prefix", "must be within [1, 128], got %d", b.IPv6Prefix)
	}
}

func (p Passive) validate(ck *checker, path string) {
	if p.MaxFails < -1 {
		ck.add(path+".max_fails", "must be a count, or -1 for off; got %d", p.MaxFails)
	}
	if p.CoolDown < 0 {
		ck.add(path+".cool_down", "must not be negative")
	}
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
