package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/httpcache"
	"github.com/selfcdn/cdn/lb"
)

// fetched is an upstream response with the times the cache needs.
type fetched struct {
	resp         *http.Response
	backend      *lb.Backend
	requestTime  time.Time
	responseTime time.Time
	originTime   time.Time
}

// fetch sends out upstream and reads the response head. If the answer
// came from a shield holding content older than a purge this node has
// applied, it asks again with no-cache so the shield goes to the origin:
// after a purge succeeds no node serves purged content, even when its
// shield has not applied the purge yet (invariant 3).
func (s *Proxy) fetch(ctx context.Context, set *upstreamSet, st *site, primary string, r, out *http.Request) (*fetched, error) {
	for attempt := 0; ; attempt++ {
		ft := &fetched{requestTime: s.cfg.Now()}
		resp, b, err := s.roundTrip(ctx, set, primary, s.clientIP(r), out)
		if err != nil {
			return nil, err
		}
		ft.resp, ft.backend, ft.responseTime = resp, b, s.cfg.Now()
		httpcache.RemoveHopByHop(resp.Header)
		ft.originTime = ft.requestTime
		if set.shields {
			if v, perr := strconv.ParseInt(resp.Header.Get(hdrOriginTime), 10, 64); perr == nil && v > 0 {
				ft.originTime = time.Unix(0, v)
			}
		}
		resp.Header.Del(hdrOriginTime)
		if ct := resp.Header.Get(hdr304ContentType); ct != "" {
			if set.shields && resp.StatusCode == http.StatusNotModified {
				resp.Header.Set("Content-Type", ct)
			}
			resp.Header.Del(hdr304ContentType)
		}
		if !set.shields || attempt > 0 || resp.StatusCode >= 400 {
			return ft, nil
		}
		if s.inv.Check(primary, st.Host, surrogateKeys(resp.Header), ft.originTime) == cache.Valid {
			return ft, nil
		}
		// The shield's copy predates a purge applied here.
		resp.Body.Close()
		out = out.Clone(ctx)
		out.Header.Set("Cache-Control", "no-cache")
		out.Header.Del("If-None-Match")
		out.Header.Del("If-Modified-Since")
		s.metrics.purgeRefetch.Inc()
	}
}

// lead performs a flight: the upstream request, the decision to store,
// pass or stream, and the pump that fills the body for every waiter. It
// runs detached from any one client, so a leader that goes away does not
// fail its followers, and it is the one owner of the upstream response:
// the body is closed here, once, when the pump ends.
func (s *Proxy) lead(f *flight, r *http.Request, st *site, key, primary string, stale *cache.Object, collapse bool) {
	defer f.pumpDone()
	ctx := f.ctx
	out := s.outgoing(r, st, http.MethodGet)
	// The cache fetches whole objects: client validators and ranges are
	// answered here, from the stored response.
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		out.Header.Del(h)
	}
	if stale != nil {
		httpcache.ConditionalRequest(http.Header(stale.Head().Header), out.Header)
	}
	set := s.upstreamFor(st)
	finish := func(res flightResult) {
		f.publish(res)
		if collapse {
			s.flights.forget(key, f)
		}
	}
	ft, err := s.fetch(ctx, set, st, primary, r, out)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			status = http.StatusGatewayTimeout
		}
		finish(flightResult{kind: resError, status: status, err: err})
		return
	}
	resp := ft.resp
	defer func() { resp.Body.Close() }() // resp may be replaced by a resumed body

	// Revalidation answered 304: refresh the stored head (RFC 9111 §4.3.4).
	if stale != nil && resp.StatusCode == http.StatusNotModified {
		old := stale.Head()
		if httpcache.NotModifiedMatches(http.Header(old.Header), resp.Header) {
			merged := httpcache.MergeNotModified(http.Header(old.Header), resp.Header)
			nh := s.newHead(old.Status, merged, ft.requestTime, ft.responseTime, st, ft.originTime)
			s.store.UpdateHead(stale, nh)
			finish(flightResult{kind: resShared, obj: stale, size: stale.Size(), stored: true, fwdStatus: http.StatusNotModified})
			return
		}
		// A 304 whose validators contradict what we hold (§4.3.3): drop
		// our copy and ask again without conditions; never an error.
		s.store.Remove(stale.Key)
		resp.Body.Close()
		out.Header.Del("If-None-Match")
		out.Header.Del("If-Modified-Since")
		stale = nil
		if ft, err = s.fetch(ctx, set, st, primary, r, out); err != nil {
			finish(flightResult{kind: resError, status: http.StatusBadGateway, err: err})
			return
		}
		resp = ft.resp
	}
	if stale != nil && resp.StatusCode >= 500 {
		finish(flightResult{kind: resError, status: resp.StatusCode, err: fmt.Errorf("upstream answered %d", resp.StatusCode)})
		return
	}

	// The one decision: store (in memory or on disk, or stream through
	// when it turns out not to fit), or pass to one client.
	ok, reason := httpcache.Storable(http.MethodGet, r.Header, resp.StatusCode, resp.Header, st.Policy)
	if !ok {
		if collapse && responseReason(reason) {
			s.store.SetPass(primary, passTTL)
		}
		s.store.NotStored(reason)
		fl := s.store.Stream(resp.ContentLength)
		obj := cache.NewObject(key, primary, &cache.Head{Status: resp.StatusCode, Header: textproto.MIMEHeader(resp.Header)}, nil)
		finish(flightResult{kind: resPass, obj: obj, fill: fl, size: resp.ContentLength, fwdStatus: resp.StatusCode})
		if s.pumpInto(ctx, fl, ft, &resp, set, primary, r, out) {
			fl.Finish(nil)
		}
		return
	}
	fields, _ := httpcache.VaryFields(resp.Header)
	varyVals := varyValues(fields, r.Header)
	objKey := key
	if len(fields) > 0 {
		objKey = cache.VariantKey(primary, fields, varyVals)
	}
	cl := resp.ContentLength
	fl := s.store.Admit(objKey, cl, func(string) {
		// Too large after all: later requests must not join a body that
		// is no longer kept, and without readers the fetch stops.
		if collapse {
			s.flights.forget(key, f)
		}
		f.stopped()
	})
	stored := httpcache.StoredHeader(resp.Header, st.Policy)
	head := s.newHead(resp.StatusCode, stored, ft.requestTime, ft.responseTime, st, ft.originTime)
	obj := cache.NewObject(objKey, primary, head, nil)
	obj.Site = st.Host
	obj.Tags = surrogateKeys(resp.Header)
	res := flightResult{kind: resShared, obj: obj, fill: fl, size: cl, stored: cl >= 0 && fl.Storing(), fwdStatus: resp.StatusCode}
	if len(fields) > 0 {
		res.varyFields, res.varyValues = fields, varyVals
	}
	f.publish(res)
	if !fl.Storing() && collapse {
		s.flights.forget(key, f)
	}

	if !s.pumpInto(ctx, fl, ft, &resp, set, primary, r, out) {
		if collapse {
			s.flights.forget(key, f)
		}
		return
	}
	// Store before the last reader sees EOF and before the flight ends,
	// so whoever asks next (even the same client) finds a hit.
	var marker *cache.Object
	if len(fields) > 0 {
		marker = &cache.Object{Key: primary, Primary: primary, VaryFields: fields}
	}
	final := cache.NewObject(objKey, primary, head, nil)
	final.Site, final.Tags = obj.Site, obj.Tags
	mode := fl.Mode()
	committed := mode != cache.FillStream && s.store.Commit(fl, final, marker)
	if collapse {
		s.flights.forget(key, f)
	}
	fl.Finish(nil)
	if committed && mode == cache.FillMemory {
		// Write through, so the object survives a restart; clients have
		// their response already.
		s.store.WriteThrough(s.baseCtx, final, marker)
	}
}

// pumpInto copies the upstream body into fl and finishes fl when the body
// fails; it reports whether the body arrived whole. *resp is replaced when
// the body is resumed from another shield, so the caller closes the last
// one.
func (s *Proxy) pumpInto(ctx context.Context, fl *cache.Fill, ft *fetched, resp **http.Response, set *upstreamSet, primary string, r, out *http.Request) bool {
	n, err := s.pump(ctx, fl, ft, resp, set, primary, r, out)
	if err == nil {
		return true
	}
	// Never store (or let anyone finish reading) a truncated body.
	fl.Finish(fmt.Errorf("upstream body: %w", err))
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		s.log.Debug("upstream fetch cancelled: no client left", "key", primary, "bytes", n)
		return false
	}
	s.log.Warn("upstream body failed", "key", primary, "bytes", n, "err", err)
	return false
}

// fillWriter writes into a fill under the flight's context, so a full
// stream window gives way when the flight is cancelled.
type fillWriter struct {
	ctx context.Context
	f   *cache.Fill
}

func (w fillWriter) Write(p []byte) (int, error) { return w.f.WriteContext(w.ctx, p) }

// pump copies the upstream body into the fill. When a shield fails in the
// middle of a body, the rest is fetched from the next shield in the key's
// order with a Range request validated by If-Range, so a shield lost under
// load costs clients nothing.
func (s *Proxy) pump(ctx context.Context, fl *cache.Fill, ft *fetched, respp **http.Response, set *upstreamSet, primary string, r, out *http.Request) (int64, error) {
	resp := *respp
	want := resp.ContentLength
	etag := resp.Header.Get("ETag")
	var n int64
	failed := []*lb.Backend{ft.backend}
	for {
		m, err := io.Copy(fillWriter{ctx, fl}, resp.Body)
		n += m
		if err == nil && want >= 0 && n != want {
			err = io.ErrUnexpectedEOF
		}
		if err == nil {
			return n, nil
		}
		s.metrics.upstreamErrors.WithLabelValues(set.name, "body").Inc()
		// Resume only from shields, only with a strong validator to prove
		// the rest belongs to the same representation.
		if !set.shields || etag == "" || len(etag) > 2 && etag[:2] == "W/" || len(failed) > s.cfg.Retries {
			return n, err
		}
		ro := out.Clone(ctx)
		ro.Header.Set("Range", "bytes="+strconv.FormatInt(n, 10)+"-")
		ro.Header.Set("If-Range", etag)
		ro.Header.Del("If-None-Match")
		ro.Header.Del("If-Modified-Since")
		next, b, rerr := s.roundTrip(ctx, set, primary, s.clientIP(r), ro, failed...)
		if rerr != nil {
			return n, fmt.Errorf("%w (resume failed: %v)", err, rerr)
		}
		failed = append(failed, b)
		switch {
		case next.StatusCode == http.StatusPartialContent && next.Header.Get("ETag") == etag &&
			next.Header.Get("Content-Range") == fmt.Sprintf("bytes %d-%d/%d", n, want-1, want):
			s.log.Info("resumed body from another shield", "key", primary, "offset", n, "shield", b.Name)
		case next.StatusCode == http.StatusOK && next.Header.Get("ETag") == etag:
			// Whole body again: skip what we already have.
			if _, derr := io.CopyN(io.Discard, next.Body, n); derr != nil {
				next.Body.Close()
				return n, err
			}
		default:
			next.Body.Close()
			return n, err
		}
		if ctx.Err() != nil {
			next.Body.Close()
			return n, ctx.Err()
		}
		resp.Body.Close()
		resp = next
		*respp = next
		s.metrics.resumed.Inc()
	}
}
