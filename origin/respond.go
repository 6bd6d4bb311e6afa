package origin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// bodySource produces the bytes of a representation, any range of them, in
// any order.
type bodySource interface {
	// writeRange writes the n bytes at offset off to w, using buf as
	// scratch space, and returns how many it wrote.
	writeRange(w io.Writer, off, n int64, buf []byte) (int64, error)
}

// representation is what a GET of a target resource selects: the body and
// the metadata that RFC 9110's conditional and range rules consult.
type representation struct {
	status       int // 200, or the status a /gen request asked for
	size         int64
	etag         string    // quoted strong entity tag; "" if none
	lastModified time.Time // zero if none
	contentType  string
	body         bodySource

	// Repr-Digest: digestValue if set, else looked up in (or computed into)
	// the digest cache under digestKey when wantDigest.
	digestValue string
	digestKey   [32]byte
	wantDigest  bool
	boundary    string // multipart/byteranges boundary
}

// sendOptions are the misbehaviours a /gen request may ask for.
type sendOptions struct {
	chunked bool  // omit Content-Length
	abort   int64 // abort the connection after this many body bytes; -1: never
	stall   int64 // after this many body bytes, flush and wait until the client goes; -1: never
}

// fieldWriter sets header fields whose values share one backing array, so a
// response's dozen fields cost one allocation instead of one each.
type fieldWriter struct {
	h    http.Header
	vals []string
}

func newFieldWriter(h http.Header) *fieldWriter {
	return &fieldWriter{h: h, vals: make([]string, 0, 16)}
}

// set replaces the field k (in canonical form) with the single value v.
func (f *fieldWriter) set(k, v string) {
	f.vals = append(f.vals, v)
	n := len(f.vals)
	f.h[k] = f.vals[n-1 : n : n]
}

// result is what serving one request did, for the counters.
type result struct {
	status  int   // 0 if nothing was sent (the client went away)
	bytes   int64 // body bytes written
	aborted bool  // the caller must abort the connection
}

// errAbortPoint is returned by abortWriter once its budget is spent.
var errAbortPoint = errors.New("abort point reached")

// abortWriter passes at most left bytes through and then fails.
type abortWriter struct {
	w    io.Writer
	left int64
}

func (a *abortWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= a.left {
		n, err := a.w.Write(p)
		a.left -= int64(n)
		return n, err
	}
	n, err := a.w.Write(p[:a.left])
	a.left -= int64(n)
	if err == nil {
		err = errAbortPoint
	}
	return n, err
}

// stallWriter passes at most left bytes through, flushes them, and then
// blocks until the request ends (at most maxDelay), so a client holds a
// response whose body is known to be in the middle of its transfer.
type stallWriter struct {
	w     io.Writer
	flush http.ResponseWriter
	ctx   context.Context
	left  int64
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= s.left {
		n, err := s.w.Write(p)
		s.left -= int64(n)
		return n, err
	}
	n, err := s.w.Write(p[:s.left])
	s.left -= int64(n)
	if err != nil {
		return n, err
	}
	if f, ok := s.flush.(http.Flusher); ok {
		f.Flush()
	}
	t := time.NewTimer(maxDelay)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
	case <-t.C:
	}
	return n, errStallPoint
}

// errStallPoint is returned by stallWriter once the stall ends.
var errStallPoint = errors.New("stall point reached")

// cachingFields are removed from 412 and 416 responses: they describe how
// to cache the representation, which those responses do not carry.
var cachingFields = [...]string{"Cache-Control", "Cdn-Cache-Control", "Expires", "Surrogate-Key", "Set-Cookie"}

// serve answers r with rep, applying RFC 9110's preconditions (§13.2.2) and
// range requests (§14) when rep.status is 200. Header fields already in w
// are sent with every response except as noted on cachingFields.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, f *fieldWriter, rep *representation, opts sendOptions) result {
	status := rep.status
	var ranges []byteRange
	if status == http.StatusOK {
		f.set("Accept-Ranges", "bytes")
		switch evalPreconditions(r.Method, r.Header, rep.etag, rep.lastModified) {
		case notModified:
			// RFC 9110 §15.4.5: the fields a 200 would carry for caching
			// (already set), and no content or content metadata.
			w.WriteHeader(http.StatusNotModified)
			return result{status: http.StatusNotModified}
		case preconditionFailed:
			return s.emptyError(w, http.StatusPreconditionFailed)
		}
		if rv, ok := r.Header["Range"]; ok && len(rv) == 1 && r.Method == http.MethodGet &&
			evalIfRange(r.Header["If-Range"], rep.etag, rep.lastModified) {
			var outcome rangeOutcome
			ranges, outcome = parseRange(rv[0], rep.size)
			if outcome == rangeUnsatisfiable {
				f.set("Content-Range", "bytes */"+strconv.FormatInt(rep.size, 10))
				return s.emptyError(w, http.StatusRequestedRangeNotSatisfiable)
			}
			if outcome == rangeSatisfiable {
				status = http.StatusPartialContent
			}
		}
		if d, err := s.reprDigest(r.Context(), rep); err != nil {
			if r.Context().Err() != nil {
				return result{}
			}
			s.log.Error("compute Repr-Digest", "path", r.URL.Path, "err", err)
			return s.emptyError(w, http.StatusInternalServerError)
		} else if d != "" {
			f.set("Repr-Digest", d)
		}
	}

	// Decide the body: the whole representation, one range, or a multipart
	// body of several.
	var mp byterangesLayout
	length := rep.size
	switch {
	case noContent(status):
		length = 0
	case len(ranges) == 1:
		f.set("Content-Range", ranges[0].contentRange(rep.size))
		f.set("Content-Type", rep.contentType)
		length = ranges[0].length
	case len(ranges) > 1:
		mp = newMultipart(ranges, rep.contentType, rep.size, rep.boundary)
		f.set("Content-Type", "multipart/byteranges; boundary="+rep.boundary)
		length = mp.length(ranges)
	default:
		f.set("Content-Type", rep.contentType)
	}
	if !noContent(status) && !opts.chunked {
		f.set("Content-Length", strconv.FormatInt(length, 10))
	}
	w.WriteHeader(status)
	res := result{status: status}
	if r.Method == http.MethodHead || noContent(status) {
		return res
	}
	if opts.chunked {
		// Without a flush, net/http would buffer a short body and add a
		// Content-Length after all.
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}

	var dst io.Writer = w
	if opts.abort >= 0 {
		dst = &abortWriter{w: w, left: opts.abort}
		res.aborted = true
	}
	if opts.stall >= 0 {
		dst = &stallWriter{w: dst, flush: w, ctx: r.Context(), left: opts.stall}
	}
	bp := s.getBuf()
	defer s.putBuf(bp)
	buf := *bp
	var err error
	switch {
	case len(ranges) == 1:
		res.bytes, err = rep.body.writeRange(dst, ranges[0].start, ranges[0].length, buf)
	case len(ranges) > 1:
		for i, rg := range ranges {
			var n int
			n, err = io.WriteString(dst, mp.heads[i])
			res.bytes += int64(n)
			if err != nil {
				break
			}
			var m int64
			m, err = rep.body.writeRange(dst, rg.start, rg.length, buf)
			res.bytes += m
			if err != nil {
				break
			}
		}
		if err == nil {
			var n int
			n, err = io.WriteString(dst, mp.tail)
			res.bytes += int64(n)
		}
	default:
		res.bytes, err = rep.body.writeRange(dst, 0, rep.size, buf)
	}
	if err != nil && !errors.Is(err, errAbortPoint) && !errors.Is(err, errStallPoint) {
		s.log.Debug("write body", "path", r.URL.Path, "written", res.bytes, "err", err)
		// The status line is gone; a truncated body must not look whole.
		res.aborted = true
	}
	if errors.Is(err, errStallPoint) {
		res.aborted = true // the body is cut short: it must not look whole
	}
	if res.aborted {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	return res
}

// reprDigest returns rep's Repr-Digest value, "" if it has none.
func (s *Server) reprDigest(ctx context.Context, rep *representation) (string, error) {
	if rep.digestValue != "" || !rep.wantDigest {
		return rep.digestValue, nil
	}
	if v, ok := s.digests.lookup(rep.digestKey); ok {
		return v, nil
	}
	body, size := rep.body, rep.size
	return s.digests.get(ctx, rep.digestKey, func(ctx context.Context) (string, error) {
		bp := s.getBuf()
		defer s.putBuf(bp)
		return hashBody(ctx, size, *bp, body.writeRange)
	})
}

// emptyError sends an error status without content, and without the fields
// that would tell a cache how to store the representation.
func (s *Server) emptyError(w http.ResponseWriter, status int) result {
	h := w.Header()
	for _, k := range cachingFields {
		delete(h, k)
	}
	delete(h, "Repr-Digest")
	h["Content-Length"] = []string{"0"}
	w.WriteHeader(status)
	return result{status: status}
}

// noContent reports whether responses with this status carry no content
// (RFC 9110 §6.4.1, §15.3.5, §15.3.6, §15.4.5).
func noContent(status int) bool {
	return status == http.StatusNoContent || status == http.StatusResetContent || status == http.StatusNotModified
}
