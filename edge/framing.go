package edge

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"sync"
)

// Request smuggling guard.
//
// net/http resolves a request that carries both Content-Length and
// Transfer-Encoding as RFC 9112 §6.3 allows (Transfer-Encoding wins, and
// Content-Length is dropped before the handler sees it). A CDN in front
// of other people's servers should be stricter: RFC 9112 §6.1 lets a
// server reject such a request, and rejecting it with 400 and closing the
// connection removes any chance that a server behind us frames it
// differently. framingConn follows the HTTP/1 message framing of a
// cleartext connection as bytes pass through to net/http, and records
// which requests (by their order on the connection) had both fields.
// It stops watching at an HTTP/2 preface or a protocol upgrade.

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
	fsOpaque
)

const maxFramingLine = 128 << 10

type framingConn struct {
	net.Conn

	// Read-side parser state, touched only by the goroutine reading the
	// connection (net/http's connection reader).
	state      framingState
	line       []byte
	first      bool // next header line is the request line
	hasCL      bool
	hasTE      bool
	chunked    bool
	upgrade    bool
	clValue    int64
	remaining  int64
	parsedReqs int

	mu      sync.Mutex // guards flagged and served
	flagged map[int]bool
	served  int
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.state != fsOpaque {
		c.feed(p[:n])
	}
	return n, err
}

func (c *framingConn) resetRequest() {
	c.first, c.hasCL, c.hasTE, c.chunked, c.upgrade, c.clValue = true, false, false, false, false, 0
}

func (c *framingConn) feed(b []byte) {
	if c.line == nil {
		c.line = make([]byte, 0, 256)
		c.resetRequest()
	}
	for len(b) > 0 && c.state != fsOpaque {
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
				c.state = fsOpaque
			}
			return
		}
		c.line = append(c.line, b[:i]...)
		b = b[i+1:]
		line := bytes.TrimSuffix(c.line, []byte("\r"))
		c.onLine(line)
		c.line = c.line[:0]
	}
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
			}
			return
		}
		if len(line) == 0 {
			c.endHeaders()
			return
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return
		}
		name := bytes.TrimSpace(line[:colon])
		value := bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			c.hasCL = true
			if v, err := strconv.ParseInt(string(value), 10, 64); err == nil && v >= 0 {
				c.clValue = v
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			c.hasTE = true
			if bytes.Contains(bytes.ToLower(value), []byte("chunked")) {
				c.chunked = true
			}
		case bytes.EqualFold(name, []byte("Upgrade")):
			c.upgrade = true
		}
	case fsChunkSize:
		s := line
		if i := bytes.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(s)), 16, 64)
		if err != nil || size < 0 {
			c.state = fsOpaque // net/http rejects it; nothing more to follow
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
		c.mu.Lock()
		if c.flagged == nil {
			c.flagged = map[int]bool{}
		}
		c.flagged[idx] = true
		c.mu.Unlock()
	}
	switch {
	case c.upgrade:
		c.state = fsOpaque
	case c.hasTE && c.chunked:
		c.state = fsChunkSize
	case c.hasTE:
		c.state = fsOpaque // body runs to close; net/http rejects it anyway
	case c.hasCL && c.clValue > 0:
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
// had conflicting framing. Handlers on one HTTP/1 connection run one at a
// time, in order.
func (c *framingConn) nextRequest() (conflicting bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.served
	c.served++
	conflicting = c.flagged[i]
	delete(c.flagged, i)
	return conflicting
}

type framingKey struct{}

// connContext stores the framing guard of a connection in its context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, framingKey{}, fc)
	}
	return ctx
}

// conflictingFraming reports whether r carried both Content-Length and
// Transfer-Encoding.
func conflictingFraming(ctx context.Context, protoMajor int) bool {
	if protoMajor != 1 {
		return false
	}
	fc, ok := ctx.Value(framingKey{}).(*framingConn)
	return ok && fc.nextRequest()
}
