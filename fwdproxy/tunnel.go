package fwdproxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// tunnelChunk is how much one splice round may carry before the idle
// deadline is renewed.
const tunnelChunk = 16 << 20

// tunnel serves CONNECT: it checks and dials the destination, answers 200
// and then carries bytes both ways until both sides have closed.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request, t Target, rule *compiledRule, a *access) {
	if max := int64(p.cfg.MaxTunnels); max > 0 && p.tunnels.Load() >= max {
		p.m.limits.WithLabelValues("tunnels").Inc()
		p.refuse(w, a, http.StatusServiceUnavailable, "too many open tunnels")
		return
	}
	p.tunnels.Add(1)
	defer p.tunnels.Add(-1)
	addrs, err := p.resolve(r.Context(), t, rule)
	if err != nil {
		p.fail(w, a, t, err)
		return
	}
	up, err := p.dial(r.Context(), addrs, rule)
	if err != nil {
		p.fail(w, a, t, err)
		return
	}
	if !p.track(up, true) {
		up.Close()
		p.refuse(w, a, http.StatusServiceUnavailable, "proxy is shutting down")
		return
	}
	defer p.track(up, false)
	defer up.Close()
	p.m.tunnelsTotal.Inc()
	a.status = http.StatusOK
	if r.ProtoMajor >= 2 {
		p.tunnelH2(w, r, up, a)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.fail(w, a, t, err)
		return
	}
	if !p.track(conn, true) {
		conn.Close()
		return
	}
	defer p.track(conn, false)
	defer conn.Close()
	conn.SetDeadline(time.Time{}) // the server's header deadline no longer applies
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// Bytes the client sent after the CONNECT head (a TLS ClientHello sent
	// without waiting) sit in the server's reader: pass them on first.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		m, err := up.Write(b)
		a.up += int64(m)
		if err != nil {
			return
		}
	}
	upBytes, downBytes := p.pipe(conn, up)
	a.up += upBytes
	a.bytes += downBytes
}

// pipe copies client→server and server→client at once, with zero-copy
// forwarding (splice(2) on Linux) when both ends are TCP connections. When
// one side finishes sending, the other side's write half is closed
// (half-close), and the other direction carries on. A tunnel idle for
// TunnelIdleTimeout in both directions is closed.
func (p *Proxy) pipe(client, server net.Conn) (up, down int64) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	var once sync.Once
	closeBoth := func() {
		once.Do(func() { client.Close(); server.Close() })
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		up = p.copyHalf(server, client, &last, closeBoth)
		p.m.tunnelBytes.WithLabelValues("up").Add(float64(up))
	}()
	go func() {
		defer wg.Done()
		down = p.copyHalf(client, server, &last, closeBoth)
		p.m.tunnelBytes.WithLabelValues("down").Add(float64(down))
	}()
	wg.Wait()
	closeBoth()
	return up, down
}

// copyHalf copies src to dst until src's EOF (then closes dst's write
// half), an error or idleness (then closes both).
func (p *Proxy) copyHalf(dst, src net.Conn, last *atomic.Int64, closeBoth func()) int64 {
	idle := p.cfg.TunnelIdleTimeout
	var r io.Reader = src
	if tc := rawTCP(src); tc != nil {
		r = tc // splice needs the *net.TCPConn itself
	}
	var w io.Writer = dst
	if tc := rawTCP(dst); tc != nil {
		w = tc
	}
	var total int64
	lr := &io.LimitedReader{}
	for {
		src.SetReadDeadline(time.Now().Add(idle))
		lr.R, lr.N = r, tunnelChunk
		n, err := io.Copy(w, lr)
		total += n
		if n > 0 {
			last.Store(time.Now().UnixNano())
		}
		switch {
		case err == nil && lr.N > 0: // EOF from src
			if cw, ok := w.(interface{ CloseWrite() error }); ok {
				if cw.CloseWrite() == nil {
					return total
				}
			}
			closeBoth()
			return total
		case err == nil: // chunk done, go on
		case errors.Is(err, os.ErrDeadlineExceeded):
			if n == 0 && time.Since(time.Unix(0, last.Load())) >= idle {
				p.m.limits.WithLabelValues("tunnel_idle").Inc()
				closeBoth()
				return total
			}
		default:
			closeBoth()
			return total
		}
	}
}

// tunnelH2 carries an HTTP/2 CONNECT stream (RFC 9113 §8.5): the request
// body is what the client sends, the response body what the server sends.
// END_STREAM from the client half-closes the server connection; the
// server's EOF ends the response stream.
func (p *Proxy) tunnelH2(w http.ResponseWriter, r *http.Request, up net.Conn, a *access) {
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	idle := p.cfg.TunnelIdleTimeout
	timer := time.AfterFunc(idle, func() {
		p.m.limits.WithLabelValues("tunnel_idle").Inc()
		up.Close()
		r.Body.Close()
	})
	defer timer.Stop()
	done := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(up, &activity{r: r.Body, t: timer, d: idle})
		if tc := rawTCP(up); tc != nil {
			tc.CloseWrite()
		}
		done <- n
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			timer.Reset(idle)
			if _, werr := w.Write(buf[:n]); werr != nil {
				break
			}
			a.bytes += int64(n)
			if rc.Flush() != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	up.Close()
	r.Body.Close()
	a.up += <-done
	p.m.tunnelBytes.WithLabelValues("up").Add(float64(a.up))
	p.m.tunnelBytes.WithLabelValues("down").Add(float64(a.bytes))
}

// activity resets an idle timer on every read.
type activity struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (a *activity) Read(b []byte) (int, error) {
	n, err := a.r.Read(b)
	if n > 0 {
		a.t.Reset(a.d)
	}
	return n, err
}
