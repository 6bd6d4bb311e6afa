package l4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/selfcdn/cdn/lb"
	"github.com/selfcdn/cdn/proxyproto"
)

type tcpListener struct {
	b    *Balancer
	ln   *net.TCPListener
	svc  uint64
	port int // BackendPort, 0: the backend's own
}

func (l *tcpListener) serve() {
	var delay time.Duration
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if l.b.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off and keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.b.logger.Warn("l4 accept", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		go l.b.handleTCP(c, l.svc, l.port)
	}
}

// tcpFlow is one proxied TCP connection: client side and backend side.
type tcpFlow struct {
	client, upstream *net.TCPConn
	once             sync.Once
	last             atomic.Int64 // Unix nanos of the last bytes moved either way
	eofs             atomic.Int32 // directions that reached EOF
}

func (f *tcpFlow) close() {
	f.once.Do(func() {
		f.client.Close()
		if f.upstream != nil {
			f.upstream.Close()
		}
	})
}

func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

func (b *Balancer) handleTCP(c *net.TCPConn, svc uint64, port int) {
	src := addrPort(c.RemoteAddr())
	h := flowHash(src, svc)
	f := &tcpFlow{client: c}
	if max := b.cfg.MaxConnsPerClient; max > 0 {
		// Refuse before dialling a backend; track checks again exactly.
		b.mu.Lock()
		full := b.clients[src.Addr()] >= max
		b.mu.Unlock()
		if full {
			b.metrics.refused.WithLabelValues("client_limit").Inc()
			c.Close()
			return
		}
	}
	be, up := b.connect(h, port)
	if be == nil {
		b.metrics.refused.WithLabelValues("no_backend").Inc()
		c.Close()
		return
	}
	f.upstream = up
	if err := b.track(src.Addr(), be, f); err != nil {
		b.metrics.refused.WithLabelValues(refusal(err)).Inc()
		be.lb.Release()
		f.close()
		return
	}
	defer b.untrack(src.Addr(), be, f)
	defer f.close()
	be.tcpFlows.Inc()
	be.gauge.Inc()
	defer be.gauge.Dec()
	var header []byte
	if b.cfg.ProxyProtocol != ProxyOff {
		hd := proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Transport: proxyproto.TCP,
			Source: src, Destination: addrPort(c.LocalAddr())}
		if b.cfg.ProxyProtocol == ProxyV1 {
			hd.Version = 1
		}
		var hb bytes.Buffer
		hd.WriteTo(&hb)
		header = hb.Bytes()
	}
	f.last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.pipe(f, up, c, b.metrics.bytesUp, header)
	}()
	b.pipe(f, c, up, b.metrics.bytesDown, nil)
	wg.Wait()
}

// firstBytesWait is how long the PROXY header waits for the client's first
// bytes to go in the same write (and segment). Clients of HTTP and TLS
// speak first and have usually sent by the time the backend connection is
// up; for a protocol where the server speaks first, the header goes alone
// after this.
const firstBytesWait = 2 * time.Millisecond

// connect dials the flow's backend, failing over along its Maglev order on
// connect errors (each one counted against the backend's passive health).
func (b *Balancer) connect(h uint64, port int) (*backend, *net.TCPConn) {
	var skip map[*lb.Backend]bool
	d := b.dialer(b.cfg.ConnectTimeout)
	for range 8 {
		be := b.pick(h, skip)
		if be == nil {
			return nil, nil
		}
		addr := be.cfg.Addr
		if port != 0 {
			addr = withPort(addr, port)
		}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err == nil {
			be.lb.ReportResult(true)
			return be, c.(*net.TCPConn)
		}
		be.lb.Release()
		be.lb.ReportResult(false)
		be.connectErrs.Inc()
		b.logger.Debug("l4 connect", "backend", be.cfg.Name, "addr", addr, "err", err)
		if skip == nil {
			skip = map[*lb.Backend]bool{}
		}
		skip[be.lb] = true
	}
	return nil, nil
}

// bytesCounter is the part of a prometheus.Counter that pipe uses.
type bytesCounter interface{ Add(float64) }

// pipe copies src to dst until src ends, then half-closes dst (CloseWrite),
// so each direction ends on its own. It copies with dst.ReadFrom over an
// io.LimitedReader of the *net.TCPConn src, the pair net's splice(2) path
// takes on Linux (TestSpliceReadFromPath pins that), in rounds of
// CopyChunk bytes so the idle deadline and the byte counters move between
// rounds. Errors other than EOF (reset, idle timeout) close the flow.
func (b *Balancer) pipe(f *tcpFlow, dst, src *net.TCPConn, counter bytesCounter, header []byte) {
	idle := b.cfg.TCPIdleTimeout
	if done := b.pipeSmall(f, dst, src, counter, header); done {
		return
	}
	lr := &io.LimitedReader{R: src}
	for {
		src.SetReadDeadline(time.Now().Add(idle))
		lr.N = b.cfg.CopyChunk
		n, err := dst.ReadFrom(lr)
		if n > 0 {
			counter.Add(float64(n))
			f.last.Store(time.Now().UnixNano())
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Idle only if the other direction was quiet too.
				if time.Since(time.Unix(0, f.last.Load())) < idle {
					continue
				}
				b.metrics.idleTimeouts.Inc()
			}
			f.close()
			return
		}
		if lr.N > 0 { // the round ended before its limit: EOF
			if f.eofs.Add(1) < 2 {
				dst.CloseWrite()
			}
			// Else the other direction ended first: both sockets are read
			// to EOF and the flow's close sends the FIN, so the shutdown
			// would be a wasted system call.
			return
		}
	}
}

// smallBufs are the buffers of pipeSmall.
var smallBufs = sync.Pool{New: func() any { b := make([]byte, smallCopy); return &b }}

// smallCopy is the most a direction copies through user space before it
// moves to splice: a short flow (a request and its answer) costs a read
// and a write per direction, without the pipe splice goes through.
const smallCopy = 16 << 10

// pipeSmall copies through a buffer while every read returns less than
// the buffer holds, as in short request-response flows; it reports true
// when the direction is over (EOF, or an error that closed the flow), and
// false when a full read says the flow is bulk and splice should take it.
// A PROXY header goes first, in one write with the first bytes that come
// within firstBytesWait.
func (b *Balancer) pipeSmall(f *tcpFlow, dst, src *net.TCPConn, counter bytesCounter, header []byte) bool {
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	buf := *bp
	idle := b.cfg.TCPIdleTimeout
	if len(header) > 0 {
		copy(buf, header)
		src.SetReadDeadline(time.Now().Add(firstBytesWait))
		n, err := src.Read(buf[len(header):])
		dst.SetWriteDeadline(time.Now().Add(b.cfg.ConnectTimeout))
		if _, werr := dst.Write(buf[:len(header)+n]); werr != nil {
			b.logger.Debug("l4 write PROXY header", "err", werr)
			f.close()
			return true
		}
		dst.SetWriteDeadline(time.Time{})
		if n > 0 {
			counter.Add(float64(n))
			f.last.Store(time.Now().UnixNano())
		}
		var ne net.Error
		switch {
		case err == io.EOF:
			if f.eofs.Add(1) < 2 {
				dst.CloseWrite()
			}
			return true
		case err != nil && !(errors.As(err, &ne) && ne.Timeout()):
			f.close()
			return true
		case n == len(buf)-len(header):
			return false
		}
	}
	for {
		src.SetReadDeadline(time.Now().Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				f.close()
				return true
			}
			counter.Add(float64(n))
			f.last.Store(time.Now().UnixNano())
		}
		if err == io.EOF {
			if f.eofs.Add(1) < 2 {
				dst.CloseWrite()
			}
			return true
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, f.last.Load())) < idle {
				continue
			}
			if ne != nil && ne.Timeout() {
				b.metrics.idleTimeouts.Inc()
			}
			f.close()
			return true
		}
		if n == len(buf) {
			return false // bulk: splice from here on
		}
	}
}

// refusal names a track error in cdn_l4_refused_total.
func refusal(err error) string {
	switch {
	case errors.Is(err, errClientLimit):
		return "client_limit"
	case errors.Is(err, errShutdown):
		return "shutdown"
	}
	return "conntrack_full"
}

// withPort replaces the port of host:port.
func withPort(addr string, port int) string {
	host, _, ok := cutLast(addr, ':')
	if !ok {
		host = addr
	}
	return host + ":" + strconv.Itoa(port)
}
