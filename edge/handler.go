package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/compress"
	"github.com/selfcdn/cdn/httpcache"
)

// Internal header fields exchanged between tiers. They are removed before
// a response reaches a client.
const (
	// hdrOriginTime carries, from a shield to an edge, when the content
	// was last known current at the origin (Unix nanoseconds), so purges
	// apply to the edge's copy as they do to the shield's.
	hdrOriginTime = "X-Cdn-Origin-Time"
)

// site is a configured site with its upstream set.
type site struct {
	Site
	origin *upstreamSet
}

// reqInfo travels with one client request, for logs and metrics.
type reqInfo struct {
	site   *site
	status string // hit, miss, stale, pass, ... for metrics
}

// route finds the site for a Host header.
func (s *Server) route(host string) *site {
	h := hostOnly(host)
	if st, ok := s.sites[h]; ok {
		return st
	}
	return s.wildcard
}

// ServeHTTP is the one handler shared by HTTP/1.1, HTTP/2 (and HTTP/3).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Now()
	sw := &statusWriter{ResponseWriter: w}
	info := &reqInfo{}
	defer func() {
		s.observe(r, sw, info, start)
	}()

	if conflictingFraming(r.Context(), r.ProtoMajor) {
		// RFC 9112 §6.1: reject, and close the connection.
		info.status = "refused"
		sw.Header().Set("Connection", "close")
		s.plainError(sw, http.StatusBadRequest, "request has both Content-Length and Transfer-Encoding\n")
		return
	}
	if s.altSvc != "" && r.ProtoMajor < 3 && r.TLS != nil {
		sw.Header().Set("Alt-Svc", s.altSvc)
	}
	if r.TLS != nil && !r.TLS.HandshakeComplete && !isSafe(r.Method) {
		// Early data (0-RTT) can be replayed: only safe methods (RFC 8470).
		info.status = "refused"
		s.plainError(sw, http.StatusTooEarly, "request sent in early data; retry after the handshake\n")
		return
	}
	st := s.route(r.Host)
	if st == nil {
		// Invariant 6: never an open proxy.
		info.status = "refused"
		s.plainError(sw, http.StatusMisdirectedRequest, fmt.Sprintf("no site is configured for host %q on this CDN\n", hostOnly(r.Host)))
		return
	}
	info.site = st
	if s.looped(r) {
		info.status = "loop"
		s.plainError(sw, http.StatusLoopDetected, "request loop detected: this request already passed through "+s.cfg.Name+"\n")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.Header.Get("Authorization") != "" || r.Header.Get("Upgrade") != "" {
			// Responses to authenticated requests are stored only when the
			// origin says so (RFC 9111 §3.5); never collapse them, so one
			// client's credentials never answer another's request.
			s.serveFetched(sw, r, st, info, nil, "", false)
			return
		}
		s.serveCacheable(sw, r, st, info)
	default:
		s.servePass(sw, r, st, info)
	}
}

// looped reports whether this node already appears in CDN-Loop (RFC 8586).
func (s *Server) looped(r *http.Request) bool {
	for _, v := range r.Header.Values("Cdn-Loop") {
		for _, part := range strings.Split(v, ",") {
			id := strings.TrimSpace(part)
			if i := strings.IndexByte(id, ';'); i >= 0 {
				id = strings.TrimSpace(id[:i])
			}
			if strings.EqualFold(id, s.loopID) {
				return true
			}
		}
	}
	return false
}

func (s *Server) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func (s *Server) primaryKey(r *http.Request, st *site) string {
	host := st.Host
	if host == "*" {
		host = hostOnly(r.Host)
	}
	return cache.PrimaryKey(s.scheme(r), host, r.URL.EscapedPath(), r.URL.RawQuery, st.Key)
}

// lookup finds a usable stored object for r: through a Vary marker to the
// variant, with purge rules applied. It returns the variant key to use for
// a fetch, and whether the URL is known but not this variant.
func (s *Server) lookup(r *http.Request, primary string) (obj *cache.Object, verdict cache.Verdict, key string, varyMiss bool, pass bool) {
	key = primary
	o, ok := s.get(primary)
	if ok && o.Pass {
		return nil, cache.Valid, key, false, true
	}
	if ok && o.VaryFields != nil {
		key = cache.VariantKey(primary, o.VaryFields, varyValues(o.VaryFields, r.Header))
		o, ok = s.get(key)
		if !ok {
			return nil, cache.Valid, key, true, false
		}
	}
	if !ok || o.Body == nil {
		return nil, cache.Valid, key, false, false
	}
	v := s.inv.CheckObject(o)
	if v == cache.Valid && !s.synced() {
		// Possibly behind on purges: revalidate before use.
		v = cache.Stale
	}
	if v == cache.Purged {
		s.remove(o.Key)
		return nil, v, key, false, false
	}
	return o, v, key, false, false
}

// promoteMax is the largest disk object copied into the memory tier on a
// hit (larger ones are sent from disk, with sendfile where possible).
const promoteMax = 1 << 20

// get looks key up in memory, then on disk. Small disk objects are
// promoted into memory; a disk body that cannot be read is a miss.
func (s *Server) get(key string) (*cache.Object, bool) {
	if o, ok := s.mem.Get(key); ok {
		return o, true
	}
	if s.disk == nil {
		return nil, false
	}
	o, ok := s.disk.Get(key)
	if !ok {
		return nil, false
	}
	if o.Body == nil {
		s.mem.Set(o) // a marker
		return o, true
	}
	// Open now, so an entry evicted between lookup and serving is a miss
	// rather than a response cut short after its headers.
	rc, err := o.Body.Open(0)
	if err != nil {
		return nil, false
	}
	if size := o.Size(); size <= promoteMax && s.mem.Fits(size) {
		b := make([]byte, size)
		_, err = io.ReadFull(rc, b)
		rc.Close()
		if err != nil {
			// Corrupt or gone: the disk tier has dropped it; a miss.
			return nil, false
		}
		m := cache.NewObject(o.Key, o.Primary, o.Head(), cache.Bytes(b))
		m.Site, m.Tags = o.Site, o.Tags
		s.mem.Set(m)
		return m, true
	}
	d := cache.NewObject(o.Key, o.Primary, o.Head(), &openedBody{Body: o.Body, first: rc})
	d.Site, d.Tags, d.VaryFields = o.Site, o.Tags, o.VaryFields
	return d, true
}

// openedBody is a disk body already opened at offset 0 during lookup;
// the first Open(0) hands out that reader. The request that looked it up
// closes it with closeUnused if nobody took it (HEAD, 304, ranges).
type openedBody struct {
	cache.Body
	mu    sync.Mutex
	first io.ReadCloser
}

func (b *openedBody) Open(off int64) (io.ReadCloser, error) {
	b.mu.Lock()
	first := b.first
	b.first = nil
	b.mu.Unlock()
	if first != nil {
		if off == 0 {
			return first, nil
		}
		first.Close()
	}
	return b.Body.Open(off)
}

// closeUnused closes the pre-opened reader if nobody used it.
func (b *openedBody) closeUnused() {
	b.mu.Lock()
	first := b.first
	b.first = nil
	b.mu.Unlock()
	if first != nil {
		first.Close()
	}
}

// remove deletes key from every tier.
func (s *Server) remove(key string) {
	s.mem.Del(key)
	if s.disk != nil {
		s.disk.Delete(key)
	}
}

// entryOf describes a stored head for freshness decisions, with the
// cache-control that governs this site (CDN-Cache-Control unless ignored).
func (s *Server) entryOf(h *cache.Head, st *site) *httpcache.Entry {
	return &httpcache.Entry{
		Control:      &s.headInfo(h, st).cc,
		Status:       h.Status,
		Header:       http.Header(h.Header),
		RequestTime:  h.RequestTime,
		ResponseTime: h.ResponseTime,
		InitialAge:   h.InitialAge,
		Lifetime:     h.Lifetime,
	}
}

// serveCacheable handles GET and HEAD: hit, stale, revalidation or miss.
func (s *Server) serveCacheable(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo) {
	now := s.cfg.Now()
	primary := s.primaryKey(r, st)
	obj, verdict, key, varyMiss, pass := s.lookup(r, primary)
	if obj != nil {
		if ob, ok := obj.Body.(*openedBody); ok {
			defer ob.closeUnused()
		}
	}
	reqCC := httpcache.ParseCacheControl(r.Header.Values("Cache-Control"))
	if pass {
		info.status = "pass"
		s.serveFetched(w, r, st, info, nil, key, false)
		return
	}
	if obj != nil {
		head := obj.Head()
		d := httpcache.Evaluate(r.Header, s.entryOf(head, st), now)
		if verdict == cache.Stale {
			// Soft purge: revalidate before use, but stale-while-
			// revalidate still applies (the purge API's soft mode).
			d.Fresh = false
			d.MustValidate = true
		}
		if d.Fresh && !d.MustValidate {
			info.status = "hit"
			ttl := int64((d.TTL).Seconds())
			s.serveObject(w, r, st, servable{key: obj.Key, head: head, body: obj.Body, size: obj.Size(), status: httpcache.Status{Cache: s.cfg.Name, Hit: true, TTL: &ttl}})
			return
		}
		if d.OnlyIfCached {
			info.status = "miss"
			s.gatewayTimeout(w, "only-if-cached: no fresh response stored")
			return
		}
		if d.StaleWhileRevalidate {
			info.status = "stale"
			ttl := int64(d.TTL.Seconds())
			s.serveObject(w, r, st, servable{key: obj.Key, head: head, body: obj.Body, size: obj.Size(), status: httpcache.Status{Cache: s.cfg.Name, Hit: true, TTL: &ttl, Detail: "stale-while-revalidate"}})
			s.revalidateInBackground(r, st, key, primary, obj)
			return
		}
		info.status = "revalidate"
		s.serveFetched(w, r, st, info, obj, key, true)
		return
	}
	if reqCC.OnlyIfCached {
		info.status = "miss"
		s.gatewayTimeout(w, "only-if-cached: nothing stored")
		return
	}
	info.status = "miss"
	_ = varyMiss
	s.serveFetched(w, r, st, info, nil, key, true)
}

// serveFetched fetches from upstream (collapsed with concurrent requests
// for the same key when collapse is set) and serves the result. stale is
// the stored object being revalidated, if any.
func (s *Server) serveFetched(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo, stale *cache.Object, key string, collapse bool) {
	primary := s.primaryKey(r, st)
	if key == "" {
		key = primary
	}
	for attempt := 0; attempt < 3; attempt++ {
		var f *flight
		leader := true
		if collapse {
			f, leader = s.flights.join(key)
		} else {
			f = &flight{ready: make(chan struct{}), refs: 1}
		}
		if leader {
			f.acquire() // the pump's reference, released by lead
			go s.lead(f, r, st, key, primary, stale, collapse)
		} else {
			s.metrics.collapsed.Inc()
		}
		select {
		case <-f.ready:
		case <-r.Context().Done():
			f.release()
			// The client left, or the node is stopping: end the response
			// abruptly rather than let net/http send an empty 200.
			panic(http.ErrAbortHandler)
		}
		done := false
		release := func() {
			if !done {
				done = true
				f.release()
			}
		}
		defer release() // idempotent; also called early before a retry
		res := f.res
		switch res.kind {
		case resPass:
			if leader {
				s.servePassResult(w, r, info, res)
				return
			}
			// Not shareable: go upstream alone.
			release()
			collapse = false
			continue
		case resError:
			if stale != nil {
				d := httpcache.Evaluate(r.Header, s.entryOf(stale.Head(), st), s.cfg.Now())
				if d.StaleIfError {
					info.status = "stale"
					ttl := int64(d.TTL.Seconds())
					s.serveObject(w, r, st, servable{key: stale.Key, head: stale.Head(), body: stale.Body, size: stale.Size(),
						status: httpcache.Status{Cache: s.cfg.Name, Fwd: "stale", FwdStatus: res.status, TTL: &ttl, Detail: "stale-if-error"}})
					return
				}
			}
			info.status = "error"
			s.plainError(w, res.status, fmt.Sprintf("upstream error: %v\n", res.err))
			return
		case resObject:
			if res.varyFields != nil && !leader {
				mine := varyValues(res.varyFields, r.Header)
				if !equalStrings(mine, res.varyValues) {
					// The response varies on a field where this request
					// differs: look again under its own variant key.
					key = cache.VariantKey(primary, res.varyFields, mine)
					stale = nil
					release()
					continue
				}
			}
			fwd := "miss"
			if stale != nil {
				fwd = "stale"
			} else if isRequestNoCache(r) {
				fwd = "request"
			}
			cs := httpcache.Status{Cache: s.cfg.Name, Fwd: fwd, Stored: res.stored, Collapsed: !leader}
			if res.fwdStatus != 0 && res.fwdStatus != http.StatusOK {
				cs.FwdStatus = res.fwdStatus
			}
			if res.fill == nil {
				ttl := int64((res.obj.Head().Lifetime - res.obj.Head().Age(s.cfg.Now())).Seconds())
				cs.TTL = &ttl
			}
			s.serveObject(w, r, st, servable{key: res.obj.Key, head: res.obj.Head(), body: res.obj.Body, fill: res.fill, size: res.size, status: cs})
			return
		}
	}
	s.plainError(w, http.StatusBadGateway, "could not obtain a response\n")
}

func isRequestNoCache(r *http.Request) bool {
	cc := httpcache.ParseCacheControl(r.Header.Values("Cache-Control"))
	return cc.NoCache || cc.MaxAge == 0
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// revalidateInBackground refreshes a stale object once, while clients are
// served the stale copy (RFC 5861 §3).
func (s *Server) revalidateInBackground(r *http.Request, st *site, key, primary string, stale *cache.Object) {
	f, leader := s.flights.join(key)
	if !leader {
		f.release()
		return
	}
	f.acquire() // the pump's reference, released by lead
	r2 := r.Clone(context.WithoutCancel(r.Context()))
	go func() {
		s.lead(f, r2, st, key, primary, stale, true)
		<-f.ready
		if f.res.kind == resPass && f.res.obj != nil {
			// lead hands a pass response to its leader; nobody reads it here.
			if b, ok := f.res.obj.Body.(*respBody); ok {
				b.resp.Body.Close()
			}
		}
		f.release() // the caller's reference from join
	}()
}

// servePass forwards a request that is not cacheable (unsafe methods and
// others) and applies RFC 9111 §4.4 invalidation after a success.
func (s *Server) servePass(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo) {
	info.status = "pass"
	out := s.outgoing(r, st, r.Method)
	out.Body = r.Body
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	out.ContentLength = r.ContentLength
	requestTime := s.cfg.Now()
	set := s.upstreamFor(st)
	resp, _, err := s.roundTrip(r.Context(), set, s.primaryKey(r, st), clientAddr(r), out)
	if err != nil {
		s.upstreamError(w, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 400 && !isSafe(r.Method) {
		u := *r.URL
		u.Scheme = s.scheme(r)
		u.Host = hostOnly(r.Host)
		for _, inv := range httpcache.InvalidatedURIs(r.Method, resp.StatusCode, &u, resp.Header) {
			// Invalidate by origin time: copies fetched before this
			// request was sent are stale from now on (hard removal would
			// be allowed; a soft rule keeps stale-if-error usable).
			p := cache.PrimaryKey(inv.Scheme, inv.Host, inv.EscapedPath(), inv.RawQuery, st.Key)
			s.inv.PurgeKey(p, cache.Rule{At: requestTime, Soft: true})
		}
	}
	httpcache.RemoveHopByHop(resp.Header)
	s.copyResponseHeader(w.Header(), resp.Header)
	w.Header().Set("Cache-Status", httpcache.AppendCacheStatus(resp.Header.Get("Cache-Status"), httpcache.Status{Cache: s.cfg.Name, Fwd: "method", FwdStatus: resp.StatusCode}))
	s.addVia(w.Header(), resp.ProtoMajor, resp.ProtoMinor)
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		s.copyBody(w, resp.Body)
	}
}

func isSafe(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// upstreamFor returns where misses go: the shields (edge role with
// shields), else the site's origin pool.
func (s *Server) upstreamFor(st *site) *upstreamSet {
	if s.shields != nil {
		return s.shields
	}
	return st.origin
}

// outgoing builds the upstream request for r: hop-by-hop fields removed,
// Via, X-Forwarded-For and CDN-Loop added.
func (s *Server) outgoing(r *http.Request, st *site, method string) *http.Request {
	out := &http.Request{
		Method:     method,
		URL:        cloneURL(r),
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     r.Header.Clone(),
		Host:       r.Host,
		Body:       http.NoBody,
	}
	if st.Host != "*" && s.shields == nil && st.origin.host == "" {
		// The origin sees the site's canonical host, whatever alias the
		// client used.
		out.Host = st.Host
	}
	httpcache.RemoveHopByHop(out.Header)
	if ip := clientAddr(r); ip.IsValid() {
		prior := out.Header.Values("X-Forwarded-For")
		v := ip.String()
		if len(prior) > 0 {
			v = strings.Join(prior, ", ") + ", " + v
		}
		out.Header.Set("X-Forwarded-For", v)
	}
	if out.Header.Get("X-Forwarded-Proto") == "" {
		out.Header.Set("X-Forwarded-Proto", s.scheme(r))
	}
	if s.cfg.Role == RoleEdge {
		// One normalised Accept-Encoding upstream, so responses that vary
		// on it make at most a handful of variants.
		if enc := compress.NormalizeAcceptEncoding(out.Header.Values("Accept-Encoding")); enc == "" || enc == string(compress.NotAcceptable) {
			out.Header.Del("Accept-Encoding")
		} else {
			out.Header.Set("Accept-Encoding", enc)
		}
	}
	out.Header.Add("Via", fmt.Sprintf("%d.%d %s", r.ProtoMajor, r.ProtoMinor, s.cfg.Name))
	out.Header.Add("Cdn-Loop", s.loopID)
	return out
}

func cloneURL(r *http.Request) *url.URL {
	u := *r.URL
	u.Scheme = "http"
	u.Host = r.Host
	return &u
}

// clientAddr is the peer's IP address.
func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// passTTL is how long a key whose response could not be stored skips
// request collapsing (Varnish's hit-for-miss).
const passTTL = 30 * time.Second

// responseReason reports whether a not-storable reason comes from the
// response (and so will likely recur for other clients).
func responseReason(reason string) bool {
	switch reason {
	case "authorization", "method", "request-no-store":
		return false
	}
	return true
}

// newHead computes the freshness bookkeeping for a stored header.
func (s *Server) newHead(status int, h http.Header, requestTime, responseTime time.Time, st *site, originTime time.Time) *cache.Head {
	lifetime, heuristic := httpcache.FreshnessLifetime(h, status, responseTime, st.Policy)
	return &cache.Head{
		Status:       status,
		Header:       textproto.MIMEHeader(h),
		RequestTime:  requestTime,
		ResponseTime: responseTime,
		InitialAge:   httpcache.InitialAge(h, requestTime, responseTime),
		Lifetime:     lifetime,
		Heuristic:    heuristic,
		Origin:       originTime,
	}
}

// surrogateKeys collects tags from Surrogate-Key (space-separated) and
// Cache-Tag (comma-separated).
func surrogateKeys(h http.Header) []string {
	var tags []string
	for _, v := range h.Values("Surrogate-Key") {
		tags = append(tags, strings.Fields(v)...)
	}
	for _, v := range h.Values("Cache-Tag") {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// respBody carries a pass response to its one reader.
type respBody struct{ resp *http.Response }

func (b *respBody) Size() int64 { return b.resp.ContentLength }
func (b *respBody) Open(int64) (io.ReadCloser, error) {
	return b.resp.Body, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
