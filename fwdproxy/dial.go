package fwdproxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Resolver looks up host names. *net.Resolver implements it; tests pass
// their own to answer differently on each lookup.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc opens a TCP connection to an already checked address. It must
// dial exactly addr; it must not resolve names.
type DialFunc func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)

// denial is a refusal decided by the proxy (as opposed to an upstream
// failure): it becomes a 403 with its reason (or another status).
type denial struct {
	status int
	reason string
}

func (d *denial) Error() string { return d.reason }

// dialKey carries the allowing rule to the dialer's Control hook.
type dialKey struct{}

// resolve returns the addresses of t that may be dialled for a request
// allowed by rule r: every answer is checked, and one special address
// among them (loopback, private, ...) that r does not name in its private
// list refuses the whole request, so a name answering both a public and a
// private address cannot be used to reach the private one.
func (p *Proxy) resolve(ctx context.Context, t Target, r *compiledRule) ([]netip.AddrPort, error) {
	var addrs []netip.Addr
	if t.IP.IsValid() {
		addrs = []netip.Addr{t.IP}
	} else {
		ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
		defer cancel()
		as, err := p.cfg.Resolver.LookupNetIP(ctx, "ip", t.Host)
		if err != nil {
			return nil, &denial{status: 502, reason: fmt.Sprintf("cannot resolve %s", t.Host)}
		}
		addrs = as
	}
	if len(addrs) == 0 {
		return nil, &denial{status: 502, reason: fmt.Sprintf("%s has no addresses", t.Host)}
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if c := Special(a); c != "" && !r.allowsPrivate(a) {
			return nil, &denial{status: 403, reason: fmt.Sprintf("destination %s resolves to a %s address", t.Host, c)}
		}
		ap := netip.AddrPortFrom(a, t.Port)
		if p.isSelf(ap) {
			return nil, &denial{status: 508, reason: "request to the proxy itself (loop)"}
		}
		out = append(out, ap)
	}
	return out, nil
}

// dial connects to the first reachable of addrs.
func (p *Proxy) dial(ctx context.Context, addrs []netip.AddrPort, r *compiledRule) (net.Conn, error) {
	ctx = context.WithValue(ctx, dialKey{}, r)
	var firstErr error
	for _, a := range addrs {
		c, err := p.cfg.Dial(ctx, a)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// netDialer is the default DialFunc: a net.Dialer whose Control hook checks
// the socket address once more right before connect(2), so nothing that
// bypassed resolve (a code path added later, a pooled dial) reaches a
// special address.
func (p *Proxy) netDialer() DialFunc {
	d := &net.Dialer{
		Timeout:   p.cfg.DialTimeout,
		KeepAlive: 30 * time.Second,
		ControlContext: func(ctx context.Context, network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dial %s: not an address", address)
			}
			r, _ := ctx.Value(dialKey{}).(*compiledRule)
			if c := Special(ap.Addr()); c != "" && !r.allowsPrivate(ap.Addr()) {
				return &denial{status: 403, reason: fmt.Sprintf("dial %s: %s address refused", address, c)}
			}
			return nil
		},
	}
	return func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr.String())
	}
}

// isSelf reports whether a is one of the proxy's own listening addresses.
func (p *Proxy) isSelf(a netip.AddrPort) bool {
	p.selfMu.RLock()
	defer p.selfMu.RUnlock()
	for _, l := range p.self {
		if l.Port() != a.Port() {
			continue
		}
		if l.Addr() == a.Addr().Unmap() {
			return true
		}
		if l.Addr().IsUnspecified() && (a.Addr().IsLoopback() || a.Addr().IsUnspecified() || p.localAddr(a.Addr())) {
			return true
		}
	}
	return false
}

// localAddr reports whether a is an address of one of this host's
// interfaces.
func (p *Proxy) localAddr(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a.Unmap() {
				return true
			}
		}
	}
	return false
}
