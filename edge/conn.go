package edge

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
)

// clientConn is what the edge tracks per client connection, whatever the
// protocol: the upstream fetches it has started, and how many it
// abandoned. It bounds how much origin load one connection can cause:
// HTTP/2 lets a client open and reset streams far faster than any origin
// answers (the "rapid reset" pattern), and every reset miss would
// otherwise start a fetch.
type clientConn struct {
	conn      net.Conn      // nil for HTTP/3 (the QUIC connection is closed through closeFn)
	fetches   chan struct{} // one token per upstream fetch in progress
	abandoned atomic.Int64  // fetches led for a request the client gave up
	closeOnce sync.Once
	closeFn   func()
}

type clientConnKey struct{}

// newClientConn returns the state of a new connection.
func (s *Proxy) newClientConn(c net.Conn) *clientConn {
	cc := &clientConn{conn: c, fetches: make(chan struct{}, s.cfg.MaxFetchesPerConn)}
	if c != nil {
		cc.closeFn = func() { c.Close() }
	}
	return cc
}

// connFor returns the connection state of a request's context, or nil.
func connFor(ctx context.Context) *clientConn {
	cc, _ := ctx.Value(clientConnKey{}).(*clientConn)
	return cc
}

// acquireFetch waits for one of the connection's fetch slots
// (MaxFetchesPerConn) or for ctx to end.
func (cc *clientConn) acquireFetch(ctx context.Context) bool {
	if cc == nil {
		return true
	}
	select {
	case cc.fetches <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// releaseFetch returns a slot taken by acquireFetch.
func (cc *clientConn) releaseFetch() {
	if cc != nil {
		<-cc.fetches
	}
}

// abandon records that the client gave up a request whose fetch it led;
// past limit the connection is closed: it is resetting requests faster
// than it reads them.
func (s *Proxy) abandon(cc *clientConn) {
	if cc == nil || s.cfg.MaxAbandonedPerConn < 0 {
		return
	}
	if cc.abandoned.Add(1) > int64(s.cfg.MaxAbandonedPerConn) {
		cc.closeOnce.Do(func() {
			s.metrics.limitTrips.WithLabelValues("abandoned_fetches").Inc()
			s.log.Warn("closing a client connection that abandons its requests", "abandoned", cc.abandoned.Load())
			if cc.closeFn != nil {
				cc.closeFn()
			}
		})
	}
}
