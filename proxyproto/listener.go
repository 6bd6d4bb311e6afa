package proxyproto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultHeaderTimeout is ListenerConfig.HeaderTimeout's default.
const DefaultHeaderTimeout = 5 * time.Second

// ListenerConfig configures NewListener.
type ListenerConfig struct {
	// Trusted reports whether a peer address is a balancer allowed to send
	// PROXY headers. Connections from trusted peers must start with a
	// valid header; the others must not. The address is unmapped (an IPv4
	// peer on a dual-stack socket is given as IPv4). If nil, no peer is
	// trusted, and every connection that starts with a PROXY signature is
	// refused. It is called from one goroutine per connection and must be
	// safe for concurrent use.
	Trusted func(netip.Addr) bool
	// HeaderTimeout bounds how long a connection may take to send its
	// header (trusted peers) or its first bytes (untrusted peers, which
	// are then passed through as they are). Default 5s.
	HeaderTimeout time.Duration
	// Logger receives one Debug line per refused connection. If nil,
	// nothing is logged.
	Logger *slog.Logger
}

// Stats counts what a Listener did; read it with Listener.Stats.
type Stats struct {
	// Proxied is connections from trusted peers with a valid header.
	Proxied int64
	// Passed is untrusted connections passed through unchanged.
	Passed int64
	// Refused is connections closed before Accept returned them: trusted
	// peers without a valid header, untrusted peers that sent one.
	Refused int64
}

// Listener wraps a net.Listener: each accepted connection has its PROXY
// header checked off the Accept path, so a slow client delays only itself,
// and Accept returns connections in the order their checks complete.
//
// Accept returns *Conn values for trusted peers and for untrusted peers
// whose first bytes were read; untrusted connections that sent nothing
// within HeaderTimeout are returned as they are (a server-speaks-first
// protocol still works).
type Listener struct {
	inner  net.Listener
	cfg    ListenerConfig
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
	errMu  sync.Mutex
	err    error // the inner listener's Accept error, once it failed
	closed atomic.Bool

	proxied, passed, refused atomic.Int64
}

var _ net.Listener = (*Listener)(nil)

// NewListener starts accepting on inner and returns the wrapping listener.
// Close the returned listener, not inner (Close closes inner).
func NewListener(inner net.Listener, cfg ListenerConfig) *Listener {
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Listener{inner: inner, cfg: cfg, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !l.closed.Load() {
				// Temporary (e.g. EMFILE surfaces as such): back off as
				// net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
				}
			}
			l.errMu.Lock()
			l.err = err
			l.errMu.Unlock()
			l.once.Do(func() { close(l.done) })
			return
		}
		delay = 0
		go l.handshake(c)
	}
}

// handshake checks c's header and hands it to Accept, or closes it.
func (l *Listener) handshake(c net.Conn) {
	peer := addrOf(c.RemoteAddr())
	trusted := l.cfg.Trusted != nil && peer.IsValid() && l.cfg.Trusted(peer.Addr())
	out, err := l.check(c, trusted)
	if err != nil {
		l.refused.Add(1)
		l.cfg.Logger.Debug("PROXY protocol: connection refused", "peer", c.RemoteAddr().String(), "trusted", trusted, "err", err)
		c.Close()
		return
	}
	select {
	case l.conns <- out:
	case <-l.done:
		out.Close()
	}
}

func (l *Listener) check(c net.Conn, trusted bool) (net.Conn, error) {
	deadline := time.Now().Add(l.cfg.HeaderTimeout)
	if err := c.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("set header deadline: %w", err)
	}
	br := bufio.NewReaderSize(c, 256)
	if trusted {
		h, err := Read(br)
		if err != nil {
			return nil, fmt.Errorf("trusted peer %v: %w", c.RemoteAddr(), err)
		}
		if err := c.SetReadDeadline(time.Time{}); err != nil {
			return nil, fmt.Errorf("clear header deadline: %w", err)
		}
		l.proxied.Add(1)
		return newConn(c, br, h), nil
	}
	// Untrusted: read until the first bytes tell whether a signature is
	// there. A timeout before that passes the connection through.
	var prefix []byte
	for {
		p, err := br.Peek(len(prefix) + 1)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, io.EOF) {
				break // nothing (more) arrived: not a header
			}
			return nil, fmt.Errorf("untrusted peer %v: read first bytes: %w", c.RemoteAddr(), err)
		}
		prefix = p
		m := Detect(prefix)
		if m == V1 || m == V2 {
			return nil, fmt.Errorf("untrusted peer %v sent a PROXY v%d header", c.RemoteAddr(), m-V1+1)
		}
		if m == NoSignature {
			break
		}
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("clear header deadline: %w", err)
	}
	l.passed.Add(1)
	if br.Buffered() == 0 {
		return c, nil
	}
	return newConn(c, br, nil), nil
}

// Accept returns the next connection whose header check passed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
	}
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.err != nil && !l.closed.Load() {
		return nil, l.err
	}
	return nil, net.ErrClosed
}

// Close closes the inner listener; connections still in their header check
// are closed as they finish it.
func (l *Listener) Close() error {
	l.closed.Store(true)
	err := l.inner.Close()
	l.once.Do(func() { close(l.done) })
	return err
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Stats returns the listener's counters so far.
func (l *Listener) Stats() Stats {
	return Stats{Proxied: l.proxied.Load(), Passed: l.passed.Load(), Refused: l.refused.Load()}
}

// Conn is a connection whose first bytes were read by a Listener.
// RemoteAddr and LocalAddr report the PROXY header's source and
// destination when it carried them (a Proxy command over TCP or UDP), and
// the real addresses otherwise (LOCAL, UNKNOWN, untrusted peers).
type Conn struct {
	net.Conn
	r      *bufio.Reader // bytes read past the header; nil once drained
	header *Header
	remote net.Addr
	local  net.Addr
}

// ReadFrom keeps the connection's own ReadFrom (sendfile, splice)
// reachable through the wrapper.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func newConn(c net.Conn, br *bufio.Reader, h *Header) *Conn {
	pc := &Conn{Conn: c, header: h, remote: c.RemoteAddr(), local: c.LocalAddr()}
	if br.Buffered() > 0 {
		pc.r = br
	}
	if h != nil && h.HasAddrs() {
		pc.remote = &net.TCPAddr{IP: h.Source.Addr().AsSlice(), Port: int(h.Source.Port())}
		pc.local = &net.TCPAddr{IP: h.Destination.Addr().AsSlice(), Port: int(h.Destination.Port())}
	}
	return pc
}

// Read reads the bytes that arrived after the header, then the connection.
func (c *Conn) Read(p []byte) (int, error) {
	if c.r != nil {
		n, err := c.r.Read(p)
		if c.r.Buffered() == 0 {
			c.r = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return c.Conn.Read(p)
}

// Header returns the PROXY header, or nil for an untrusted connection.
func (c *Conn) Header() *Header { return c.header }

// RemoteAddr returns the client's address from the header if it had one.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr returns the address the client connected to, from the header
// if it had one.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RealRemoteAddr returns the peer address of the underlying connection
// (the balancer, for a proxied connection).
func (c *Conn) RealRemoteAddr() net.Addr { return c.Conn.RemoteAddr() }

// NetConn returns the underlying connection, as tls.Conn.NetConn does.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// CloseWrite shuts down the writing side if the underlying connection
// supports it (TCP does).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("close write on %T: not supported", c.Conn)
}

// addrOf returns a's IP and port, unmapped, or the zero AddrPort.
func addrOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
