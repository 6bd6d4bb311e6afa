package edge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/compress"
	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/httpcache"
)

// Internal header fields exchanged between tiers. They are removed before
// a response reaches a client.
const (
	// hdrOriginTime carries, from a shield to an edge, when the content
	// was last known current at the origin (Unix nanoseconds), so purges
	// apply to the edge's copy as they do to the shield's.
	hdrOriginTime = "X-Cdn-Origin-Time"
	// hdr304ContentType carries a 304's Content-Type from a shield to an
	// edge: net/http drops Content-Type from every 304 it sends, and the
	// edge's stored response must be updated with it (RFC 9111 §3.2).
	hdr304ContentType = "X-Cdn-304-Content-Type"
)

// site is a configured site with its upstream sets. A request keeps the
// site it was routed to, so a reload never mixes two configurations in
// one request.
type site struct {
	Site
	origin  *upstreamSet
	shields *upstreamSet // nil: misses go to origin
}

// reqInfo travels with one client request, for logs and metrics.
type reqInfo struct {
	site   *site
	status string // hit, miss, stale, pass, ... for metrics
	// noStale forbids serving a stored response without a successful
	// revalidation (the node may have missed a purge).
	noStale bool
}

// route finds the site for a Host header.
func (s *Proxy) route(host string) *site {
	h := hostOnly(host)
	rt := s.routes.Load()
	if st, ok := rt.sites[h]; ok {
		return st
	}
	return rt.wildcard
}

// ServeHTTP is the one handler shared by HTTP/1.1, HTTP/2 (and HTTP/3).
func (s *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Now()
	if r.TLS == nil {
		// HTTP/1.1 over TLS comes through the TLS front (tlsfront.go).
		r.TLS = tlsStateFor(r.Context())
	}
	sw := &statusWriter{ResponseWriter: w, sendTimeout: s.cfg.SendTimeout}
	sw.armSend() // also bounds responses without a body
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
	if r.Method == http.MethodOptions && r.RequestURI == "*" {
		// RFC 9110 §9.3.7: about the server, not a resource; answered
		// here as net/http would (its own handler is off, see Run).
		info.status = "other"
		sw.Header().Set("Content-Length", "0")
		sw.WriteHeader(http.StatusOK)
		return
	}
	if r.URL.Path == config.DefaultShieldHealthPath && r.Method == http.MethodGet {
		// Health on the data port: a probe that reaches this answer has
		// crossed the path requests take.
		info.status = "health"
		s.healthz(sw, r)
		return
	}
	if r.Method == http.MethodTrace || r.Method == http.MethodConnect {
		// TRACE reflects the request (credentials included) and CONNECT
		// would tunnel: neither has any business at a reverse proxy.
		info.status = "refused"
		sw.Header().Set("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH")
		s.plainError(sw, http.StatusMethodNotAllowed, r.Method+" is not served by this CDN\n")
		return
	}
	if n, size := headerCount(r.Header); n > s.cfg.MaxHeaderCount || size > s.cfg.MaxHeaderBytes {
		// net/http's own limit allows 4 KiB beyond MaxHeaderBytes and
		// counts no fields; this is the documented limit, exactly.
		info.status = "refused"
		s.metrics.limitTrips.WithLabelValues("request_headers").Inc()
		sw.Header().Set("Connection", "close")
		s.plainError(sw, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request has %d header fields of %d bytes; the limits are %d and %d\n", n, size, s.cfg.MaxHeaderCount, s.cfg.MaxHeaderBytes))
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

// headerCount returns the number of header fields of a request and their
// size as sent (name, ": ", value, CRLF), request line excluded.
func headerCount(h http.Header) (n, size int) {
	for k, vs := range h {
		n += len(vs)
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	return n, size
}

// looped reports whether this node already appears in CDN-Loop (RFC 8586).
func (s *Proxy) looped(r *http.Request) bool {
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

// request is what the hit path needs from a client request: the method,
// the cache key's inputs, and the fields that select a stored variant,
// make a condition or ask for a range. ServeHTTP makes one from
// *http.Request (requestOf), the fast HTTP/1.1 engine from its own parse
// (fastHit); asking the store (answer) and writing a stored response
// (serveObject) take nothing else. The miss path keeps the *http.Request
// it forwards.
type request struct {
	ctx    context.Context
	method string
	scheme string // "http" or "https"
	host   string // the Host (or :authority) as sent
	path   string // escaped path
	query  string // raw query
	remote string // the connection's peer address (host:port)
	// header holds the request's fields (Vary, Cache-Control,
	// conditionals, Range, Accept-Encoding); for a fast-engine request it
	// is nil, and answer builds it from fast if Vary needs it.
	header http.Header
	fast   *fastRequest
}

// requestOf makes the hit path's request value from a net/http request.
func requestOf(r *http.Request) *request {
	return &request{ctx: r.Context(), method: r.Method, scheme: schemeOf(r), host: r.Host,
		path: r.URL.EscapedPath(), query: r.URL.RawQuery, remote: r.RemoteAddr, header: r.Header}
}

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// peer is the address of the connection's other end.
func (q *request) peer() netip.Addr { return remoteAddr(q.remote) }

func (s *Proxy) primaryKey(q *request, st *site) string {
	return primaryKeyOf(st, q.scheme, q.host, q.path, q.query)
}

// primaryKeyOf is a request's primary cache key on site st (the Host
// counts only on a wildcard site).
func primaryKeyOf(st *site, scheme, host, path, query string) string {
	h := st.Host
	if h == "*" {
		h = hostOnly(host)
	}
	return cache.PrimaryKey(scheme, h, path, query, st.Key)
}

// entryOf describes a stored head for freshness decisions, with the
// cache-control that governs this site (CDN-Cache-Control unless ignored).
func (s *Proxy) entryOf(h *cache.Head, st *site) *httpcache.Entry {
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

// answerKind is what the store's answer means for a GET or HEAD.
type answerKind int

const (
	answerHit        answerKind = iota // serve the stored response
	answerStale                        // serve it stale, revalidate in the background (stale-while-revalidate)
	answerRevalidate                   // revalidate the stored response before use
	answerMiss                         // nothing usable stored: fetch, collapsed with others
	answerPass                         // a key known not to be storable: fetch alone (hit-for-pass)
	answerNoneCached                   // only-if-cached, and nothing fresh stored: 504
)

// answer is the store's one typed answer to one request.
type answer struct {
	kind    answerKind
	lookup  cache.Lookup // its Close releases what the lookup opened
	primary string       // the primary key
	ttl     int64        // seconds of freshness left, for Cache-Status
}

// object is the stored response the answer is about, or nil.
func (a *answer) object() *cache.Object { return a.lookup.Object }

// answer asks the tiers about a GET or HEAD whose primary key is
// primary, and judges what they hold (RFC 9111 §4): one question per
// request, for both HTTP/1.1 engines. The caller closes the answer's
// lookup.
func (s *Proxy) answer(q *request, st *site, primary string, now time.Time) answer {
	a := answer{primary: primary}
	// The closure sees copies, so that q's strings do not escape with the
	// Vary values (one allocation less per fast-engine hit).
	hdr, fast, fields := q.header, q.fast, q.header
	a.lookup = s.store.Lookup(a.primary, func(fields []string) []string {
		if hdr == nil && fast != nil {
			hdr = fast.header()
		}
		return varyValues(fields, hdr)
	})
	l := &a.lookup
	if l.Kind == cache.Pass {
		a.kind = answerPass
		return a
	}
	obj := l.Object
	if obj == nil {
		a.kind = answerMiss
		if fields != nil && httpcache.ParseCacheControl(fields.Values("Cache-Control")).OnlyIfCached {
			a.kind = answerNoneCached
		}
		return a
	}
	d := httpcache.Evaluate(fields, s.entryOf(obj.Head(), st), now)
	if l.Verdict == cache.Stale {
		// Soft purge: revalidate before use, but stale-while-
		// revalidate still applies (the purge API's soft mode).
		d.Fresh = false
		d.MustValidate = true
	}
	a.ttl = int64(d.TTL.Seconds())
	switch {
	case d.Fresh && !d.MustValidate:
		a.kind = answerHit
	case d.OnlyIfCached:
		a.kind = answerNoneCached
	case d.StaleWhileRevalidate && !l.Unsynced:
		a.kind = answerStale
	default:
		a.kind = answerRevalidate
	}
	return a
}

// serveCacheable handles GET and HEAD: hit, stale, revalidation or miss.
func (s *Proxy) serveCacheable(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo) {
	q := requestOf(r)
	a := s.answer(q, st, s.primaryKey(q, st), s.cfg.Now())
	defer a.lookup.Close()
	obj := a.object()
	info.noStale = a.lookup.Unsynced
	switch a.kind {
	case answerHit:
		info.status = "hit"
		s.serveObject(w, q, st, servable{key: obj.Key, head: obj.Head(), body: obj.Body, size: obj.Size(), status: httpcache.Status{Cache: s.cfg.Name, Hit: true, TTL: &a.ttl}})
	case answerStale:
		info.status = "stale"
		s.serveObject(w, q, st, servable{key: obj.Key, head: obj.Head(), body: obj.Body, size: obj.Size(), status: httpcache.Status{Cache: s.cfg.Name, Hit: true, TTL: &a.ttl, Detail: "stale-while-revalidate"}})
		s.revalidateInBackground(r, st, a.lookup.Key, a.primary, obj)
	case answerNoneCached:
		info.status = "miss"
		msg := "only-if-cached: nothing stored"
		if obj != nil {
			msg = "only-if-cached: no fresh response stored"
		}
		s.gatewayTimeout(w, msg)
	case answerRevalidate:
		info.status = "revalidate"
		s.serveFetched(w, r, st, info, obj, a.lookup.Key, true)
	case answerPass:
		info.status = "pass"
		s.serveFetched(w, r, st, info, nil, a.lookup.Key, false)
	default:
		info.status = "miss"
		if a.lookup.Key == a.primary && !a.lookup.VaryMiss && sliceable(st, r) {
			// A range of an object not stored whole: from slices.
			if err := s.serveSlices(w, r, st, info, a.primary); !errors.Is(err, errNoSlices) {
				if err != nil {
					s.upstreamError(w, err)
				}
				return
			}
		}
		s.serveFetched(w, r, st, info, nil, a.lookup.Key, true)
	}
}

// startFlight joins the flight for key (or, without collapse, makes one
// of its own) and, for its leader, starts the fetch once the client's
// connection has a free fetch slot (MaxFetchesPerConn). It returns nil if
// the client left first.
func (s *Proxy) startFlight(r *http.Request, st *site, key, primary string, stale *cache.Object, collapse bool) (*flight, bool) {
	mk := func() *flight { return newFlight(s.baseCtx, s) }
	var f *flight
	leader := true
	if collapse {
		f, leader = s.flights.join(key, mk)
	} else {
		f = mk()
	}
	if !leader {
		s.metrics.collapsed.Inc()
		return f, false
	}
	cc := connFor(r.Context())
	if !cc.acquireFetch(r.Context()) {
		s.neverStarted(f, key, collapse, "client left before the fetch started")
		return nil, true
	}
	if !s.jobs.start(func() {
		defer cc.releaseFetch()
		s.lead(f, r, st, key, primary, stale, collapse)
	}) {
		cc.releaseFetch()
		s.neverStarted(f, key, collapse, "the node is stopping")
		return nil, true
	}
	return f, true
}

// neverStarted ends a flight whose fetch never started: waiters that
// joined meanwhile see an error.
func (s *Proxy) neverStarted(f *flight, key string, collapse bool, why string) {
	f.publish(flightResult{kind: resError, status: http.StatusServiceUnavailable, err: errors.New(why)})
	if collapse {
		s.flights.forget(key, f)
	}
	f.pumpDone()
	f.release()
}

// serveFetched fetches from upstream (collapsed with concurrent requests
// for the same key when collapse is set) and serves the result. stale is
// the stored object being revalidated, if any.
func (s *Proxy) serveFetched(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo, stale *cache.Object, key string, collapse bool) {
	primary := s.primaryKey(requestOf(r), st)
	if key == "" {
		key = primary
	}
	if r.Context().Err() != nil {
		// The client is gone already (a reset stream): fetch nothing.
		panic(http.ErrAbortHandler)
	}
	for attempt := 0; attempt < 3; attempt++ {
		f, leader := s.startFlight(r, st, key, primary, stale, collapse)
		if f == nil {
			panic(http.ErrAbortHandler)
		}
		var early chan informational
		if leader {
			early = f.early
		}
	wait:
		for {
			select {
			case <-f.ready:
				// Informational responses arrive before the final one,
				// but select may see ready first: send what is queued.
				for len(early) > 0 {
					writeInformational(w, <-early)
				}
				break wait
			case in := <-early:
				writeInformational(w, in)
			case <-r.Context().Done():
				if leader {
					s.abandon(connFor(r.Context()))
				}
				f.release()
				// The client left, or the node is stopping: end the
				// response abruptly rather than let net/http send an
				// empty 200.
				panic(http.ErrAbortHandler)
			}
		}
		if s.serveResult(w, r, st, info, f, leader, &stale, &key, primary) {
			return
		}
		// Not usable by this request: go upstream alone.
		collapse = false
	}
	s.plainError(w, http.StatusBadGateway, "could not obtain a response\n")
}

// serveResult serves a flight's result to one of its waiters, releasing
// its reference when done. It reports false when this request must fetch
// on its own (a pass response of another client, another Vary variant, a
// streamed body it joined too late).
func (s *Proxy) serveResult(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo, f *flight, leader bool, stale **cache.Object, key *string, primary string) bool {
	defer f.release()
	res := f.res
	switch res.kind {
	case resPass:
		if !leader {
			return false
		}
		rd, err := res.fill.Reader(r.Context(), 0)
		if err != nil {
			return false
		}
		defer rd.Close()
		s.servePassResult(w, r, info, res, rd)
		return true
	case resError:
		if *stale != nil && !info.noStale {
			// RFC 9111 §4.2.4: a stored response may answer when the
			// upstream fails, unless a directive forbids it; within
			// stale-if-error or the site's stale_on_error window.
			old := *stale
			now := s.cfg.Now()
			e := s.entryOf(old.Head(), st)
			if d := httpcache.CanServeStaleOnError(e, r.Header, now, st.Policy.StaleOnErrorWindow()); d.Allowed {
				info.status = "stale"
				ttl := int64((e.Lifetime - old.Head().Age(now)).Seconds())
				s.serveObject(w, requestOf(r), st, servable{key: old.Key, head: old.Head(), body: old.Body, size: old.Size(),
					status: httpcache.Status{Cache: s.cfg.Name, Fwd: "stale", FwdStatus: res.status, TTL: &ttl, Detail: d.Reason.String()}})
				return true
			}
		}
		info.status = "error"
		s.plainError(w, res.status, fmt.Sprintf("upstream error: %v\n", res.err))
		return true
	}
	if res.varyFields != nil && !leader {
		mine := varyValues(res.varyFields, r.Header)
		if !equalStrings(mine, res.varyValues) {
			// The response varies on a field where this request differs:
			// look again under its own variant key.
			*key = cache.VariantKey(primary, res.varyFields, mine)
			*stale = nil
			return false
		}
	}
	sv := servable{key: res.obj.Key, head: res.obj.Head(), body: res.obj.Body, size: res.size}
	if res.fill != nil {
		rd, err := res.fill.Reader(r.Context(), 0)
		if err != nil {
			return false // joined a streamed body too late
		}
		defer rd.Close()
		sv.fill, sv.rd, sv.body = res.fill, rd, nil
	}
	fwd := "miss"
	if *stale != nil {
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
	sv.status = cs
	s.serveObject(w, requestOf(r), st, sv)
	return true
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
func (s *Proxy) revalidateInBackground(r *http.Request, st *site, key, primary string, stale *cache.Object) {
	f, leader := s.flights.join(key, func() *flight { return newFlight(s.baseCtx, s) })
	if !leader {
		f.release()
		return
	}
	r2 := r.Clone(context.WithoutCancel(r.Context()))
	if !s.jobs.start(func() { s.lead(f, r2, st, key, primary, stale, true) }) {
		s.neverStarted(f, key, true, "the node is stopping")
		return
	}
	go func() {
		// Nobody reads the result here: a body being stored is finished
		// without us, anything else is cancelled.
		<-f.ready
		f.release()
	}()
}

// servePass forwards a request that is not cacheable (unsafe methods and
// others) and applies RFC 9111 §4.4 invalidation after a success.
func (s *Proxy) servePass(w http.ResponseWriter, r *http.Request, st *site, info *reqInfo) {
	info.status = "pass"
	out := s.outgoing(r, st, r.Method)
	out.Body = &clientBody{rc: r.Body, deadline: bodyDeadline{http.NewResponseController(w), s.cfg.ClientBodyTimeout}}
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	out.ContentLength = r.ContentLength
	set := s.upstreamFor(st)
	ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			// 100 Continue is answered by net/http itself when the handler
			// reads the body; 102 and 103 are forwarded (RFC 9110 §15.2).
			if code != http.StatusContinue && code != http.StatusSwitchingProtocols {
				writeInformational(w, informational{code, h})
			}
			return nil
		},
	})
	resp, _, err := s.roundTrip(ctx, set, s.primaryKey(requestOf(r), st), s.clientIP(r), out)
	var cerr errClientBody
	if errors.As(err, &cerr) {
		info.status = "client-error"
		w.Header().Set("Connection", "close")
		s.plainError(w, http.StatusBadRequest, fmt.Sprintf("malformed request body: %v\n", cerr.err))
		return
	}
	if err != nil {
		s.upstreamError(w, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode < 400 && !isSafe(r.Method) {
		u := *r.URL
		u.Scheme = schemeOf(r)
		// The Host as sent, port included: a same-origin Location or
		// Content-Location names the port too (§4.4 compares origins).
		u.Host = strings.ToLower(r.Host)
		for _, inv := range httpcache.InvalidatedURIs(r.Method, resp.StatusCode, &u, resp.Header) {
			// Marked stale in place (a soft invalidation keeps
			// stale-if-error usable), under the key a GET of that URI
			// through this site would use.
			s.store.Invalidate(cache.PrimaryKey(inv.Scheme, s.siteHost(st, inv.Host), inv.EscapedPath(), inv.RawQuery, st.Key))
		}
	}
	httpcache.RemoveHopByHop(resp.Header)
	s.copyResponseHeader(w.Header(), resp.Header)
	w.Header().Set("Cache-Status", httpcache.AppendCacheStatus(resp.Header.Get("Cache-Status"), httpcache.Status{Cache: s.cfg.Name, Fwd: "method", FwdStatus: resp.StatusCode}))
	s.addVia(w.Header(), resp.ProtoMajor, resp.ProtoMinor)
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		s.copyFlushing(w, resp.Body, resp.ContentLength < 0)
	}
}

func isSafe(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// upstreamFor returns where misses go: the shields (edge role with
// shields), else the site's origin pool.
func (s *Proxy) upstreamFor(st *site) *upstreamSet {
	if st.shields != nil {
		return st.shields
	}
	return st.origin
}

// outgoing builds the upstream request for r: hop-by-hop fields removed,
// Via, X-Forwarded-For and CDN-Loop added.
func (s *Proxy) outgoing(r *http.Request, st *site, method string) *http.Request {
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
	if st.Host != "*" && st.shields == nil && st.origin.host == "" {
		// The origin sees the site's canonical host, whatever alias the
		// client used.
		out.Host = st.Host
	}
	httpcache.RemoveHopByHop(out.Header)
	s.setForwarding(out, r, st)
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
func (s *Proxy) newHead(status int, h http.Header, requestTime, responseTime time.Time, st *site, originTime time.Time) *cache.Head {
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

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
