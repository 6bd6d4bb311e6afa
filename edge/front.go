package edge

import (
	"errors"
	"net"
	"sync"
	"time"
)

// What accepts connections ahead of net/http (the fast HTTP/1.1 engine,
// the TLS front) shares the accept loop and the bookkeeping that lets
// close end every connection it still holds and wait for them.

// front accepts a listener's connections ahead of net/http.
type front interface {
	serve() error
	close()
}

// acceptLoop accepts from ln until it fails for good, backing off on
// temporary errors as net/http does, and passes each connection to handle
// (which must not block).
func acceptLoop(ln net.Listener, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		handle(c)
	}
}

// connSet is the connections a front is serving.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// add registers c, to be served; the caller calls done(c) when it is no
// longer the front's. It reports false once closeAll began. The wg.Add
// happens under mu, before closeAll can set closed and Wait, so the two
// never race.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// release forgets c without ending its service (a connection handed to
// net/http, which closeAll must not close).
func (s *connSet) release(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// done ends the service of c.
func (s *connSet) done(c net.Conn) {
	s.release(c)
	s.wg.Done()
}

// closeAll refuses new connections, closes those still held and waits
// for their services to end.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// handoffListener gives net/http the connections a front hands over.
type handoffListener struct {
	addr      net.Addr
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
