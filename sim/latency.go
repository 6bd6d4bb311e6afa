package sim

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/selfcdn/cdn/config"
)

// Network delay without kernel help (netem is not available everywhere,
// and needs root). Each delayed link is a small TCP relay in the process:
// the node at the near end is configured to reach its upstream through the
// relay's address, the relay forwards to the real upstream, and every
// chunk of bytes is held for the link's one-way delay in each direction.
// Chunks are pipelined, as on a real long link: a stream of bytes arrives
// late, not slowly. The first bytes of a connection wait one more round
// trip, standing in for the TCP handshake.
//
// Why a relay per link rather than a delaying listener at the upstream:
// the edge dials its upstreams from the default source address (127.0.0.1
// on loopback), so a listener cannot tell which edge, and so which region,
// a connection comes from.

// relayChunk bounds one read; relayQueue bounds the chunks in flight per
// direction, so one connection holds at most relayChunk*relayQueue bytes.
const (
	relayChunk = 32 << 10
	relayQueue = 64
)

// relay is one delayed link: it accepts on ln and forwards to target.
type relay struct {
	from, to string // node names, for logs
	target   string // host:port
	delay    time.Duration
	ln       net.Listener
	log      *slog.Logger

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// newRelay listens on host:0 and forwards to target with a one-way delay.
func newRelay(host, target string, delay time.Duration, from, to string, log *slog.Logger) (*relay, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	r := &relay{from: from, to: to, target: target, delay: delay, ln: ln, log: log, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Addr is the relay's listening address.
func (r *relay) Addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer r.untrack(c)
			r.handle(c)
		}()
	}
}

func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

func (r *relay) handle(c net.Conn) {
	up, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		// The upstream is down: reset the client's connection, as the
		// real network would refuse it.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		r.log.Debug("link: upstream unreachable", "from", r.from, "to", r.to, "target", r.target, "err", err)
		return
	}
	if !r.track(up) {
		up.Close()
		return
	}
	defer r.untrack(up)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pipeDelayed(up, c, r.delay, 2*r.delay) }()
	go func() { defer wg.Done(); pipeDelayed(c, up, r.delay, 0) }()
	wg.Wait()
}

// Close stops accepting, closes every connection and waits for the
// relay's goroutines.
func (r *relay) Close() {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.ln.Close()
	r.wg.Wait()
}

type chunk struct {
	b   []byte
	due time.Time
	err error // set on the last chunk: the read error that ended the stream
}

// pipeDelayed copies src to dst, each chunk delay after it was read (the
// first one extra later). At src's end it half-closes dst; on a write error
// it closes src so the reader stops.
func pipeDelayed(dst, src net.Conn, delay, extraFirst time.Duration) {
	q := make(chan chunk, relayQueue)
	go func() {
		defer close(q)
		first := true
		for {
			b := make([]byte, relayChunk)
			n, err := src.Read(b)
			if n > 0 {
				d := delay
				if first {
					d += extraFirst
					first = false
				}
				q <- chunk{b: b[:n], due: time.Now().Add(d)}
			}
			if err != nil {
				q <- chunk{due: time.Now().Add(delay), err: err}
				return
			}
		}
	}()
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	failed := false
	for c := range q {
		if failed {
			continue // drain until the reader sees src closed
		}
		if wait := time.Until(c.due); wait > 0 {
			t.Reset(wait)
			<-t.C
		}
		if c.err != nil {
			if errors.Is(c.err, io.EOF) {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
					continue
				}
			}
			dst.Close()
			continue
		}
		if _, err := dst.Write(c.b); err != nil {
			failed = true
			src.Close()
		}
	}
}

// earthRadiusKm is the mean Earth radius.
const earthRadiusKm = 6371.0

// distanceKm is the great-circle (haversine) distance between two points.
func distanceKm(a, b config.Location) float64 {
	const rad = math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(math.Min(1, h)))
}

// OneWayDelay is the one-way delay of a link between two places under the
// distance model: half of rttPer1000km for every 1000 km of great-circle
// distance, rounded to the millisecond.
func OneWayDelay(a, b config.Location, rttPer1000km time.Duration) time.Duration {
	d := time.Duration(float64(rttPer1000km) * distanceKm(a, b) / 1000 / 2)
	return d.Round(time.Millisecond)
}
