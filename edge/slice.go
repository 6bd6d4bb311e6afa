package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/httpcache"
)

// Ranges in slices (RFC 9111 §3.3 and §3.4; nginx's slice module is the
// model). A GET with a Range, for an object not stored whole, is answered
// from aligned slices of Site.Slice bytes: slice i holds bytes
// [i·Slice, (i+1)·Slice) of the representation (the last one shorter). A
// slice is fetched upstream with "Range: bytes=first-last" and stored as
// an object of its own, a 206 with its Content-Range, under sliceKey; it
// has the object's primary key, site and tags, so purges cover it. A
// range is served from the slices that hold it, fetching only the ones
// missing: a range of a 1 GiB object costs the origin a slice or two,
// not the object.
//
// The parts of one response must carry the same strong validator
// (httpcache.CanCombineParts). A part that disagrees means the object
// changed upstream: the stored parts are dropped and the slices fetched
// again, once. Slices are collapsed per key: one upstream request per
// slice whatever the number of clients asking for it.
//
// Anything slices cannot answer goes the usual way (the whole object is
// fetched and the range cut from it): an origin that ignores ranges (200),
// a part without a strong validator, a Vary other than Accept-Encoding, a
// Content-Range that is not the slice asked for, a conditional request.

// maxSlicesAhead is how many parts a response holds before it starts.
const maxSlicesAhead = 4

// errNoSlices says a request is not answered from slices; nothing was
// written, and it is served the usual way.
var errNoSlices = errors.New("not answerable from slices")

// errNotSliceable says an object's responses cannot be combined from
// slices (its origin ignores ranges, it has no strong validator, it
// varies): its ranges go the usual way for a while (sliceMemo).
var errNotSliceable = fmt.Errorf("%w: the object cannot be sliced", errNoSlices)

// notSliceableFor is how long an object found not sliceable is served
// the usual way without asking again.
const notSliceableFor = 10 * time.Minute

// sliceMemo remembers objects found not sliceable, so that their ranges
// go the usual way at once instead of costing the origin a refused slice
// every time. It is bounded: when full, it starts again.
type sliceMemo struct {
	mu sync.Mutex
	m  map[string]time.Time // primary key → until
}

const sliceMemoMax = 10000

func (m *sliceMemo) notSliceable(primary string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.m[primary]
	if ok && now.After(until) {
		delete(m.m, primary)
		return false
	}
	return ok
}

func (m *sliceMemo) mark(primary string, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= sliceMemoMax {
		m.m = map[string]time.Time{}
	}
	m.m[primary] = until
}

// errChanged says the parts of a response disagree: the object changed
// upstream.
var errChanged = errors.New("the parts of the object have different validators")

// unsatisfiable is an origin's 416 to a slice: the representation is
// size bytes long, and no slice of the request exists.
type unsatisfiable struct{ size int64 }

func (e unsatisfiable) Error() string { return "range not satisfiable" }

// slicePart is one slice, stored or just fetched.
type slicePart struct {
	obj    *cache.Object
	body   []byte
	total  int64       // the representation's size
	header http.Header // the stored header (with the slice's Content-Range)
	cached bool        // served from the tiers
	stored bool        // fetched and stored now
}

// sliceKey is the cache key of slice idx, of size bytes, of the object
// at primary. The size is part of the key, so a new slice size never
// mixes with slices stored under the old one.
func sliceKey(primary string, size, idx int64) string {
	return primary + "\x00slice\x00" + strconv.FormatInt(size, 10) + "\x00" + strconv.FormatInt(idx, 10)
}

// sliceable reports whether a GET is one slices may answer: a single
// Range field, and no conditional fields (those need the validators of
// the whole object, which the usual path has).
func sliceable(st *site, r *http.Request) bool {
	if st.Slice <= 0 || r.Method != http.MethodGet || len(r.Header.Values("Range")) != 1 {
		return false
	}
	for _, f := range []string{"If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if _, ok := r.Header[f]; ok {
			return false
		}
	}
	// A Range that would be ignored at any size (another unit, bad
	// syntax, too many ranges) is served whole the usual way, without a
	// slice fetched first.
	ranges, err := httpcache.ParseRange(r.Header.Get("Range"), 1<<62)
	return err != nil || len(ranges) > 0
}

// serveSlices answers a range request from slices. It returns
// errNoSlices, having written nothing, when the request is to be served
// the usual way.
func (s *Proxy) serveSlices(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo, primary string) error {
	now := s.cfg.Now()
	if s.unsliceable.notSliceable(primary, now) {
		return errNoSlices
	}
	err := s.serveSlicesOnce(w, r, st, info, primary, false)
	if errors.Is(err, errChanged) {
		// Stored parts of an older representation were dropped: every
		// part from upstream this time.
		err = s.serveSlicesOnce(w, r, st, info, primary, true)
	}
	if errors.Is(err, errChanged) {
		return errNoSlices // changing under us: the whole object, the usual way
	}
	if errors.Is(err, errNotSliceable) {
		s.unsliceable.mark(primary, now.Add(notSliceableFor))
	}
	return err
}

func (s *Proxy) serveSlicesOnce(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo, primary string, fresh bool) error {
	size := st.Slice
	rng := r.Header.Get("Range")
	probe := httpcache.ProbeSlice(rng, size)
	first, err := s.slice(r, st, primary, probe, fresh)
	var u unsatisfiable
	switch {
	case errors.As(err, &u):
		info.status = "miss"
		s.rangeNotSatisfiable(w, u.size, httpcache.Status{Cache: s.cfg.Name, Fwd: "miss", FwdStatus: http.StatusRequestedRangeNotSatisfiable})
		return nil
	case err != nil:
		return err
	}
	ranges, err := httpcache.ParseRange(rng, first.total)
	if errors.Is(err, httpcache.ErrUnsatisfiable) {
		info.status = "hit"
		s.rangeNotSatisfiable(w, first.total, httpcache.Status{Cache: s.cfg.Name, Hit: true})
		return nil
	}
	if err != nil || len(ranges) == 0 {
		return errNoSlices // a Range to ignore: the whole object, with 200
	}
	// The first parts needed (up to maxSlicesAhead, and within one memory
	// object) are fetched before the response starts, so that a failure
	// can still become a clean answer; further parts are fetched as the
	// response goes, one at a time.
	parts := map[int64]*slicePart{probe: first}
	budget := max(1, min(maxSlicesAhead, s.cfg.MaxMemoryObject/size))
	cached, stored := first.cached, first.stored
	for _, i := range httpcache.SlicesFor(ranges, size) {
		if parts[i] != nil {
			continue
		}
		if int64(len(parts)) >= budget {
			cached = false // not known yet
			break
		}
		p, err := s.combinablePart(r, st, primary, i, first, fresh)
		if err != nil {
			return err
		}
		parts[i] = p
		cached, stored = cached && p.cached, stored || p.stored
	}

	h := w.Header()
	s.copyResponseHeader(h, first.header)
	h.Del("Content-Range")
	h.Del("Content-Length")
	head := first.obj.Head()
	now := s.cfg.Now()
	h.Set("Age", strconv.FormatInt(int64(head.Age(now).Seconds()), 10))
	cs := httpcache.Status{Cache: s.cfg.Name, Hit: true}
	info.status = "hit"
	if !cached {
		cs = httpcache.Status{Cache: s.cfg.Name, Fwd: "miss", Stored: stored}
		info.status = "miss"
	}
	h.Set("Cache-Status", httpcache.AppendCacheStatus(h.Get("Cache-Status"), cs))
	s.addVia(h, 1, 1)
	if s.cfg.Role == RoleShield {
		h.Set(hdrOriginTime, strconv.FormatInt(head.Origin.UnixNano(), 10))
	}
	// write sends the bytes of one range, part by part.
	write := func(out io.Writer, br httpcache.ByteRange) {
		for _, pc := range httpcache.SlicePieces(br, size) {
			p := parts[pc.Index]
			if p == nil {
				var err error
				if p, err = s.combinablePart(r, st, primary, pc.Index, first, fresh); err != nil {
					// The response has started: all that is left is to
					// end it abruptly, so the client sees it incomplete.
					s.log.Warn("slice unavailable mid-response", "key", primary, "slice", pc.Index, "err", err)
					panic(http.ErrAbortHandler)
				}
			}
			if _, err := out.Write(p.body[pc.Offset : pc.Offset+pc.Length]); err != nil {
				panic(http.ErrAbortHandler) // the client left
			}
		}
	}
	if len(ranges) == 1 {
		br := ranges[0]
		h.Set("Content-Range", br.ContentRange(first.total))
		h.Set("Content-Length", strconv.FormatInt(br.Length, 10))
		w.WriteHeader(http.StatusPartialContent)
		write(w, br)
		return nil
	}
	writeByteranges(w, ranges, first.total, func(part io.Writer, br httpcache.ByteRange) bool {
		write(part, br)
		return true
	})
	return nil
}

// rangeNotSatisfiable answers 416 for a representation of size bytes.
func (s *Proxy) rangeNotSatisfiable(w http.ResponseWriter, size int64, cs httpcache.Status) {
	h := w.Header()
	h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	h.Set("Cache-Status", httpcache.AppendCacheStatus("", cs))
	s.addVia(h, 1, 1)
	w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
}

// combinablePart returns slice idx, checked against the response's first
// part. When they disagree, the stored ones are dropped and errChanged
// returned.
func (s *Proxy) combinablePart(r *http.Request, st *site, primary string, idx int64, first *slicePart, fresh bool) (*slicePart, error) {
	p, err := s.slice(r, st, primary, idx, fresh)
	if err != nil {
		return nil, err
	}
	if p.total == first.total && httpcache.CanCombineParts(first.header, p.header) {
		return p, nil
	}
	for _, x := range []*slicePart{first, p} {
		if x.cached || x.stored {
			s.store.Remove(x.obj.Key)
		}
	}
	return nil, errChanged
}

// slice returns slice idx of the object at primary: stored and fresh, or
// fetched (collapsed with every other request for it) and stored. With
// fresh, the stored one is not used.
func (s *Proxy) slice(r *http.Request, st *site, primary string, idx int64, fresh bool) (*slicePart, error) {
	key := sliceKey(primary, st.Slice, idx)
	if !fresh {
		if p := s.storedSlice(r, st, key); p != nil {
			return p, nil
		}
	}
	cc := connFor(r.Context())
	if !cc.acquireFetch(r.Context()) {
		panic(http.ErrAbortHandler) // the client left
	}
	defer cc.releaseFetch()
	v, err, shared := s.slicing.Do(key, func() (any, error) {
		var p *slicePart
		err := errNoSlices
		if !s.jobs.run(func() { p, err = s.fetchSlice(r, st, primary, key, idx, fresh) }) {
			return nil, errors.New("the node is stopping")
		}
		return p, err
	})
	if err != nil {
		return nil, err
	}
	p := v.(*slicePart)
	if shared {
		s.metrics.collapsed.Inc()
	}
	return p, nil
}

// storedSlice returns slice key from the tiers if it is stored, valid
// and fresh for this request, else nil.
func (s *Proxy) storedSlice(r *http.Request, st *site, key string) *slicePart {
	l := s.store.Lookup(key, func([]string) []string { return nil })
	defer l.Close()
	o := l.Object
	if o == nil || l.Verdict != cache.Valid || l.Unsynced {
		return nil
	}
	head := o.Head()
	if d := httpcache.Evaluate(r.Header, s.entryOf(head, st), s.cfg.Now()); !d.Fresh || d.MustValidate {
		return nil
	}
	hdr := http.Header(head.Header)
	br, total, ok := httpcache.ParseContentRange(hdr.Get("Content-Range"))
	if !ok || total < 0 || o.Size() != br.Length {
		s.store.Remove(key)
		return nil
	}
	body, ok := o.Body.(cache.Bytes)
	if !ok {
		rc, err := o.Body.Open(0)
		if err != nil {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(rc, br.Length+1))
		rc.Close()
		if err != nil || int64(len(b)) != br.Length {
			return nil
		}
		body = b
	}
	return &slicePart{obj: o, body: body, total: total, header: hdr, cached: true}
}

// fetchSlice fetches slice idx upstream and stores it. It runs for every
// request waiting for that slice, detached from any one client: a slice
// is small and worth finishing. With fresh (the parts disagreed), a
// shield is told not to answer from its own stored parts either.
func (s *Proxy) fetchSlice(r *http.Request, st *site, primary, key string, idx int64, fresh bool) (*slicePart, error) {
	ctx, cancel := context.WithTimeout(s.baseCtx, s.cfg.FetchTimeout)
	defer cancel()
	size := st.Slice
	out := s.outgoing(r, st, http.MethodGet)
	for _, f := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"} {
		out.Header.Del(f)
	}
	out.Header.Set("Range", httpcache.SliceRangeHeader(idx, size))
	// The parts of one representation: identity, never a per-request
	// encoding.
	out.Header.Set("Accept-Encoding", "identity")
	if fresh {
		out.Header.Set("Cache-Control", "no-cache")
	}
	ft, err := s.fetch(ctx, s.upstreamFor(st), st, primary, r, out)
	if err != nil {
		return nil, err
	}
	resp := ft.resp
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusRequestedRangeNotSatisfiable:
		if total, ok := parseUnsatisfied(resp.Header.Get("Content-Range")); ok {
			return nil, unsatisfiable{total}
		}
		return nil, errNoSlices
	case http.StatusOK:
		return nil, errNotSliceable // the origin ignores ranges
	default:
		return nil, errNoSlices // an error, for the usual path to report
	}
	br, total, ok := httpcache.ParseContentRange(resp.Header.Get("Content-Range"))
	want, inside := httpcache.SliceBounds(idx, size, total)
	if !ok || total < 0 || !inside || br != want {
		return nil, errNotSliceable
	}
	if fields, star := httpcache.VaryFields(resp.Header); star || len(fields) > 1 || (len(fields) == 1 && !strings.EqualFold(fields[0], "Accept-Encoding")) {
		return nil, errNotSliceable
	}
	if resp.Header.Get("Content-Encoding") != "" || !httpcache.CanCombineParts(resp.Header, resp.Header) {
		return nil, errNotSliceable // no strong validator: parts could not be combined
	}
	body, err := io.ReadAll(io.LimitReader(newIdleReader(resp.Body, s.cfg.BodyIdleTimeout), br.Length+1))
	if err != nil {
		return nil, fmt.Errorf("slice %d: %w", idx, err)
	}
	if int64(len(body)) != br.Length {
		return nil, fmt.Errorf("slice %d: %d bytes, Content-Range says %d", idx, len(body), br.Length)
	}
	head := s.newHead(http.StatusPartialContent, httpcache.StoredHeader(resp.Header, st.Policy), ft.requestTime, ft.responseTime, st, ft.originTime)
	obj := cache.NewObject(key, primary, head, cache.Bytes(body))
	obj.Site = st.Host
	obj.Tags = surrogateKeys(resp.Header)
	p := &slicePart{obj: obj, body: body, total: total, header: http.Header(head.Header)}
	// Storable as the representation it is part of (RFC 9111 §3.3).
	if ok, reason := httpcache.Storable(http.MethodGet, r.Header, http.StatusOK, resp.Header, st.Policy); ok {
		p.stored = s.store.Put(s.baseCtx, obj)
	} else {
		s.store.NotStored(reason)
	}
	return p, nil
}

// parseUnsatisfied parses a 416's Content-Range, "bytes */size".
func parseUnsatisfied(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes */")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}
