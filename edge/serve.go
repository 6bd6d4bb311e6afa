package edge

import (
	"context"
	"net/netip"
	"os"
	"strings"

	"errors"
	"fmt"
	"github.com/selfcdn/cdn/compress"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/httpcache"
)

// servable is a response the cache can answer with.
type servable struct {
	key    string // the object's cache key (compressed variants hang off it)
	head   *cache.Head
	body   cache.Body // complete body, or nil while fill streams it
	fill   *cache.Fill
	rd     *cache.FillReader // fill's reader from 0, opened before the response starts
	size   int64             // body size, -1 if unknown
	status httpcache.Status
}

// internalFields are never sent to clients by an edge. Shields keep them
// for the edges behind them (which index tags too).
var internalFields = []string{"Surrogate-Key", "Cache-Tag", hdrOriginTime, hdr304ContentType, hdrTransferCodings}

// copyResponseHeader copies a stored or upstream header for a client.
func (s *Proxy) copyResponseHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	if s.cfg.Role == RoleEdge {
		for _, f := range internalFields {
			dst.Del(f)
		}
	}
}

// addVia appends this node to Via without writing into a slice that may
// be shared with a stored header.
func (s *Proxy) addVia(h http.Header, major, minor int) {
	v := s.via
	if major != 1 || minor != 1 {
		v = fmt.Sprintf("%d.%d %s", major, minor, s.cfg.Name)
	}
	old := h["Via"]
	h["Via"] = append(old[:len(old):len(old)], v)
}

// headDerived is what serving a head needs, computed once per head.
type headDerived struct {
	cc           httpcache.CacheControl
	etag         string
	lm           time.Time
	strongLM     time.Time
	client       http.Header // the header as sent to clients
	compressible bool        // the edge serves compressed variants of it
	fast         atomic.Pointer[fastHead]
}

// headInfo returns the derived data of h for site st, computing it on
// first use.
func (s *Proxy) headInfo(h *cache.Head, st *site) *headDerived {
	if d, ok := h.Extra().(*headDerived); ok {
		return d
	}
	hdr := http.Header(h.Header)
	d := &headDerived{client: hdr}
	d.cc, _ = httpcache.Control(hdr, st.Policy)
	var lmText string
	d.etag, lmText = httpcache.Validators(hdr)
	d.lm, _ = httpcache.ParseHTTPDate(lmText)
	d.strongLM, _ = httpcache.StrongLastModified(hdr)
	if s.cfg.Role == RoleEdge {
		strip := false
		for _, f := range internalFields {
			if _, ok := hdr[f]; ok {
				strip = true
			}
		}
		if strip {
			d.client = hdr.Clone()
			for _, f := range internalFields {
				d.client.Del(f)
			}
		}
	}
	if size := contentLength(hdr); s.compressible(h, size) {
		d.compressible = true
		if d.client.Get("Vary") == "" || !strings.Contains(strings.ToLower(strings.Join(d.client.Values("Vary"), ",")), "accept-encoding") {
			d.client = d.client.Clone()
			compress.VaryAddAcceptEncoding(d.client)
		}
	}
	h.SetExtra(d)
	return d
}

// contentLength is the stored Content-Length, or -1.
func contentLength(h http.Header) int64 {
	v := h.Get("Content-Length")
	if v == "" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// serveObject writes a stored (or arriving) response, answering the
// client's conditional and range requests from it (RFC 9110 §13, §14).
func (s *Proxy) serveObject(w http.ResponseWriter, q *request, st *site, sv servable) {
	now := s.cfg.Now()
	h := w.Header()
	hi := s.headInfo(sv.head, st)
	client := hi.client
	if sv.body != nil && sv.fill == nil && hi.compressible {
		if enc := s.encodingFor(q.header, hi); enc != compress.Identity {
			vb, err := s.variant(sv.key, sv.head, sv.body, enc, hi)
			if err != nil {
				s.log.Warn("compression failed; serving identity", "err", err)
			} else {
				client, sv.body, sv.size = vb.header, vb.Bytes, vb.Size()
				s.metrics.compressed.WithLabelValues(string(enc)).Inc()
				etag, _ := httpcache.Validators(vb.header)
				hi = &headDerived{cc: hi.cc, etag: etag, lm: hi.lm, strongLM: hi.strongLM, client: client}
			}
		}
	}
	// Stored values are shared read-only: the fields set below replace
	// slices, never append to them.
	for k, vs := range client {
		h[k] = vs
	}
	age := int64(sv.head.Age(now) / time.Second)
	h.Set("Age", strconv.FormatInt(age, 10))
	h.Set("Cache-Status", httpcache.AppendCacheStatus(h.Get("Cache-Status"), sv.status))
	s.addVia(h, 1, 1)
	if s.cfg.Role == RoleShield {
		h.Set(hdrOriginTime, strconv.FormatInt(sv.head.Origin.UnixNano(), 10))
	}
	status := sv.head.Status
	if status == http.StatusOK && (q.method == http.MethodGet || q.method == http.MethodHead) {
		etag, lm := hi.etag, hi.lm
		switch httpcache.CheckPreconditions(q.method, q.header, etag, lm) {
		case http.StatusNotModified:
			notModified(h, s.toCache(q.peer()))
			w.WriteHeader(http.StatusNotModified)
			return
		case http.StatusPreconditionFailed:
			h.Del("Content-Length")
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		if rng := q.header.Get("Range"); rng != "" && sv.size >= 0 && q.method == http.MethodGet {
			ir := q.header.Get("If-Range")
			if ir == "" || httpcache.IfRangeMatches(ir, etag, hi.strongLM) {
				ranges, err := httpcache.ParseRange(rng, sv.size)
				if errors.Is(err, httpcache.ErrUnsatisfiable) {
					h.Set("Content-Range", "bytes */"+strconv.FormatInt(sv.size, 10))
					h.Del("Content-Length")
					w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
					return
				}
				if err == nil && len(ranges) > 0 {
					s.serveRanges(w, q, &sv, ranges)
					return
				}
			}
		}
	}
	if sv.size >= 0 && bodyAllowed(status) {
		h.Set("Content-Length", strconv.FormatInt(sv.size, 10))
	} else {
		h.Del("Content-Length")
	}
	w.WriteHeader(status)
	if q.method == http.MethodHead || !bodyAllowed(status) {
		return
	}
	rd, closeFn, err := sv.open(q.ctx, 0)
	if err != nil {
		s.abort(err)
	}
	defer closeFn()
	s.copyFlushing(w, rd, sv.size < 0)
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// open returns a reader of the body from off.
func (sv *servable) open(ctx context.Context, off int64) (io.Reader, func(), error) {
	if sv.fill != nil {
		if off == 0 && sv.rd != nil {
			rd := sv.rd
			sv.rd = nil // closed by whoever opened it
			return rd, func() {}, nil
		}
		if sv.rd != nil {
			// A range further on: the unused reader at 0 would hold a
			// streamed body's window at the start, and the bytes wanted
			// would never come.
			sv.rd.Close()
			sv.rd = nil
		}
		rd, err := sv.fill.Reader(ctx, off)
		if err != nil {
			return nil, nil, err
		}
		return rd, func() { rd.Close() }, nil
	}
	rc, err := sv.body.Open(off)
	if err != nil {
		return nil, nil, err
	}
	return rc, func() { rc.Close() }, nil
}

// notModified turns h, the header of the response a 304 stands for, into
// the 304's header. To an end client it carries the fields of RFC 9110
// §15.4.5; to another cache of this CDN (a shield answering an edge) every
// field that updates the receiver's stored copy (RFC 9111 §4.3.4, §3.2),
// so header changes the shield learnt reach the edge too.
func notModified(h http.Header, toCache bool) {
	out := httpcache.NotModifiedHeader(h, toCache)
	if ct := out.Get("Content-Type"); toCache && ct != "" {
		out.Set(hdr304ContentType, ct)
	}
	for _, f := range []string{"Age", "Cache-Status", "Via", "Alt-Svc", hdrOriginTime} {
		if v, ok := h[f]; ok {
			out[f] = v
		}
	}
	clear(h)
	for k, v := range out {
		h[k] = v
	}
}

// toCache reports whether a request comes from another cache of this CDN
// (an edge asking its shield), whose 304s carry every updating field.
func (s *Proxy) toCache(peer netip.Addr) bool {
	return s.cfg.Role == RoleShield || s.trusted(peer)
}

// serveRanges answers with 206: one part, or multipart/byteranges.
func (s *Proxy) serveRanges(w http.ResponseWriter, q *request, sv *servable, ranges []httpcache.ByteRange) {
	h := w.Header()
	if len(ranges) == 1 {
		br := ranges[0]
		h.Set("Content-Range", br.ContentRange(sv.size))
		h.Set("Content-Length", strconv.FormatInt(br.Length, 10))
		w.WriteHeader(http.StatusPartialContent)
		rd, closeFn, err := sv.open(q.ctx, br.Start)
		if err != nil {
			s.abort(err)
		}
		defer closeFn()
		s.copyBodyN(w, rd, br.Length)
		return
	}
	writeByteranges(w, ranges, sv.size, func(part io.Writer, br httpcache.ByteRange) bool {
		rd, closeFn, err := sv.open(q.ctx, br.Start)
		if err != nil {
			s.abort(err)
		}
		defer closeFn()
		if _, err := io.Copy(part, io.LimitReader(rd, br.Length)); err != nil {
			s.abortCopy(err)
			return false
		}
		return true
	})
}

// writeByteranges answers 206 with a multipart/byteranges body (RFC 9110
// §14.6): one part per range of a representation of size bytes, each
// with the response's Content-Type and its Content-Range, its bytes from
// part (which reports false to stop).
func writeByteranges(w http.ResponseWriter, ranges []httpcache.ByteRange, size int64, part func(io.Writer, httpcache.ByteRange) bool) {
	h := w.Header()
	ctype := h.Get("Content-Type")
	mw := multipart.NewWriter(w)
	h.Set("Content-Type", "multipart/byteranges; boundary="+mw.Boundary())
	h.Del("Content-Length")
	w.WriteHeader(http.StatusPartialContent)
	for _, br := range ranges {
		ph := textproto.MIMEHeader{}
		if ctype != "" {
			ph.Set("Content-Type", ctype)
		}
		ph.Set("Content-Range", br.ContentRange(size))
		pw, err := mw.CreatePart(ph)
		if err != nil || !part(pw, br) {
			return
		}
	}
	mw.Close()
}

// copyFlushing streams a body to the client. A body of unknown length
// (server-sent events, long polling, progress output) is flushed whenever
// the source has nothing more to give at once, so nothing waits in the
// write buffer; a body of known length is written as it comes.
func (s *Proxy) copyFlushing(w http.ResponseWriter, rd io.Reader, unknownLength bool) {
	if !unknownLength {
		s.copyBody(w, rd)
		return
	}
	rc := http.NewResponseController(w)
	avail, _ := rd.(interface{ Available() bool })
	buf := make([]byte, 32<<10)
	for {
		n, err := rd.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client left
			}
			if avail == nil || !avail.Available() {
				if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
					return
				}
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			s.abortCopy(err)
			return
		}
	}
}

// copyBody streams a body to the client. If the source fails, the
// connection is aborted so the client sees an error, never a body that
// looks complete but is not.
func (s *Proxy) copyBody(w http.ResponseWriter, rd io.Reader) {
	s.copyBodyN(w, rd, -1)
}

// fileBody is a disk body reader that can hand out its file for sendfile
// (f is nil until the body has been verified since the last start).
type fileBody interface {
	File() (f *os.File, offset, length int64)
}

// copyBodyN copies n bytes (all when n < 0). A verified disk body on a
// plain HTTP/1.1 connection goes out with sendfile: net/http passes an
// *io.LimitedReader over an *os.File to the TCP connection's ReadFrom.
func (s *Proxy) copyBodyN(w http.ResponseWriter, rd io.Reader, n int64) {
	if fb, ok := rd.(fileBody); ok {
		if f, _, length := fb.File(); f != nil {
			if n < 0 || n > length {
				n = length
			}
			if sw, ok := w.(*statusWriter); ok {
				sw.sendFile(f, n)
				return
			}
		}
	}
	if n >= 0 {
		rd = io.LimitReader(rd, n)
	}
	if _, err := io.Copy(w, rd); err != nil {
		s.abortCopy(err)
	}
}

// abortCopy aborts the response if the failure was on our side (the
// upstream body), and quietly returns if the client went away.
func (s *Proxy) abortCopy(err error) {
	var werr writeError
	if errors.As(err, &werr) {
		return
	}
	s.abort(err)
}

// abort ends the response abruptly (http.ErrAbortHandler is recovered by
// net/http without a stack trace and resets the stream or connection).
func (s *Proxy) abort(err error) {
	s.log.Warn("aborting response", "err", err)
	panic(http.ErrAbortHandler)
}

// writeError marks a failure to write to the client.
type writeError struct{ error }

func (e writeError) Unwrap() error { return e.error }

// servePassResult streams an unstorable upstream response to its one
// client (the leader of a pass flight), from the flight's fill.
func (s *Proxy) servePassResult(w http.ResponseWriter, r *http.Request, info *reqInfo, res flightResult, rd *cache.FillReader) {
	head := res.obj.Head()
	upstream := http.Header(head.Header)
	if info.status == "" || info.status == "miss" {
		info.status = "pass"
	}
	h := w.Header()
	s.copyResponseHeader(h, upstream)
	cs := httpcache.Status{Cache: s.cfg.Name, Fwd: "miss", FwdStatus: head.Status}
	if r.Header.Get("Authorization") != "" {
		cs.Fwd = "bypass"
	}
	h.Set("Cache-Status", httpcache.AppendCacheStatus(upstream.Get("Cache-Status"), cs))
	s.addVia(h, 1, 1)
	if head.Status == http.StatusOK && res.size >= 0 {
		etag, lmText := httpcache.Validators(upstream)
		lm, _ := httpcache.ParseHTTPDate(lmText)
		if code := httpcache.CheckPreconditions(r.Method, r.Header, etag, lm); code == http.StatusNotModified {
			notModified(h, s.toCache(peerAddr(r)))
			w.WriteHeader(code)
			return
		}
	}
	w.WriteHeader(head.Status)
	if r.Method == http.MethodHead {
		return
	}
	s.copyFlushing(w, rd, res.size < 0)
}

func (s *Proxy) plainError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Cache-Status", httpcache.AppendCacheStatus("", httpcache.Status{Cache: s.cfg.Name, Fwd: "bypass", Detail: "error"}))
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(code)
	io.WriteString(w, msg)
}

func (s *Proxy) gatewayTimeout(w http.ResponseWriter, msg string) {
	s.plainError(w, http.StatusGatewayTimeout, msg+"\n")
}

func (s *Proxy) upstreamError(w http.ResponseWriter, err error) {
	code := http.StatusBadGateway
	if isTimeout(err) {
		code = http.StatusGatewayTimeout
	}
	s.plainError(w, code, fmt.Sprintf("upstream error: %v\n", err))
}

// statusWriter records the status and bytes written, and marks write
// failures so copyBody can tell a client that left from an upstream that
// failed.
type statusWriter struct {
	http.ResponseWriter
	code        int
	bytes       int64
	sendTimeout time.Duration // renewed before every chunk written
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.armSend() // the wait for upstream does not count against the client
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.sendTimeout <= 0 || len(p) <= writeChunk {
		n, err := w.ResponseWriter.Write(p)
		w.bytes += int64(n)
		if err != nil {
			return n, writeError{err}
		}
		return n, nil
	}
	total := 0
	for len(p) > 0 {
		w.armSend()
		k := min(len(p), writeChunk)
		n, err := w.ResponseWriter.Write(p[:k])
		w.bytes += int64(n)
		total += n
		if err != nil {
			return total, writeError{err}
		}
		p = p[k:]
	}
	return total, nil
}

// ReadFrom keeps sendfile and large copies efficient.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok && w.sendTimeout <= 0 {
		n, err := rf.ReadFrom(&srcErrReader{r: src})
		w.bytes += n
		var se srcError
		if err != nil && !errors.As(err, &se) {
			return n, writeError{err}
		}
		if errors.As(err, &se) {
			return n, se.error
		}
		return n, err
	}
	return io.Copy(struct{ io.Writer }{w}, src)
}

// sendFile writes n bytes of f through the underlying writer's ReadFrom,
// which is sendfile on a plain TCP connection. The body was verified, so a
// failure here is the client's connection.
func (w *statusWriter) sendFile(f *os.File, n int64) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		for n > 0 {
			// In pieces, each under a fresh send deadline.
			w.armSend()
			k := n
			if w.sendTimeout > 0 {
				k = min(n, 4<<20)
			}
			m, err := rf.ReadFrom(&io.LimitedReader{R: f, N: k})
			w.bytes += m
			n -= m
			if err != nil || m < k {
				return
			}
		}
		return
	}
	m, _ := io.Copy(w.ResponseWriter, io.LimitReader(f, n))
	w.bytes += m
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// srcErrReader marks read errors so ReadFrom can tell them from write errors.
type srcErrReader struct{ r io.Reader }

type srcError struct{ error }

func (r *srcErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		return n, srcError{err}
	}
	return n, err
}
