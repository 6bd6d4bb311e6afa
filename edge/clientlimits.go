package edge

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Slow and hostile clients.
//
// Three bounds, modelled on nginx's client_body_timeout and send_timeout
// and on a per-address connection limit:
//   - a request body that sends nothing for ClientBodyTimeout fails (the
//     client gets 400 and the upstream request is cancelled);
//   - a response the client does not read for SendTimeout is abandoned
//     and the connection closed, so a client that never reads holds
//     neither a goroutine nor a buffer for long;
//   - one address holds at most MaxConnsPerClient connections.

// writeChunk bounds one write under one send deadline, so a large body
// sent to a slow but reading client renews its deadline as it goes.
const writeChunk = 256 << 10

// armSend sets the response's write deadline SendTimeout from now.
func (w *statusWriter) armSend() {
	if w.sendTimeout > 0 {
		http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Now().Add(w.sendTimeout))
	}
}

// bodyDeadline renews a request body's read deadline before each read.
type bodyDeadline struct {
	rc      *http.ResponseController
	timeout time.Duration
}

func (d bodyDeadline) arm() {
	if d.rc != nil && d.timeout > 0 {
		d.rc.SetReadDeadline(time.Now().Add(d.timeout))
	}
}

// connLimitListener refuses connections from an address that already
// holds max of them.
type connLimitListener struct {
	net.Listener
	max     int
	onLimit func()

	mu    sync.Mutex
	count map[netip.Addr]int
}

func newConnLimitListener(ln net.Listener, max int, onLimit func()) net.Listener {
	if max <= 0 {
		return ln
	}
	return &connLimitListener{Listener: ln, max: max, onLimit: onLimit, count: map[netip.Addr]int{}}
}

func (l *connLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, perr := netip.ParseAddrPort(c.RemoteAddr().String())
		if perr != nil {
			return c, nil
		}
		a := ap.Addr().Unmap()
		l.mu.Lock()
		if l.count[a] >= l.max {
			l.mu.Unlock()
			c.Close()
			if l.onLimit != nil {
				l.onLimit()
			}
			continue
		}
		l.count[a]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, addr: a}, nil
	}
}

type limitedConn struct {
	net.Conn
	l    *connLimitListener
	addr netip.Addr
	once sync.Once
}

// ReadFrom keeps the connection's own ReadFrom (sendfile for disk hits)
// reachable through the wrapper.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) { return connReadFrom(c.Conn, r) }

// connReadFrom copies r to c with c's ReadFrom when it has one: on a TCP
// connection that is sendfile for a file, splice for a socket. net/http
// looks for it on the connection it serves, so every wrapper between the
// listener and net/http passes it on.
func connReadFrom(c net.Conn, r io.Reader) (int64, error) {
	if rf, ok := c.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c}, r)
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.count[c.addr]--; c.l.count[c.addr] <= 0 {
			delete(c.l.count, c.addr)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
