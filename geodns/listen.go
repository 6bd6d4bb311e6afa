package geodns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Limits of the listeners.
const (
	// udpBatch is how many datagrams one recvmmsg or sendmmsg moves.
	udpBatch = 32
	// maxUDPRequest is the read buffer of one datagram: larger queries
	// are cut and then fail the walk with FORMERR.
	maxUDPRequest = 4096
	// maxTCPConns bounds open TCP connections; more are closed at once
	// and counted in geodns_dropped_packets_total{reason="tcp_limit"}.
	maxTCPConns = 1024
	// tcpIdle is how long a TCP connection may wait for its next query
	// (RFC 7766 §6.2.3 suggests seconds), tcpIO bounds reading the rest
	// of a query once its length arrived, and writing the response.
	tcpIdle = 10 * time.Second
	tcpIO   = 2 * time.Second
	// bindAttempts bounds the search for a port free for both UDP and TCP
	// when addr asks for any port.
	bindAttempts = 20
)

// listeners are the sockets of one ListenAndServe.
type listeners struct {
	udp []net.PacketConn
	tcp net.Listener
}

// listen binds UDP and TCP to the same address. With a fixed port it opens
// that many UDP sockets sharing the port through SO_REUSEPORT, so that the
// kernel spreads queries over one reader per core. With port 0 it opens
// one: the kernel may hand a port already shared through SO_REUSEPORT to
// another program binding port 0, which would then receive our queries.
// With port 0 the UDP port is chosen first and TCP must get the same one;
// a few tries cover the rare case where another program holds that TCP
// port.
func listen(addr string, sockets int) (*listeners, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", addr, err)
	}
	if port == "0" || port == "" {
		var lastErr error
		for range bindAttempts {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				return nil, fmt.Errorf("listen udp %s: %w", addr, err)
			}
			p := pc.LocalAddr().(*net.UDPAddr).Port
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
			if err == nil {
				return &listeners{udp: []net.PacketConn{pc}, tcp: ln}, nil
			}
			pc.Close()
			lastErr = err
		}
		return nil, fmt.Errorf("listen tcp %s: %w", addr, lastErr)
	}
	l := &listeners{}
	lc := net.ListenConfig{Control: reusePort}
	if !multiSocket {
		sockets = 1
	}
	for i := range max(1, sockets) {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("listen udp %s (socket %d): %w", addr, i+1, err)
		}
		l.udp = append(l.udp, pc)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		l.close()
		return nil, fmt.Errorf("listen tcp %s: %w", addr, err)
	}
	l.tcp = ln
	return l, nil
}

func (l *listeners) close() {
	for _, pc := range l.udp {
		pc.Close()
	}
	if l.tcp != nil {
		l.tcp.Close()
	}
}

// reusePort sets SO_REUSEPORT on a socket before it is bound.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set SO_REUSEPORT on %s %s: %w", network, address, serr)
	}
	return nil
}

// udpReader answers the queries arriving on one UDP socket.
type udpReader interface {
	// serve reads and answers batches of queries until stop.
	serve()
	// stop makes serve return once it has answered the batch it holds.
	stop()
	// close releases the socket; it is called after serve returned.
	close()
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share: their
// Message types are the same type.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchReader is the portable reader: x/net's ReadBatch and WriteBatch
// through Go's netpoller (recvmmsg and sendmmsg where the system has
// them, one datagram per call elsewhere).
type batchReader struct {
	s       *Server
	pc      net.PacketConn
	bc      batchConn
	stopped atomic.Bool
}

func newBatchReader(s *Server, pc net.PacketConn) *batchReader {
	r := &batchReader{s: s, pc: pc}
	if a, ok := pc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		r.bc = ipv6.NewPacketConn(pc)
	} else {
		r.bc = ipv4.NewPacketConn(pc)
	}
	return r
}

func (r *batchReader) stop() {
	r.stopped.Store(true)
	_ = r.pc.SetReadDeadline(time.Now())
}

func (r *batchReader) close() { r.pc.Close() }

// serve reads batches of queries, answers each into its own scratch, and
// sends the answers in one batch, until stop and a read deadline wake it.
func (r *batchReader) serve() {
	s, bc := r.s, r.bc
	in := make([]ipv4.Message, udpBatch)
	out := make([]ipv4.Message, udpBatch)
	scs := make([]*scratch, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, maxUDPRequest)}
		out[i].Buffers = make([][]byte, 1)
		scs[i] = newScratch()
	}
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if r.stopped.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("read UDP queries", "err", err)
			continue
		}
		k := 0
		for i := range n {
			m := &in[i]
			ua, _ := m.Addr.(*net.UDPAddr)
			if ua == nil {
				continue
			}
			client, _ := netip.AddrFromSlice(ua.IP)
			sc := scs[i]
			sc.reset()
			resp := s.respond(m.Buffers[0][:m.N], client.Unmap(), false, sc)
			if resp == nil {
				continue
			}
			out[k].Buffers[0] = resp
			out[k].Addr = m.Addr
			k++
		}
		for sent := 0; sent < k; {
			w, err := bc.WriteBatch(out[sent:k], 0)
			if err != nil {
				// One unreachable client must not cost the rest of the
				// batch its answers: skip the failing datagram.
				s.log.Debug("write UDP responses", "client", out[sent].Addr, "err", err)
				w = max(w, 1)
			}
			sent += w
		}
		for i := range k {
			out[i].Addr = nil
		}
	}
}

// tcpServer answers DNS over TCP (RFC 7766): length-prefixed messages,
// several per connection, answered in order.
type tcpServer struct {
	s  *Server
	ln net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{} // guarded by mu
	done  bool                  // guarded by mu
	wg    sync.WaitGroup
}

func newTCPServer(s *Server, ln net.Listener) *tcpServer {
	return &tcpServer{s: s, ln: ln, conns: map[net.Conn]struct{}{}}
}

func (t *tcpServer) serve(ctx context.Context) {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			t.s.log.Warn("accept TCP connection", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond): // EMFILE and the like
			}
			continue
		}
		t.mu.Lock()
		if t.done || len(t.conns) >= maxTCPConns {
			t.mu.Unlock()
			t.s.metrics.dropped.WithLabelValues("tcp_limit").Inc()
			c.Close()
			continue
		}
		t.conns[c] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serveConn(c)
	}
}

// shutdown stops accepting and wakes every connection's reader; a query
// being answered is still written. It returns when all connections are
// closed.
func (t *tcpServer) shutdown() {
	t.ln.Close()
	t.mu.Lock()
	t.done = true
	for c := range t.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	t.mu.Unlock()
	t.wg.Wait()
}

func (t *tcpServer) serveConn(c net.Conn) {
	defer func() {
		c.Close()
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
		t.wg.Done()
	}()
	var client netip.Addr
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		client, _ = netip.AddrFromSlice(a.IP)
		client = client.Unmap()
	}
	sc := newScratch()
	req := make([]byte, 0, 512)
	var lenBuf [2]byte
	for {
		t.mu.Lock()
		done := t.done
		t.mu.Unlock()
		if done {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(tcpIdle))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		_ = c.SetReadDeadline(time.Now().Add(tcpIO))
		if cap(req) < n {
			req = make([]byte, n)
		}
		req = req[:n]
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		sc.reset()
		resp := t.s.respond(req, client, true, sc)
		if resp == nil {
			continue
		}
		out := make([]byte, 0, 2+len(resp))
		out = binary.BigEndian.AppendUint16(out, uint16(len(resp)))
		out = append(out, resp...)
		_ = c.SetWriteDeadline(time.Now().Add(tcpIO))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
