package edge

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// tlsFront terminates TLS for the HTTPS listener itself, so that HTTP/1.1
// over TLS passes the framing guard like cleartext HTTP/1.1 does: the
// guard must read the plaintext, and net/http recognises a TLS connection
// only as a bare *tls.Conn. After the handshake, a connection that chose
// h2 goes to net/http's HTTPS server as the *tls.Conn (HTTP/2 has no
// Content-Length/Transfer-Encoding ambiguity); any other goes, wrapped in
// the framing guard, to a second server that speaks HTTP/1.1 only and
// gives the handler the connection's TLS state (see tlsStateFor).
type tlsFront struct {
	ln  net.Listener
	cfg *tls.Config
	h2  *handoffListener
	h1  *handoffListener
	// fast, if set, serves the HTTP/1.1 connections first and hands them
	// to h1 as it declines requests.
	fast *fastEngine

	ctx    context.Context
	cancel context.CancelFunc
	conns  connSet // connections in their handshake (or served by fast)
}

const tlsHandshakeTimeout = 10 * time.Second

func newTLSFront(ln net.Listener, cfg *tls.Config) *tlsFront {
	ctx, cancel := context.WithCancel(context.Background())
	return &tlsFront{ln: ln, cfg: cfg, h2: newHandoffListener(ln.Addr()), h1: newHandoffListener(ln.Addr()), ctx: ctx, cancel: cancel}
}

func (f *tlsFront) serve() error {
	defer f.h1.Close()
	defer f.h2.Close()
	return acceptLoop(f.ln, func(c net.Conn) {
		if !f.conns.add(c) {
			c.Close()
			return
		}
		go f.handshake(c)
	})
}

func (f *tlsFront) handshake(raw net.Conn) {
	defer f.conns.done(raw)
	tc := tls.Server(raw, f.cfg)
	ctx, cancel := context.WithTimeout(f.ctx, tlsHandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		raw.Close()
		return
	}
	to, c := f.h1, net.Conn(&framingConn{Conn: tc})
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		to, c = f.h2, tc
	} else if f.fast != nil {
		f.fast.adopt(tc)
		return
	}
	select {
	case to.conns <- c:
	case <-to.done:
		raw.Close()
	case <-f.ctx.Done():
		raw.Close()
	}
}

// close stops accepting, abandons handshakes in progress and closes the
// connections the fast engine still serves.
func (f *tlsFront) close() {
	f.ln.Close()
	f.cancel()
	if f.fast != nil {
		f.fast.close()
	}
	f.conns.closeAll()
}

type tlsStateKey struct{}

// tlsConnContext records the TLS state of a connection the front handed
// over for HTTP/1.1, for the handler (net/http sets Request.TLS only for a
// bare *tls.Conn).
func tlsConnContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		c = fc.Conn
	}
	if pc, ok := c.(*prefixConn); ok {
		c = pc.Conn // handed over by the fast engine
	}
	if tc, ok := c.(*tls.Conn); ok {
		st := tc.ConnectionState()
		return context.WithValue(ctx, tlsStateKey{}, &st)
	}
	return ctx
}

// tlsStateFor returns the TLS state tlsConnContext recorded, or nil.
func tlsStateFor(ctx context.Context) *tls.ConnectionState {
	st, _ := ctx.Value(tlsStateKey{}).(*tls.ConnectionState)
	return st
}
