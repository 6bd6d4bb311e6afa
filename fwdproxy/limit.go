package fwdproxy

import (
	"net"
	"net/netip"
	"sync"
)

// limitListener closes connections beyond MaxConnsPerClient per client
// address at accept.
type limitListener struct {
	net.Listener
	p *Proxy

	mu  sync.Mutex // guards per
	per map[netip.Addr]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		a := clientAddr(c.RemoteAddr().String())
		max := l.p.cfg.MaxConnsPerClient
		l.mu.Lock()
		if max > 0 && l.per[a] >= max {
			l.mu.Unlock()
			l.p.m.limits.WithLabelValues("conns_per_client").Inc()
			c.Close()
			continue
		}
		l.per[a]++
		l.mu.Unlock()
		l.p.m.conns.Inc()
		lc := &limitedConn{Conn: c, l: l, addr: a}
		if tc, ok := c.(*net.TCPConn); ok {
			return &limitedTCPConn{TCPConn: tc, lc: lc}, nil
		}
		return lc, nil
	}
}

func (l *limitListener) release(a netip.Addr) {
	l.mu.Lock()
	if l.per[a]--; l.per[a] <= 0 {
		delete(l.per, a)
	}
	l.mu.Unlock()
	l.p.m.conns.Dec()
}

// limitedConn releases its client's slot once, on Close.
type limitedConn struct {
	net.Conn
	l    *limitListener
	addr netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}

// limitedTCPConn keeps *net.TCPConn's methods (ReadFrom, WriteTo,
// CloseWrite) visible so hijacked tunnels can splice, while Close still
// releases the slot.
type limitedTCPConn struct {
	*net.TCPConn
	lc *limitedConn
}

func (c *limitedTCPConn) Close() error { return c.lc.Close() }

// rawTCP returns the *net.TCPConn under c, or nil.
func rawTCP(c net.Conn) *net.TCPConn {
	switch v := c.(type) {
	case *net.TCPConn:
		return v
	case *limitedTCPConn:
		return v.TCPConn
	}
	return nil
}
