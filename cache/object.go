// Package cache is the CDN's cache core: stored objects, the memory tier,
// cache keys and the invalidation rules that purges install. It knows
// nothing of net/http: an object is a status, a header and a body source,
// so any listener (HTTP/1.1, HTTP/2, HTTP/3) can serve it.
package cache

import (
	"io"
	"net/textproto"
	"sync/atomic"
	"time"
)

// Head is the part of an object that revalidation may replace: status,
// header and freshness bookkeeping. A Head is immutable once published.
type Head struct {
	// Status is the stored response's status code.
	Status int
	// Header is the stored header (hop-by-hop fields already removed).
	Header textproto.MIMEHeader
	// RequestTime is when the request that produced or last validated the
	// response was sent upstream (RFC 9111 §4.2.3 request_time).
	RequestTime time.Time
	// ResponseTime is when that response was received (response_time).
	ResponseTime time.Time
	// InitialAge is corrected_initial_age (RFC 9111 §4.2.3).
	InitialAge time.Duration
	// Lifetime is the freshness lifetime (RFC 9111 §4.2.1).
	Lifetime time.Duration
	// Heuristic is true when Lifetime came from §4.2.2 heuristics.
	Heuristic bool
	// extra holds what a tier derives from the head once (parsed
	// validators, the header as sent to clients); see Extra.
	extra atomic.Value
	// Origin is when the content was last known current at the origin:
	// the upstream request time at the tier that fetched or validated it
	// at the origin. Purges compare against it, so a shield's old copy is
	// recognised as old at the edge too.
	Origin time.Time
}

// Clone returns a copy of h without its derived data, to be changed and
// published as a new head.
func (h *Head) Clone() *Head {
	return &Head{Status: h.Status, Header: h.Header, RequestTime: h.RequestTime, ResponseTime: h.ResponseTime,
		InitialAge: h.InitialAge, Lifetime: h.Lifetime, Heuristic: h.Heuristic, Origin: h.Origin}
}

// Extra returns the value stored by SetExtra, or nil.
func (h *Head) Extra() any { return h.extra.Load() }

// SetExtra attaches a value derived from the head (the edge keeps parsed
// validators there, so hits do not parse dates). Every value stored for one
// head must have the same concrete type.
func (h *Head) SetExtra(v any) { h.extra.Store(v) }

// Object is one stored response, or a Vary marker for a URL whose
// responses vary (then VaryFields is set and there is no body).
type Object struct {
	// Key is the full cache key (primary key plus variant).
	Key string
	// Primary is the URL part of the key, shared by all variants.
	Primary string
	// Site is the site's configured host.
	Site string
	// Tags are surrogate keys (Surrogate-Key, Cache-Tag) for purges.
	Tags []string
	// VaryFields, on a Vary marker, are the request fields variants differ by.
	VaryFields []string
	// Pass, on a marker, says recent responses for this key could not be
	// stored, so requests go upstream without waiting on each other.
	Pass bool
	// Body is the body source; nil for a Vary marker.
	Body Body

	head atomic.Pointer[Head]
}

// NewObject returns an object with the given head.
func NewObject(key, primary string, h *Head, body Body) *Object {
	o := &Object{Key: key, Primary: primary, Body: body}
	o.head.Store(h)
	return o
}

// Head returns the current head.
func (o *Object) Head() *Head { return o.head.Load() }

// SetHead replaces the head, as a successful revalidation does (RFC 9111
// §4.3.4); readers see either the old or the new head, whole.
func (o *Object) SetHead(h *Head) { o.head.Store(h) }

// Size is the body length in bytes (0 for a Vary marker).
func (o *Object) Size() int64 {
	if o.Body == nil {
		return 0
	}
	return o.Body.Size()
}

// Age returns the object's current age (RFC 9111 §4.2.3).
func (h *Head) Age(now time.Time) time.Duration {
	resident := now.Sub(h.ResponseTime)
	if resident < 0 {
		resident = 0
	}
	return h.InitialAge + resident
}

// Body is where an object's bytes live.
type Body interface {
	// Size is the body length.
	Size() int64
	// Open returns a reader positioned at off. The caller closes it.
	Open(off int64) (io.ReadCloser, error)
}

// Bytes is a body held in memory.
type Bytes []byte

// Size implements Body.
func (b Bytes) Size() int64 { return int64(len(b)) }

// Open implements Body.
func (b Bytes) Open(off int64) (io.ReadCloser, error) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return io.NopCloser(&bytesReader{b: b[off:]}), nil
}

type bytesReader struct{ b []byte }

func (r *bytesReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// WriteTo lets io.Copy write the rest in one call.
func (r *bytesReader) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(r.b)
	r.b = r.b[n:]
	return int64(n), err
}
