package sim

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/fwdproxy"
)

// simProxy is the simulation's forward proxy (cdn proxy): its rules allow
// the simulation's own origin servers, which are on loopback and so need an
// explicit rule, and nothing else private.
type simProxy struct {
	p    *fwdproxy.Proxy
	mem  *cache.Memory
	addr string
	// origins are the origin URLs the proxy's rule allows.
	origins []string
	done    chan struct{}
}

// startProxy starts the forward proxy on a free loopback port. It stops
// when the simulation's context is done; waitProxy waits for that.
func (s *Sim) startProxy() error {
	var hosts, ports []string
	var private []netip.Prefix
	var origins []string
	for _, n := range s.Nodes() {
		if n.Role != RoleOrigin {
			continue
		}
		ap, err := netip.ParseAddrPort(n.Listen["http"])
		if err != nil {
			continue
		}
		hosts = append(hosts, ap.Addr().String())
		ports = append(ports, fmt.Sprint(ap.Port()))
		private = append(private, netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()))
		origins = append(origins, "http://"+ap.String())
	}
	if len(hosts) == 0 {
		return nil
	}
	mem, err := cache.NewMemory(cache.MemoryConfig{Budget: 32 << 20})
	if err != nil {
		return err
	}
	p, err := fwdproxy.New(fwdproxy.Config{
		Name:   "sim-proxy",
		Cache:  mem,
		Logger: s.log.With("node", "sim-proxy"),
		Rules: []fwdproxy.Rule{{
			Action: "allow", Hosts: hosts, Ports: ports, Private: private,
			Clients: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		}},
	})
	if err != nil {
		mem.Close()
		return fmt.Errorf("simulation proxy: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		mem.Close()
		return fmt.Errorf("simulation proxy: listen: %w", err)
	}
	sp := &simProxy{p: p, mem: mem, addr: ln.Addr().String(), origins: origins, done: make(chan struct{})}
	go func() { defer close(sp.done); p.Serve(ln) }()
	go func() { <-s.ctx.Done(); p.Close() }()
	s.fwd = sp
	return nil
}

// waitProxy waits until the proxy has stopped and releases its cache.
func (s *Sim) waitProxy() {
	if s.fwd == nil {
		return
	}
	<-s.fwd.done
	s.fwd.mem.Close()
}

// ProxyAddr returns the forward proxy's host:port, or "" if none runs.
func (s *Sim) ProxyAddr() string {
	if s.fwd == nil {
		return ""
	}
	return s.fwd.addr
}

// writeProxyGuide adds the forward proxy's lines to the guide.
func (s *Sim) writeProxyGuide(b *strings.Builder) {
	if s.fwd == nil {
		return
	}
	fmt.Fprintf(b, "\nForward proxy (cdn proxy) on %s, allowed to reach the origin only; the second request is a hit:\n", s.fwd.addr)
	u := s.fwd.origins[0] + "/gen/hello?size=4096&cc=max-age%3D60"
	fmt.Fprintf(b, "  curl -s -o /dev/null -D - -x http://%s '%s' | grep -i cache-status\n", s.fwd.addr, u)
	fmt.Fprintf(b, "  curl -s -x http://%s http://localhost:8080/     # 403: loopback is not allowed for other destinations\n", s.fwd.addr)
	fmt.Fprintf(b, "  curl -s http://%s/proxy.pac\n", s.fwd.addr)
}
