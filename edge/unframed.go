package edge

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Transfer codings net/http does not take. Go's client accepts only
// "Transfer-Encoding: chunked" and fails any other value, so an origin
// that sends "gzip", "gzip, chunked" or a coding of its own would become
// a 502. RFC 9112 §6.3 says how such a response is framed: when chunked
// is not the final coding, the body runs until the connection closes.
//
// Requests without a body (every fetch the cache makes) go through a
// transport of their own (newBodilessTransport) whose connections read
// each response head before net/http does (teConn). A head with such a
// Transfer-Encoding is rewritten into one net/http reads until close:
// the field and any Content-Length go, "Connection: close" and an
// internal field naming the codings come in. roundTrip then undoes them
// (decodeTransferCodings): chunked when final, gzip, x-gzip, deflate.
// The bytes of a coding nobody here knows pass as they came. Either way
// the response is served and stored without Transfer-Encoding, from the
// one request the origin saw.
//
// On such a connection the bytes that follow a request are the head of
// its response: the request has no body, so nothing is written after its
// head, and net/http sends the next request only once the previous
// response has been read to its end.

// hdrTransferCodings names, on a response rewritten by teConn, the
// transfer codings still applied to its body.
const hdrTransferCodings = "X-Cdn-Transfer-Codings"

// maxResponseHead bounds what teConn buffers looking for the end of a
// head; a longer head is passed on unchanged (and net/http judges it).
const maxResponseHead = 1 << 20

// newBodilessTransport returns a copy of base for requests without a
// body, whose connections rewrite response heads net/http would refuse.
func newBodilessTransport(base *http.Transport, handshakeTimeout time.Duration) *http.Transport {
	t := base.Clone()
	dial := base.DialContext
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &teConn{Conn: c}, nil
	}
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(c, &tls.Config{ServerName: host, NextProtos: []string{"http/1.1"}})
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, err
		}
		return &teConn{Conn: tc}, nil
	}
	return t
}

// teConn is a connection to an upstream that looks at each response head
// as it arrives, and rewrites one whose Transfer-Encoding net/http would
// refuse (see above).
type teConn struct {
	net.Conn
	wrote atomic.Bool // a request was written: the next bytes read begin its response

	// Read side, used by net/http's one reading goroutine only.
	inHead bool   // gathering a response head
	head   []byte // its bytes so far
	out    []byte // bytes ready for the reader
	toEOF  bool   // after a rewritten head: the rest is body
	rbuf   []byte
	err    error
}

func (c *teConn) Write(p []byte) (int, error) {
	c.wrote.Store(true)
	return c.Conn.Write(p)
}

func (c *teConn) Read(p []byte) (int, error) {
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if c.err != nil {
			return 0, c.err
		}
		if !c.inHead {
			n, err := c.Conn.Read(p)
			if n == 0 || c.toEOF || !c.wrote.Swap(false) {
				return n, err // body bytes, or bytes nobody asked for
			}
			if end := headEnd(p[:n]); end >= 0 && plainHead(p[:end]) {
				return n, err // the common case: a final head, whole, with nothing to rewrite
			}
			// The first bytes of a response: gather its head.
			c.inHead = true
			c.head = append(c.head[:0], p[:n]...)
			c.err = err
			c.scan()
			continue
		}
		if c.rbuf == nil {
			c.rbuf = make([]byte, 4<<10)
		}
		n, err := c.Conn.Read(c.rbuf)
		c.head = append(c.head, c.rbuf[:n]...)
		c.err = err
		c.scan()
		if err != nil && c.inHead {
			// The connection ended inside a head: pass on what came.
			c.out, c.head, c.inHead = append(c.out, c.head...), nil, false
		}
	}
}

// scan moves every complete head in c.head to c.out, rewritten where
// needed; the bytes after the last one are body.
func (c *teConn) scan() {
	for c.inHead {
		end := headEnd(c.head)
		if end < 0 {
			if len(c.head) > maxResponseHead {
				c.out, c.head, c.inHead = append(c.out, c.head...), nil, false
			}
			return
		}
		h, code, rewritten := rewriteHead(c.head[:end])
		c.out = append(c.out, h...)
		c.head = c.head[end:]
		switch {
		case rewritten, code == http.StatusSwitchingProtocols:
			// The rest of the connection is body, or another protocol.
			c.inHead, c.toEOF = false, true
		case code >= 100 && code < 200:
			// An informational response: the final head follows.
		default:
			c.inHead = false
		}
	}
	c.out = append(c.out, c.head...)
	c.head = c.head[:0]
}

// headEnd returns the length of the head at the start of b (through its
// empty line, CRLF or bare LF), or -1 if b does not hold all of it.
func headEnd(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			if i > 2 { // not the status line itself
				return i
			}
		}
	}
	return -1
}

// plainHead reports whether a complete head can pass as it is without
// being parsed: not informational, and with no field named Transfer-*
// (Transfer-Encoding, or the internal field).
func plainHead(head []byte) bool {
	if len(head) > 9 && head[9] == '1' { // "HTTP/1.1 1xx"
		return false
	}
	const t = "transfer-"
	for i := 0; i+len(t) <= len(head); i++ {
		if head[i]|0x20 == 't' && bytes.EqualFold(head[i:i+len(t)], []byte(t)) {
			return false
		}
	}
	return true
}

// rewriteHead returns head (status line through the empty line), its
// status code, and whether its Transfer-Encoding had to be rewritten; an
// internal field with the name of hdrTransferCodings from upstream is
// dropped.
func rewriteHead(head []byte) ([]byte, int, bool) {
	lines := bytes.SplitAfter(head, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the last element is the empty line
	}
	code := 0
	if f := strings.Fields(string(lines[0])); len(f) >= 2 {
		code, _ = strconv.Atoi(f[1])
	}
	var te []string
	drop, forged := map[int]bool{}, map[int]bool{}
	last := ""
	for i := 1; i < len(lines); i++ {
		l := lines[i]
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') { // obs-fold: part of the field above
			if last == "transfer-encoding" {
				te[len(te)-1] += " " + strings.TrimSpace(string(l))
				drop[i] = true
			}
			continue
		}
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			last = ""
			continue
		}
		last = strings.ToLower(strings.TrimSpace(string(name)))
		switch last {
		case "transfer-encoding":
			te = append(te, strings.TrimSpace(string(value)))
			drop[i] = true
		case "content-length":
			drop[i] = true
		case strings.ToLower(hdrTransferCodings):
			drop[i], forged[i] = true, true
		}
	}
	codings := transferCodings(te)
	if len(codings) == 0 || len(codings) == 1 && codings[0] == "chunked" {
		if len(forged) == 0 {
			return head, code, false
		}
		return joinLines(lines, forged, ""), code, false
	}
	extra := "Connection: close\r\n" + hdrTransferCodings + ": " + strings.Join(codings, ", ") + "\r\n"
	return joinLines(lines, drop, extra), code, true
}

// joinLines rebuilds a head without the lines in drop, with extra before
// its empty line.
func joinLines(lines [][]byte, drop map[int]bool, extra string) []byte {
	var b bytes.Buffer
	for i, l := range lines {
		if drop[i] {
			continue
		}
		if i == len(lines)-1 { // the empty line
			b.WriteString(extra)
		}
		b.Write(l)
	}
	return b.Bytes()
}

// transferCodings lists the codings of Transfer-Encoding values, lower
// case, in order of application.
func transferCodings(values []string) []string {
	var out []string
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if i := strings.IndexByte(c, ';'); i >= 0 {
				c = strings.TrimSpace(c[:i]) // parameters
			}
			if c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

// decodeTransferCodings undoes, on a response teConn rewrote, the codings
// it names: chunked when final, then gzip, x-gzip and deflate; it stops
// at a coding it does not know, whose bytes pass as they are.
func decodeTransferCodings(resp *http.Response) error {
	codings := transferCodings([]string{resp.Header.Get(hdrTransferCodings)})
	resp.Header.Del(hdrTransferCodings)
	body := io.Reader(resp.Body)
	closers := []io.Closer{resp.Body}
	if n := len(codings); n > 0 && codings[n-1] == "chunked" {
		body = httputil.NewChunkedReader(body)
		codings = codings[:n-1]
	}
	for i := len(codings) - 1; i >= 0; i-- {
		switch codings[i] {
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(body)
			if err != nil {
				resp.Body.Close()
				return fmt.Errorf("gzip transfer coding: %w", err)
			}
			body, closers = zr, append(closers, zr)
		case "deflate":
			fr := flate.NewReader(body)
			body, closers = fr, append(closers, fr)
		case "identity":
		default:
			i = 0 // unknown: the rest stays applied
		}
	}
	resp.ContentLength = -1
	resp.Body = &decodedBody{Reader: body, closers: closers}
	return nil
}

// decodedBody is a body read through decoders; closing it closes them
// and the body under them.
type decodedBody struct {
	io.Reader
	closers []io.Closer
}

func (b *decodedBody) Close() error {
	var err error
	for i := len(b.closers) - 1; i >= 0; i-- {
		if e := b.closers[i].Close(); e != nil && i == 0 {
			err = e
		}
	}
	return err
}
