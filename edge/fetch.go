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
func (s *Server) fetch(ctx context.Context, set *upstreamSet, st *site, primary string, r, out *http.Request) (*fetched, error) {
	for attempt := 0; ; attempt++ {
		ft := &fetched{requestTime: s.cfg.Now()}
		resp, b, err := s.roundTrip(ctx, set, primary, clientAddr(r), out)
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
// and the pump that fills the body for every waiter. It runs detached from
// any one client, so a leader that goes away does not fail its followers.
//
// The caller has acquired a reference on f for the pump; lead releases it.
func (s *Server) lead(f *flight, r *http.Request, st *site, key, primary string, stale *cache.Object, collapse bool) {
	defer f.release()
	ctx := s.baseCtx
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

	// Revalidation answered 304: refresh the stored head (RFC 9111 §4.3.4).
	if stale != nil && resp.StatusCode == http.StatusNotModified {
		resp.Body.Close()
		old := stale.Head()
		if httpcache.NotModifiedMatches(http.Header(old.Header), resp.Header) {
			merged := httpcache.MergeNotModified(http.Header(old.Header), resp.Header)
			nh := s.newHead(old.Status, merged, ft.requestTime, ft.responseTime, st, ft.originTime)
			stale.SetHead(nh)
			if s.disk != nil {
				s.disk.UpdateHead(stale.Key, nh)
			}
			finish(flightResult{kind: resObject, obj: stale, size: stale.Size(), stored: true, fwdStatus: http.StatusNotModified})
			return
		}
		// A 304 that does not match what we hold: drop our copy.
		s.mem.Del(stale.Key)
		finish(flightResult{kind: resError, status: http.StatusBadGateway, err: errors.New("upstream 304 did not match the stored response")})
		return
	}
	if stale != nil && resp.StatusCode >= 500 {
		resp.Body.Close()
		finish(flightResult{kind: resError, status: resp.StatusCode, err: fmt.Errorf("upstream answered %d", resp.StatusCode)})
		return
	}

	ok, reason := httpcache.Storable(http.MethodGet, r.Header, resp.StatusCode, resp.Header, st.Policy)
	var fields []string
	if ok {
		fields, _ = httpcache.VaryFields(resp.Header)
	}
	varyVals := varyValues(fields, r.Header)
	objKey := key
	if len(fields) > 0 {
		objKey = cache.VariantKey(primary, fields, varyVals)
	}
	// Where the body goes: memory for objects that fit there, the disk
	// tier's file for larger ones and bodies of unknown length.
	cl := resp.ContentLength
	var fl *fill
	if ok {
		if s.disk != nil && (cl > s.cfg.MaxMemoryObject || cl < 0) && cl <= s.cfg.DiskMaxObject {
			w, err := s.disk.CreateSized(objKey, cl)
			if err == nil {
				fl = newDiskFill(w, cl)
				// Readers keep the file open after the commit until the
				// last of them is done, even if it is evicted meanwhile.
				f.onLast(w.Close)
			} else {
				s.log.Debug("disk tier refused an object", "key", objKey, "err", err)
			}
		}
		if fl == nil {
			if cl > s.cfg.MaxMemoryObject || (cl < 0 && s.disk != nil) {
				ok, reason = false, "too-large"
			} else {
				fl = newFill(cl)
			}
		}
	}
	if !ok {
		if collapse && responseReason(reason) {
			s.mem.SetTTL(&cache.Object{Key: primary, Primary: primary, Pass: true}, passTTL)
		}
		s.metrics.notStored.WithLabelValues(reason).Inc()
		obj := cache.NewObject(key, primary, &cache.Head{Status: resp.StatusCode, Header: textproto.MIMEHeader(resp.Header)}, &respBody{resp: resp})
		res := flightResult{kind: resPass, obj: obj, size: resp.ContentLength, fwdStatus: resp.StatusCode}
		f.publish(res)
		if collapse {
			s.flights.forget(key, f)
		}
		return
	}
	stored := httpcache.StoredHeader(resp.Header, st.Policy)
	head := s.newHead(resp.StatusCode, stored, ft.requestTime, ft.responseTime, st, ft.originTime)
	obj := cache.NewObject(objKey, primary, head, nil)
	obj.Site = st.Host
	obj.Tags = surrogateKeys(resp.Header)
	res := flightResult{kind: resObject, obj: obj, fill: fl, size: resp.ContentLength, stored: true, fwdStatus: resp.StatusCode}
	if len(fields) > 0 {
		res.varyFields, res.varyValues = fields, varyVals
	}
	f.publish(res)

	n, err := s.pump(ctx, fl, ft, set, st, primary, r, out)
	if err != nil {
		// Never store (or let anyone finish reading) a truncated body.
		fl.finish(fmt.Errorf("upstream body: %w", err))
		if fl.w != nil {
			fl.w.Abort()
		}
		s.log.Warn("upstream body failed", "key", objKey, "bytes", n, "err", err)
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
		s.mem.Set(marker)
	}
	purged := s.inv.Check(primary, st.Host, obj.Tags, head.Origin) == cache.Purged
	var final *cache.Object
	switch {
	case fl.w != nil:
		final = cache.NewObject(objKey, primary, head, nil)
		final.Site, final.Tags = obj.Site, obj.Tags
		if purged {
			fl.w.Abort()
		} else if err := fl.w.CommitOpen(final); err != nil {
			s.log.Warn("disk tier could not store an object", "key", objKey, "err", err)
		} else {
			s.metrics.stored.Inc()
			if marker != nil {
				s.disk.SetMarker(marker)
			}
		}
		final = nil // nothing to write through: it is on disk already
	case !purged:
		final = cache.NewObject(objKey, primary, head, cache.Bytes(fl.bytes()))
		final.Site, final.Tags = obj.Site, obj.Tags
		if s.mem.Set(final) {
			s.metrics.stored.Inc()
		}
		// Ristretto applies new keys asynchronously: wait until the set
		// is visible, so a request arriving after the flight ends finds
		// the object instead of starting a new fetch.
		s.mem.Wait()
	}
	if collapse {
		s.flights.forget(key, f)
	}
	fl.finish(nil)
	if final != nil && s.disk != nil && n <= s.cfg.DiskMaxObject {
		// Write through, so the object survives a restart.
		s.writeThrough(final, marker)
	}
}

// writeThrough copies a memory object to the disk tier.
func (s *Server) writeThrough(o *cache.Object, marker *cache.Object) {
	b, ok := o.Body.(cache.Bytes)
	if !ok {
		return
	}
	if !s.disk.Ready() {
		// Just started: the disk index is being rebuilt. This runs after
		// every client has its response, so waiting a little costs nobody.
		ctx, cancel := context.WithTimeout(s.baseCtx, 10*time.Second)
		err := s.disk.WaitReady(ctx)
		cancel()
		if err != nil {
			return
		}
	}
	w, err := s.disk.CreateSized(o.Key, int64(len(b)))
	if err != nil {
		return // full or degraded: memory only
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return
	}
	if err := w.Commit(o); err != nil {
		return
	}
	if marker != nil {
		s.disk.SetMarker(marker)
	}
}

// pump copies the upstream body into the fill. When a shield fails in the
// middle of a body, the rest is fetched from the next shield in the key's
// order with a Range request validated by If-Range, so a shield lost under
// load costs clients nothing.
func (s *Server) pump(ctx context.Context, fl *fill, ft *fetched, set *upstreamSet, st *site, primary string, r, out *http.Request) (int64, error) {
	resp := ft.resp
	want := resp.ContentLength
	etag := resp.Header.Get("ETag")
	var n int64
	failed := []*lb.Backend{ft.backend}
	for {
		m, err := io.Copy(fl, resp.Body)
		resp.Body.Close()
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
		next, b, rerr := s.roundTrip(ctx, set, primary, clientAddr(r), ro, failed...)
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
		resp = next
		s.metrics.resumed.Inc()
	}
}
