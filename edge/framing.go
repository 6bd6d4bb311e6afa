package edge

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// Request smuggling guard.
//
// net/http resolves a request that carries both Content-Length and
// Transfer-Encoding as RFC 9112 §6.3 allows (Transfer-Encoding wins, and
// Content-Length is dropped before the handler sees it), and it unfolds
// obs-folded field lines (§5.2), so that "Transfer-Encoding:\r\n chunked"
// is chunked to it. A CDN in front of other people's servers should be
// stricter: rejecting such requests with 400 and closing the connection
// removes any chance that a server behind us frames them differently.
// framingConn follows the HTTP/1 message framing of a cleartext connection
// as bytes pass through to net/http, and records which requests (by their
// order on the connection) must be rejected:
//
//   - both Content-Length and Transfer-Encoding (§6.1, §6.3);
//   - an obs-fold anywhere in the header section (§5.2: a server MUST
//     reject it or unfold it; unfolding is what hides Transfer-Encoding);
//   - whitespace between a field name and its colon (§5.1: MUST reject;
//     net/http would read "Content-Length :" as another field);
//   - Transfer-Encoding in an HTTP/1.0 request (§6.1: the framing is
//     faulty; net/http ignores the field there);
//   - a Transfer-Encoding other than exactly "chunked", an invalid
//     Content-Length, or Content-Length lines that disagree (net/http
//     refuses those too; rejecting them here keeps the guard in step);
//   - a line longer than maxFramingLine, or a chunk-size line the guard
//     cannot read: it can no longer follow the framing, so that request
//     and every later one on the connection are rejected.
//
// It stops watching at an HTTP/2 preface, or when the server says the
// connection switched protocols (stopWatching). A request with Upgrade
// that is answered normally keeps being watched: the next request on the
// connection is HTTP/1 again.

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type framingState int

const (
	fsHeaders framingState = iota
	fsBody
	fsChunkSize
	fsChunkData
	fsChunkCRLF
	fsTrailers
	fsOpaque // not HTTP/1 any more (h2c preface, switched protocols)
	fsLost   // framing unknown: every later request is rejected
)

const maxFramingLine = 128 << 10

// requestFraming is what the guard concluded about one request.
type requestFraming struct {
	reject  bool
	chunked bool
	length  int64 // body length when not chunked
}

type framingConn struct {
	net.Conn

	// Read-side parser state, touched only by the goroutine reading the
	// connection (net/http's connection reader).
	state     framingState
	line      []byte
	first     bool // next header line is the request line
	hasCL     bool
	hasTE     bool
	teLines   int
	chunked   bool
	http10    bool
	bad       bool // a rule above rejects the request
	clValue   int64
	remaining int64
	// parsedReqs counts the requests whose header section is complete.
	parsedReqs int

	// onRequest, if not nil, is called with each request's verdict as its
	// header section ends (tests use it to compare with net/http). It runs
	// on the reading goroutine and must not block.
	onRequest func(index int, f requestFraming)

	stopped atomic.Bool // stopWatching was called

	mu      sync.Mutex // guards flagged, lost and served
	flagged map[int]bool
	lost    int // 1 + the index from which every request is rejected; 0: none
	served  int
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.state != fsOpaque && c.state != fsLost && !c.stopped.Load() {
		c.feed(p[:n])
	}
	return n, err
}

// stopWatching tells the guard that the connection no longer carries
// HTTP/1 messages (a 101 Switching Protocols was sent). Safe to call from
// any goroutine.
// ReadFrom passes the connection's ReadFrom on (writes are not watched).
func (c *framingConn) ReadFrom(r io.Reader) (int64, error) { return connReadFrom(c.Conn, r) }

func (c *framingConn) stopWatching() { c.stopped.Store(true) }

func (c *framingConn) resetRequest() {
	c.first, c.hasCL, c.hasTE, c.teLines, c.chunked, c.http10, c.bad, c.clValue = true, false, false, 0, false, false, false, 0
}

func (c *framingConn) init() {
	if c.line == nil {
		c.line = make([]byte, 0, 256)
		c.resetRequest()
	}
}

func (c *framingConn) feed(b []byte) {
	c.init()
	for len(b) > 0 && c.state != fsOpaque && c.state != fsLost {
		switch c.state {
		case fsBody, fsChunkData:
			n := min(int64(len(b)), c.remaining)
			c.remaining -= n
			b = b[n:]
			if c.remaining == 0 {
				if c.state == fsBody {
					c.endMessage()
				} else {
					c.state = fsChunkCRLF
				}
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			c.line = append(c.line, b...)
			if len(c.line) > maxFramingLine {
				c.lose()
			}
			return
		}
		c.line = append(c.line, b[:i]...)
		b = b[i+1:]
		if len(c.line) > maxFramingLine {
			c.lose()
			return
		}
		line := bytes.TrimSuffix(c.line, []byte("\r"))
		c.onLine(line)
		c.line = c.line[:0]
	}
}

// lose gives up following the framing: every later request is rejected,
// and the one whose header section is being read, if any. (A request
// whose body is being read already has its verdict; its body fails in
// net/http too.)
func (c *framingConn) lose() {
	from := c.parsedReqs
	if c.state != fsHeaders {
		from++
	}
	c.mu.Lock()
	if c.lost == 0 {
		c.lost = from + 1
	}
	c.mu.Unlock()
	c.state = fsLost
	c.line = c.line[:0]
}

func (c *framingConn) onLine(line []byte) {
	switch c.state {
	case fsHeaders:
		if c.first {
			if len(line) == 0 {
				return // stray CRLF between requests (RFC 9112 §2.2)
			}
			c.first = false
			if bytes.HasPrefix(line, []byte("PRI * HTTP/2")) {
				c.state = fsOpaque
				return
			}
			// request-line = method SP request-target SP HTTP-version,
			// split as net/http splits it.
			if _, rest, ok := bytes.Cut(line, []byte(" ")); ok {
				if _, proto, ok := bytes.Cut(rest, []byte(" ")); ok && string(proto) == "HTTP/1.0" {
					c.http10 = true
				}
			}
			return
		}
		if len(line) == 0 {
			c.endHeaders()
			return
		}
		if line[0] == ' ' || line[0] == '\t' {
			c.bad = true // obs-fold (RFC 9112 §5.2)
			return
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			c.bad = true // not a field line; net/http refuses it too
			return
		}
		name := line[:colon]
		if last := name[len(name)-1]; last == ' ' || last == '\t' {
			c.bad = true // whitespace before the colon (RFC 9112 §5.1)
			return
		}
		value := trimOWSBytes(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, ok := parseContentLength(value)
			if !ok || (c.hasCL && v != c.clValue) {
				c.bad = true
			}
			c.hasCL, c.clValue = true, v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			c.hasTE = true
			c.teLines++
			c.chunked = bytes.EqualFold(value, []byte("chunked"))
		}
	case fsChunkSize:
		s := line
		if i := bytes.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		size, ok := parseChunkSize(trimOWSBytes(s))
		if !ok {
			c.lose() // net/http fails the body; nothing more to follow
			return
		}
		if size == 0 {
			c.state = fsTrailers
			return
		}
		c.remaining = size
		c.state = fsChunkData
	case fsChunkCRLF:
		c.state = fsChunkSize
	case fsTrailers:
		if len(line) == 0 {
			c.endMessage()
		}
	}
}

func (c *framingConn) endHeaders() {
	idx := c.parsedReqs
	if c.hasCL && c.hasTE {
		c.bad = true // RFC 9112 §6.1
	}
	if c.hasTE && (c.http10 || c.teLines != 1 || !c.chunked) {
		c.bad = true // RFC 9112 §6.1; net/http supports exactly "chunked"
	}
	f := requestFraming{reject: c.bad, chunked: c.hasTE && c.chunked && !c.http10, length: c.clValue}
	if c.onRequest != nil {
		c.onRequest(idx, f)
	}
	if f.reject {
		c.mu.Lock()
		if c.flagged == nil {
			c.flagged = map[int]bool{}
		}
		c.flagged[idx] = true
		c.mu.Unlock()
	}
	switch {
	case f.reject:
		// The request is answered with 400 and the connection closed:
		// what follows it is never read as a request.
		c.parsedReqs++
		c.state = fsHeaders
		c.lose()
	case f.chunked:
		c.state = fsChunkSize
	case c.clValue > 0:
		c.remaining = c.clValue
		c.state = fsBody
	default:
		c.endMessage()
	}
}

func (c *framingConn) endMessage() {
	c.parsedReqs++
	c.state = fsHeaders
	c.resetRequest()
}

// nextRequest returns whether the next request served on this connection
// must be rejected. Handlers on one HTTP/1 connection run one at a time,
// in order; every request must reach it (the server's
// DisableGeneralOptionsHandler keeps net/http from answering "OPTIONS *"
// itself, which would put the count out of step).
func (c *framingConn) nextRequest() (reject bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.served
	c.served++
	reject = c.flagged[i] || (c.lost > 0 && i >= c.lost-1)
	delete(c.flagged, i)
	return reject
}

// parseContentLength parses a Content-Length value as net/http does: one
// run of decimal digits, no sign.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// parseChunkSize parses a chunk-size (RFC 9112 §7.1): hex digits only.
func parseChunkSize(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 15 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		switch {
		case '0' <= b && b <= '9':
			n = n<<4 | int64(b-'0')
		case 'a' <= b && b <= 'f':
			n = n<<4 | int64(b-'a'+10)
		case 'A' <= b && b <= 'F':
			n = n<<4 | int64(b-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

func trimOWSBytes(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

type framingKey struct{}

// connContext stores the framing guard of a connection in its context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, fc)
	}
	return ctx
}

// conflictingFraming reports whether r must be rejected for its framing
// (see the guard's rules above).
func conflictingFraming(ctx context.Context, protoMajor int) bool {
	if protoMajor != 1 {
		return false
	}
	fc, ok := ctx.Value(framingKey{}).(*framingConn)
	return ok && fc.nextRequest()
}
