package l4

import (
	"container/list"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/selfcdn/cdn/quiclb"
)

// udpListener serves one UDP socket. Its connection-tracking table maps a
// client address and port to a flow: the backend chosen for the flow's
// first datagram and a connected socket toward it. Later datagrams of the
// flow go to the same backend whatever happens to the backend set, until
// the flow is idle for UDPIdleTimeout, is evicted as the least recently
// used when the table is full, or its backend fails (then it is moved).
type udpListener struct {
	b    *Balancer
	pc   *net.UDPConn
	svc  uint64
	port int // BackendPort, 0: the backend's own

	mu    sync.Mutex
	flows map[netip.AddrPort]*list.Element // of *udpFlow
	lru   *list.List                       // front: most recently used
}

type udpFlow struct {
	l      *udpListener
	client netip.AddrPort
	be     *backend
	up     *net.UDPConn
	last   atomic.Int64
	once   sync.Once
}

func newUDPListener(b *Balancer, pc *net.UDPConn, svc uint64, port int) *udpListener {
	return &udpListener{b: b, pc: pc, svc: svc, port: port, flows: map[netip.AddrPort]*list.Element{}, lru: list.New()}
}

// close removes the flow from its table and releases it; safe to call
// more than once and from any goroutine.
func (f *udpFlow) close() {
	f.once.Do(func() {
		f.l.mu.Lock()
		if e, ok := f.l.flows[f.client]; ok && e.Value.(*udpFlow) == f {
			f.l.lru.Remove(e)
			delete(f.l.flows, f.client)
		}
		f.l.mu.Unlock()
		f.up.Close()
		f.be.gauge.Dec()
		f.l.b.untrack(f.client.Addr(), f.be, f)
	})
}

func (l *udpListener) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, src, err := l.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || l.b.closing.Load() {
				return
			}
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		var want *backend
		if q := l.b.cfg.QUICLB; q != nil {
			if dcid, ok := quiclb.DestConnID(buf[:n], q.Len()); ok {
				if sid, ok := q.ServerID(dcid); ok {
					want = l.b.byServerID(sid)
				}
			}
		}
		f := l.lookup(src, want)
		if f == nil {
			continue
		}
		f.last.Store(time.Now().UnixNano())
		if _, err := f.up.Write(buf[:n]); err == nil {
			l.b.metrics.bytesUp.Add(float64(n))
		}
	}
}

// lookup returns the flow of src, creating it for a new flow, or nil if
// the datagram is to be dropped. want, if not nil, is the backend a QUIC
// connection ID names: the flow goes there if it can.
func (l *udpListener) lookup(src netip.AddrPort, want *backend) *udpFlow {
	if want != nil && (!want.lb.Available() || want.draining.Load()) {
		want = nil // routing by connection ID yields to health, like the hash
	}
	l.mu.Lock()
	if e, ok := l.flows[src]; ok {
		f := e.Value.(*udpFlow)
		if want != nil && f.be != want {
			l.mu.Unlock()
			f.close() // the connection ID names another backend: follow it
		} else if f.be.lb.Healthy() && !f.be.lb.Ejected() {
			l.lru.MoveToFront(e)
			l.mu.Unlock()
			return f
		} else {
			l.mu.Unlock()
			f.close() // its backend failed: only then does a flow move
			l.b.metrics.moved.Inc()
		}
	} else {
		l.mu.Unlock()
	}
	var be *backend
	if want != nil && want.lb.TryAcquire() {
		be = want
		l.b.metrics.quicRouted.Inc()
	} else {
		be = l.b.pick(flowHash(src, l.svc), nil)
	}
	if be == nil {
		l.b.metrics.refused.WithLabelValues("no_backend").Inc()
		return nil
	}
	ua := be.udpAddr
	if l.port != 0 {
		ua = &net.UDPAddr{IP: ua.IP, Port: l.port, Zone: ua.Zone}
	}
	var la *net.UDPAddr
	if l.b.src.IsValid() {
		la = &net.UDPAddr{IP: l.b.src.AsSlice()}
	}
	up, err := net.DialUDP("udp", la, ua)
	if err != nil {
		be.lb.Release()
		be.connectErrs.Inc()
		return nil
	}
	f := &udpFlow{l: l, client: src, be: be, up: up}
	f.last.Store(time.Now().UnixNano())
	// A full table evicts the least recently used UDP flow of this
	// listener to make room.
	for {
		err = l.b.track(src.Addr(), be, f)
		if !errors.Is(err, errTableFull) || !l.evictOldest() {
			break
		}
	}
	if err != nil {
		l.b.metrics.refused.WithLabelValues(refusal(err)).Inc()
		be.lb.Release()
		up.Close()
		return nil
	}
	be.udpFlows.Inc()
	be.gauge.Inc()
	l.mu.Lock()
	if e, ok := l.flows[src]; ok { // a racing datagram made one: keep that
		l.mu.Unlock()
		f.close()
		return e.Value.(*udpFlow)
	}
	l.flows[src] = l.lru.PushFront(f)
	l.mu.Unlock()
	go f.replies()
	return f
}

func (l *udpListener) evictOldest() bool {
	l.mu.Lock()
	e := l.lru.Back()
	l.mu.Unlock()
	if e == nil {
		return false
	}
	e.Value.(*udpFlow).close()
	l.b.metrics.evicted.Inc()
	return true
}

// replies copies the backend's datagrams back to the client until the flow
// closes or is idle.
func (f *udpFlow) replies() {
	buf := make([]byte, 64<<10)
	idle := f.l.b.cfg.UDPIdleTimeout
	for {
		f.up.SetReadDeadline(time.Now().Add(idle))
		n, err := f.up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if time.Since(time.Unix(0, f.last.Load())) < idle {
					continue
				}
				f.l.b.metrics.expired.Inc()
			}
			f.close()
			return
		}
		f.last.Store(time.Now().UnixNano())
		if _, err := f.l.pc.WriteToUDPAddrPort(buf[:n], f.client); err == nil {
			f.l.b.metrics.bytesDown.Add(float64(n))
		}
	}
}

// sweep forgets idle flows whose reply reader has not noticed yet.
func (l *udpListener) sweep(ctx context.Context) {
	idle := l.b.cfg.UDPIdleTimeout
	t := time.NewTicker(max(idle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var old []*udpFlow
		cutoff := time.Now().Add(-idle).UnixNano()
		l.mu.Lock()
		for e := l.lru.Back(); e != nil; e = e.Prev() {
			f := e.Value.(*udpFlow)
			if f.last.Load() > cutoff {
				break
			}
			old = append(old, f)
		}
		l.mu.Unlock()
		for _, f := range old {
			f.close()
			l.b.metrics.expired.Inc()
		}
	}
}

// closeAll forgets every flow (shutdown).
func (l *udpListener) closeAll() {
	l.mu.Lock()
	all := make([]*udpFlow, 0, len(l.flows))
	for _, e := range l.flows {
		all = append(all, e.Value.(*udpFlow))
	}
	l.mu.Unlock()
	for _, f := range all {
		f.close()
	}
}
