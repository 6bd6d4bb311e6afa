package edge

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The fast HTTP/1.1 engine.
//
// net/http builds a header map per request, clones it at WriteHeader,
// sorts and writes it, and runs a background read per request; for a
// cache hit that is most of the CPU it costs. The fast engine owns the
// cleartext HTTP/1.1 listener's connections and answers the requests it
// recognises as plain hits itself: one strict parse of the request, the
// stored head's header block written as pre-serialised bytes with only
// Age, Cache-Status, Via (and Date, Content-Length) spliced in, one write
// per batch of pipelined responses.
//
// It is a front, not a second implementation of HTTP. Anything that is
// not a plain GET or HEAD of a fresh object held in memory — a miss,
// a conditional or range request, a body, Upgrade, Expect, an unusual
// byte anywhere in the header section, a header section over the limits,
// an h2c preface — hands the connection to net/http with every byte not
// yet answered, and from then on net/http (behind the framing guard)
// serves the connection exactly as it serves one it accepted itself.
// Requests are consumed only when answered, and only whole header
// sections without a body are answered, so the hand-off always happens
// at a request boundary.

// Engine names, for Config.HTTP1Engine.
const (
	EngineFast   = "fast"
	EngineStdlib = "stdlib"
)

// fastEngine accepts the connections of one listener.
type fastEngine struct {
	s       *Proxy
	ln      net.Listener // nil when the TLS front gives it connections
	handoff *handoffListener
	tls     bool // connections are TLS (the TLS front's HTTP/1.1 ones)

	answered atomic.Int64 // requests the engine answered itself
	handed   atomic.Int64 // connections handed to net/http

	conns connSet
}

func newFastEngine(s *Proxy, ln net.Listener) *fastEngine {
	return &fastEngine{s: s, ln: ln, handoff: newHandoffListener(ln.Addr())}
}

// adopt serves a connection accepted elsewhere (the TLS front), in the
// calling goroutine.
func (e *fastEngine) adopt(c net.Conn) {
	if !e.conns.add(c) {
		c.Close()
		return
	}
	e.serveConn(c)
}

// serve accepts connections until the listener is closed.
func (e *fastEngine) serve() error {
	defer e.handoff.Close()
	return acceptLoop(e.ln, func(c net.Conn) {
		if !e.conns.add(c) {
			c.Close()
			return
		}
		go e.serveConn(c)
	})
}

// close stops accepting and closes every connection the engine still
// serves (they are between or inside hits, which take microseconds, or
// idle); connections handed to net/http are net/http's to shut down.
func (e *fastEngine) close() {
	if e.ln != nil {
		e.ln.Close()
	}
	e.conns.closeAll()
}

// prefixConn replays bytes the fast engine read but did not answer.
type prefixConn struct {
	net.Conn
	prefix []byte
}

// ReadFrom passes the connection's ReadFrom on.
func (c *prefixConn) ReadFrom(r io.Reader) (int64, error) { return connReadFrom(c.Conn, r) }

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// fastConn is one connection while the fast engine serves it.
type fastConn struct {
	e   *fastEngine
	c   net.Conn
	buf []byte // bytes read and not yet answered start at buf[start:]
	out []byte // responses not yet written
	req fastRequest
	// wdSet is when the write deadline was last renewed.
	wdSet time.Time
	// pending lookups whose bodies out (or bodies) still refer to.
	bodies net.Buffers
}

var fastBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

const (
	fastReadHeaderTimeout = 10 * time.Second // as the http.Server's ReadHeaderTimeout
	fastIdleTimeout       = 120 * time.Second
	fastInlineBody        = 32 << 10  // bodies up to this are copied into the output buffer
	fastFlushAt           = 256 << 10 // batched output written once past this
)

func (e *fastEngine) serveConn(c net.Conn) {
	defer e.conns.done(c)
	bp := fastBufPool.Get().(*[]byte)
	op := fastBufPool.Get().(*[]byte)
	fc := &fastConn{e: e, c: c, buf: (*bp)[:0], out: (*op)[:0]}
	handed := false
	defer func() {
		if p := recover(); p != nil {
			e.s.log.Error("fast HTTP/1.1 engine panicked; connection closed", "panic", p)
			c.Close()
			handed = true // the buffers may be in an unknown state: not pooled
		}
		if !handed {
			*bp, *op = fc.buf[:0], fc.out[:0]
			fastBufPool.Put(bp)
			fastBufPool.Put(op)
		}
	}()
	handed = fc.run()
}

// run serves requests until the connection ends (false) or is handed to
// net/http (true).
func (fc *fastConn) run() bool {
	s := fc.e.s
	start := 0
	// The read deadline: the idle timeout while no request is pending
	// (renewed at most once a second, not per request), the header
	// timeout from when a header section is found incomplete.
	const (
		dlNone = iota
		dlIdle
		dlHeader
	)
	dl, dlSet := dlNone, time.Time{}
	limit := s.cfg.MaxHeaderBytes + 4096
	for {
		end := -1
		if start < len(fc.buf) {
			end = bytes.Index(fc.buf[start:], crlfcrlf)
		}
		if end < 0 && start < len(fc.buf) && (bytes.Contains(fc.buf[start:], lflf) || bytes.Contains(fc.buf[start:], lfcrlf)) {
			// A header section ended by a bare LF: net/http's business.
			if !fc.flush() {
				fc.c.Close()
				return false
			}
			return fc.handOff(fc.buf[start:])
		}
		if end < 0 {
			// Answer what is batched before waiting for more.
			if !fc.flush() {
				fc.c.Close()
				return false
			}
			if start > 0 {
				n := copy(fc.buf, fc.buf[start:])
				fc.buf = fc.buf[:n]
				start = 0
			}
			if len(fc.buf) > limit {
				return fc.handOff(fc.buf) // net/http answers 431
			}
			if len(fc.buf) == 0 {
				if now := time.Now(); dl != dlIdle || now.Sub(dlSet) > time.Second {
					fc.c.SetReadDeadline(now.Add(fastIdleTimeout))
					dl, dlSet = dlIdle, now
				}
			} else if dl != dlHeader {
				fc.c.SetReadDeadline(time.Now().Add(fastReadHeaderTimeout))
				dl = dlHeader
			}
			if cap(fc.buf)-len(fc.buf) < 2048 {
				fc.buf = append(fc.buf, make([]byte, cap(fc.buf))...)[:len(fc.buf)]
			}
			n, err := fc.c.Read(fc.buf[len(fc.buf):cap(fc.buf)])
			fc.buf = fc.buf[:len(fc.buf)+n]
			if err != nil {
				if n > 0 || len(fc.buf) > 0 {
					if !errors.Is(err, io.EOF) {
						fc.c.Close()
						return false
					}
					// A last request without more to come: net/http
					// answers what can be answered.
					return fc.handOff(fc.buf)
				}
				fc.c.Close()
				return false
			}
			continue
		}
		section := fc.buf[start : start+end+4]
		if !fc.req.parse(section, s.cfg.MaxHeaderCount, s.cfg.MaxHeaderBytes) || !s.fastHit(fc, &fc.req) {
			if !fc.flush() {
				fc.c.Close()
				return false
			}
			return fc.handOff(fc.buf[start:])
		}
		fc.e.answered.Add(1)
		if len(fc.out) > fastFlushAt || len(fc.bodies) >= 64 {
			// A long pipeline is answered in slices: what one read
			// brought in never holds more than this in memory.
			if !fc.flush() {
				fc.c.Close()
				return false
			}
		}
		start += end + 4
		if dl == dlHeader {
			dl = dlNone // the next request gets a header timeout of its own
		}
		if start == len(fc.buf) {
			fc.buf = fc.buf[:0]
			start = 0
		}
	}
}

var crlfcrlf, lflf, lfcrlf = []byte("\r\n\r\n"), []byte("\n\n"), []byte("\n\r\n")

// flush writes the batched responses.
func (fc *fastConn) flush() bool {
	if len(fc.out) == 0 && len(fc.bodies) == 0 {
		return true
	}
	if d := fc.e.s.cfg.SendTimeout; d > 0 {
		// Renewed at most once a second: a response the client does not
		// read is abandoned after SendTimeout, give or take that second.
		if now := time.Now(); now.Sub(fc.wdSet) > time.Second {
			fc.c.SetWriteDeadline(now.Add(d))
			fc.wdSet = now
		}
	}
	var err error
	if len(fc.bodies) == 0 {
		_, err = fc.c.Write(fc.out)
	} else {
		bufs := append(fc.bodies, fc.out)
		_, err = bufs.WriteTo(fc.c)
		clear(fc.bodies)
		fc.bodies = fc.bodies[:0]
	}
	fc.out = fc.out[:0]
	return err == nil
}

// appendBody adds a response body to the output: copied when small,
// otherwise written by reference (writev) after what is batched before it.
func (fc *fastConn) appendBody(b []byte) {
	if len(b) <= fastInlineBody {
		fc.out = append(fc.out, b...)
		return
	}
	if len(fc.out) > 0 {
		fc.bodies = append(fc.bodies, bytes.Clone(fc.out))
		fc.out = fc.out[:0]
	}
	fc.bodies = append(fc.bodies, b)
}

// handOff gives the connection, with rest still to be read, to net/http.
func (fc *fastConn) handOff(rest []byte) bool {
	fc.c.SetReadDeadline(time.Time{})
	fc.c.SetWriteDeadline(time.Time{})
	pc := &prefixConn{Conn: fc.c, prefix: bytes.Clone(rest)}
	fc.e.conns.release(fc.c)
	fc.e.handed.Add(1)
	select {
	case fc.e.handoff.conns <- &framingConn{Conn: pc}:
	case <-fc.e.handoff.done:
		fc.c.Close()
	}
	return true
}

// fastRequest is a request as the fast engine parsed it. Its slices point
// into the connection's buffer and are valid until the next request.
type fastRequest struct {
	method  []byte
	path    []byte // the request target's path, raw
	query   []byte // after "?", raw ("/p?" keys as "/p", as net/http's RawQuery does)
	target  []byte
	host    []byte
	accEnc  bool // an Accept-Encoding field was sent
	names   [][]byte
	values  [][]byte
	userAgt []byte
}

// parse reads a header section (request line to the empty line) and
// reports whether the request is one the fast engine may answer: GET or
// HEAD over HTTP/1.1 with an origin-form target of plain characters, one
// Host, no body and none of the fields that change what a stored response
// answers. Every other request (and anything the framing guard or
// net/http would look at twice) is refused here, for net/http.
func (r *fastRequest) parse(b []byte, maxCount, maxBytes int) bool {
	*r = fastRequest{names: r.names[:0], values: r.values[:0]}
	line, rest, ok := cutCRLF(b)
	if !ok {
		return false
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false
	}
	r.method = line[:sp]
	if string(r.method) != http.MethodGet && string(r.method) != http.MethodHead {
		return false
	}
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 || string(line[sp+1:]) != "HTTP/1.1" {
		return false
	}
	r.target = line[:sp]
	if r.target[0] != '/' {
		return false
	}
	r.path = r.target
	if q := bytes.IndexByte(r.target, '?'); q >= 0 {
		r.path, r.query = r.target[:q], r.target[q+1:]
	}
	for _, c := range r.path {
		if !plainTargetByte[c] {
			return false
		}
	}
	for _, c := range r.query {
		// The query is used raw; "%" escapes are only bytes to it.
		if !plainTargetByte[c] && c != '%' {
			return false
		}
	}
	if bytes.Contains(r.path, []byte("//")) || bytes.Contains(r.path, []byte("/.")) {
		return false // net/http's path cleaning territory
	}
	size, count := 0, 0
	for {
		line, rest, ok = cutCRLF(rest)
		if !ok {
			return false
		}
		if len(line) == 0 {
			break
		}
		count++
		size += len(line) + 2
		if count > maxCount || size > maxBytes {
			return false
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false
		}
		name := line[:colon]
		for _, c := range name {
			if !tokenByte[c] {
				return false
			}
		}
		value := trimOWSBytes(line[colon+1:])
		for _, c := range value {
			if c < ' ' && c != '\t' || c >= 0x7f {
				return false
			}
		}
		switch len(name) {
		case 4:
			if asciiEqualFold(name, "Host") {
				if r.host != nil || len(value) == 0 {
					return false
				}
				for _, c := range value {
					if !hostByte[c] {
						return false
					}
				}
				r.host = value
			}
		case 5:
			if asciiEqualFold(name, "Range") {
				return false
			}
		case 6:
			if asciiEqualFold(name, "Expect") || asciiEqualFold(name, "Pragma") {
				return false
			}
		case 7:
			if asciiEqualFold(name, "Upgrade") {
				return false
			}
		case 8:
			if asciiEqualFold(name, "If-Match") || asciiEqualFold(name, "If-Range") || asciiEqualFold(name, "Cdn-Loop") {
				return false
			}
		case 10:
			if asciiEqualFold(name, "Connection") {
				if !asciiEqualFold(value, "keep-alive") {
					return false
				}
			} else if asciiEqualFold(name, "User-Agent") {
				r.userAgt = value
			}
		case 13:
			if asciiEqualFold(name, "Authorization") || asciiEqualFold(name, "If-None-Match") || asciiEqualFold(name, "Cache-Control") {
				return false
			}
		case 14:
			if asciiEqualFold(name, "Content-Length") {
				return false
			}
		case 15:
			if asciiEqualFold(name, "Accept-Encoding") {
				r.accEnc = true
			}
		case 17:
			if asciiEqualFold(name, "Transfer-Encoding") || asciiEqualFold(name, "If-Modified-Since") {
				return false
			}
		case 19:
			if asciiEqualFold(name, "If-Unmodified-Since") {
				return false
			}
		}
		r.names = append(r.names, name)
		r.values = append(r.values, value)
	}
	return len(rest) == 0 && r.host != nil
}

// header builds an http.Header of the request's fields (for Vary).
func (r *fastRequest) header() http.Header {
	h := make(http.Header, len(r.names))
	for i, n := range r.names {
		k := http.CanonicalHeaderKey(string(n))
		h[k] = append(h[k], string(r.values[i]))
	}
	return h
}

func cutCRLF(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i <= 0 || b[i-1] != '\r' {
		return nil, nil, false // bare LF: net/http's business
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, false
	}
	return line, b[i+1:], true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

var plainTargetByte, tokenByte, hostByte [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		// unreserved and sub-delims, ":", "@", "/", "?", "=": a target
		// whose escaped form is itself (no "%", so no decoding question).
		plainTargetByte[c] = alnum || bytes.IndexByte([]byte("-._~!$&'()*+,;=:@/?"), b) >= 0
		tokenByte[c] = alnum || bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
		hostByte[c] = alnum || bytes.IndexByte([]byte("-.:[]_"), b) >= 0
	}
}
