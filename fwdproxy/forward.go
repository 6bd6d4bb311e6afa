package fwdproxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/httpcache"
)

// forward serves an absolute-form request: from the cache when a fresh
// stored response exists, else from the destination (validating a stale
// one), storing what RFC 9111 allows a shared cache to store. Redirects are
// passed to the client, never followed: a Location the client then asks for
// is a new request, checked like any other.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, t Target, rule *compiledRule, a *access) {
	now := p.cfg.Now()
	cacheable := p.cfg.Cache != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead)
	var primary string
	var stale *cache.Object
	if cacheable {
		primary = cache.PrimaryKey("http", t.Authority(), r.URL.EscapedPath(), r.URL.RawQuery, p.cfg.KeyOptions)
		o, key := p.lookup(primary, r.Header)
		collapsed := false
		if o == nil && r.Method == http.MethodGet && collapsible(r) {
			// Request collapsing: one miss per key goes to the
			// destination; the others wait for it and look again.
			ch, finish := p.flights.join(key, p.cfg.Cache.Wait)
			if finish != nil {
				defer finish()
			} else if waitFlight(r.Context(), ch, collapseWait) {
				o, _ = p.lookup(primary, r.Header)
				collapsed = o != nil
			}
		}
		if o != nil {
			e := entryOf(o)
			if collapsed {
				now = p.cfg.Now()
			}
			if d := httpcache.Evaluate(r.Header, e, now); d.Fresh {
				p.m.hits.Inc()
				if collapsed {
					p.m.cacheResults.WithLabelValues("collapsed").Inc()
				}
				p.serveStored(w, r, o, e, now, httpcache.Status{Cache: p.cfg.Name, Hit: true, TTL: ttl(d.TTL), Collapsed: collapsed}, a)
				return
			}
			if httpcache.Evaluate(r.Header, e, now).OnlyIfCached {
				p.refuse(w, a, http.StatusGatewayTimeout, "only-if-cached and the stored response is stale")
				return
			}
			stale = o
		} else if httpcache.ParseCacheControl(r.Header.Values("Cache-Control")).OnlyIfCached {
			p.refuse(w, a, http.StatusGatewayTimeout, "only-if-cached and nothing is stored")
			return
		}
	}
	addrs, err := p.resolve(r.Context(), t, rule)
	if err != nil {
		p.fail(w, a, t, err)
		return
	}
	out := p.outbound(r, t, addrs[0], rule)
	if stale != nil {
		httpcache.ConditionalRequest(http.Header(entryOf(stale).Header), out.Header)
	}
	reqTime := p.cfg.Now()
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		p.fail(w, a, t, err)
		return
	}
	defer resp.Body.Close()
	respTime := p.cfg.Now()

	if stale != nil && resp.StatusCode == http.StatusNotModified && httpcache.NotModifiedMatches(entryOf(stale).Header, resp.Header) {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		e := entryOf(stale).Revalidated(resp.Header, reqTime, respTime, p.cfg.CachePolicy)
		stale.SetHead(headOf(e))
		p.m.cacheResults.WithLabelValues("revalidated").Inc()
		d := httpcache.Evaluate(r.Header, e, respTime)
		p.serveStored(w, r, stale, e, respTime, httpcache.Status{Cache: p.cfg.Name, Hit: true, Fwd: httpcache.FwdStale, FwdStatus: 304, TTL: ttl(d.TTL)}, a)
		return
	}
	if !isSafe(r.Method) && resp.StatusCode < 400 && p.cfg.Cache != nil {
		// RFC 9111 §4.4: an unsafe request invalidates the target URI.
		p.cfg.Cache.Del(cache.PrimaryKey("http", t.Authority(), r.URL.EscapedPath(), r.URL.RawQuery, p.cfg.KeyOptions))
	}

	st := httpcache.Status{Cache: p.cfg.Name, Fwd: httpcache.FwdURIMiss, FwdStatus: resp.StatusCode}
	if stale != nil {
		st.Fwd = httpcache.FwdStale
	}
	if !cacheable {
		st.Fwd = httpcache.FwdMethod
	}
	store := false
	if cacheable && r.Method == http.MethodGet {
		ok, reason := httpcache.Storable(out.Method, out.Header, resp.StatusCode, resp.Header, p.cfg.CachePolicy)
		switch {
		case !ok:
			st.Detail = reason
		case resp.ContentLength > 0 && !p.cfg.Cache.Fits(resp.ContentLength):
			st.Detail = "too-large"
		default:
			store = true
		}
	}
	if cacheable {
		if store {
			p.m.misses.Inc()
		} else {
			p.m.passes.Inc()
		}
	}

	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	httpcache.RemoveHopByHop(h)
	if store {
		st.Stored = true
	}
	h.Set("Cache-Status", httpcache.AppendCacheStatus(resp.Header.Get("Cache-Status"), st))
	if resp.ContentLength >= 0 && r.Method != http.MethodHead {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	a.status = resp.StatusCode
	a.cache = "miss"
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return
	}
	var buf *bytes.Buffer
	var dst io.Writer = w
	if store {
		buf = &bytes.Buffer{}
		dst = &capWriter{w: w, buf: buf, max: p.maxObject()}
	}
	n, err := io.Copy(dst, resp.Body)
	a.bytes = n
	if err != nil {
		p.m.upstreamErrors.Inc()
		// A truncated body must not look complete to the client.
		panic(http.ErrAbortHandler)
	}
	if store {
		if cw := dst.(*capWriter); !cw.over && (resp.ContentLength < 0 || resp.ContentLength == n) {
			p.store(primary, r, resp, reqTime, respTime, buf.Bytes())
		}
	}
}

func (p *Proxy) maxObject() int64 {
	// Fits is monotonic in size: find the bound once per call cheaply by
	// asking for the common case first.
	const guess = 16 << 20
	if p.cfg.Cache.Fits(guess) {
		return guess
	}
	lo, hi := int64(0), int64(guess)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if p.cfg.Cache.Fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// capWriter writes through to w and keeps a copy in buf up to max bytes.
type capWriter struct {
	w    io.Writer
	buf  *bytes.Buffer
	max  int64
	over bool
}

func (c *capWriter) Write(b []byte) (int, error) {
	if !c.over {
		if int64(c.buf.Len()+len(b)) > c.max {
			c.over = true
			c.buf.Reset()
		} else {
			c.buf.Write(b)
		}
	}
	return c.w.Write(b)
}

// outbound builds the request sent upstream: to the checked address,
// with the client's Host, without hop-by-hop and Proxy-* fields, and
// without anything that identifies the client unless the rule asks for
// forwarding headers.
func (p *Proxy) outbound(r *http.Request, t Target, addr netip.AddrPort, rule *compiledRule) *http.Request {
	ctx := context.WithValue(r.Context(), dialKey{}, rule)
	u := *r.URL
	u.Host = addr.String() // the pool is keyed by the checked address
	u.User = nil
	out := &http.Request{
		Method:        r.Method,
		URL:           &u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.Header.Clone(),
		Host:          r.Host,
		ContentLength: r.ContentLength,
		Body:          r.Body,
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	out = out.WithContext(ctx)
	cleanRequestHeader(out.Header)
	if rule != nil && rule.ForwardedHeaders {
		client := clientAddr(r.RemoteAddr)
		out.Header.Add("Via", "1.1 "+p.cfg.Name)
		xff := client.String()
		if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + xff
		}
		out.Header.Set("X-Forwarded-For", xff)
		for _, f := range r.Header.Values("Forwarded") {
			out.Header.Add("Forwarded", f)
		}
		forVal := client.String()
		if client.Is6() {
			forVal = `"[` + forVal + `]"`
		}
		out.Header.Add("Forwarded", "for="+forVal+";host="+strconv.Quote(r.Host)+";proto=http")
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil // do not add Go's
	}
	return out
}

// cleanRequestHeader removes hop-by-hop fields (and those Connection
// names), every Proxy-* field, and the fields that carry a client's
// address through proxies (Via, X-Forwarded-*, Forwarded, X-Real-IP).
func cleanRequestHeader(h http.Header) {
	httpcache.RemoveHopByHop(h)
	for k := range h {
		if strings.HasPrefix(k, "Proxy-") {
			delete(h, k)
		}
	}
	for _, k := range []string{"Via", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Real-Ip", "Client-Ip", "True-Client-Ip", "X-Client-Ip"} {
		delete(h, k)
	}
}

// lookup finds the stored object for a request, following a Vary marker to
// the variant. It returns the key a response should be stored under too.
func (p *Proxy) lookup(primary string, req http.Header) (*cache.Object, string) {
	o, ok := p.cfg.Cache.Get(primary)
	if !ok {
		return nil, primary
	}
	if o.Body == nil && len(o.VaryFields) > 0 {
		key := cache.VariantKey(primary, o.VaryFields, httpcache.VaryValues(o.VaryFields, req))
		v, ok := p.cfg.Cache.Get(key)
		if !ok || v.Body == nil {
			return nil, key
		}
		return v, key
	}
	if o.Body == nil || o.Head() == nil {
		return nil, primary
	}
	return o, primary
}

// store puts a complete response in the cache (and a Vary marker when the
// response varies).
func (p *Proxy) store(primary string, r *http.Request, resp *http.Response, reqTime, respTime time.Time, body []byte) {
	e := httpcache.NewEntry(resp.StatusCode, resp.Header, reqTime, respTime, p.cfg.CachePolicy)
	var key string
	fields, _ := httpcache.VaryFields(resp.Header)
	if len(fields) > 0 {
		key = cache.VariantKey(primary, fields, httpcache.VaryValues(fields, r.Header))
		marker := cache.NewObject(primary, primary, nil, nil)
		marker.VaryFields = fields
		p.cfg.Cache.Set(marker)
	} else {
		key = primary
	}
	o := cache.NewObject(key, primary, headOf(e), cache.Bytes(append([]byte(nil), body...)))
	p.cfg.Cache.Set(o)
}

// headOf turns a freshness entry into a cache head that remembers it.
func headOf(e *httpcache.Entry) *cache.Head {
	h := &cache.Head{
		Status:       e.Status,
		Header:       textproto.MIMEHeader(e.Header),
		RequestTime:  e.RequestTime,
		ResponseTime: e.ResponseTime,
		InitialAge:   e.InitialAge,
		Lifetime:     e.Lifetime,
		Origin:       e.RequestTime,
	}
	h.SetExtra(e)
	return h
}

// entryOf returns the freshness entry of a stored object.
func entryOf(o *cache.Object) *httpcache.Entry {
	h := o.Head()
	if e, ok := h.Extra().(*httpcache.Entry); ok {
		return e
	}
	return &httpcache.Entry{Status: h.Status, Header: http.Header(h.Header), RequestTime: h.RequestTime,
		ResponseTime: h.ResponseTime, InitialAge: h.InitialAge, Lifetime: h.Lifetime}
}

// serveStored answers from a stored response, with Age, Cache-Status and
// the client's own preconditions (If-None-Match, If-Modified-Since).
func (p *Proxy) serveStored(w http.ResponseWriter, r *http.Request, o *cache.Object, e *httpcache.Entry, now time.Time, st httpcache.Status, a *access) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	h.Set("Age", strconv.FormatInt(int64(e.Age(now)/time.Second), 10))
	h.Set("Cache-Status", httpcache.AppendCacheStatus(e.Header.Get("Cache-Status"), st))
	a.cache = "hit"
	if e.Status == http.StatusOK && hasPreconditions(r.Header) {
		etag, lm := httpcache.Validators(e.Header)
		lmt, _ := httpcache.ParseHTTPDate(lm)
		if s := httpcache.CheckPreconditions(r.Method, r.Header, etag, lmt); s != 0 {
			h.Del("Content-Length")
			a.status = s
			w.WriteHeader(s)
			return
		}
	}
	size := o.Size()
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	a.status = e.Status
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	body, err := o.Body.Open(0)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer body.Close()
	n, _ := io.Copy(w, body)
	a.bytes = n
}

// hasPreconditions reports whether a request carries a precondition a
// stored response must be checked against (RFC 9110 §13.1).
func hasPreconditions(h http.Header) bool {
	for _, k := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

func ttl(d time.Duration) *int64 {
	s := int64(d / time.Second)
	return &s
}

func isSafe(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// collapseWait bounds how long a request waits for another request's
// fetch of the same object before it fetches on its own.
const collapseWait = 10 * time.Second

// collapsible reports whether a miss may wait for another client's fetch
// of the same URL: not when the request carries credentials for the
// destination or asks for its own fetch.
func collapsible(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return false
	}
	cc := httpcache.ParseCacheControl(r.Header.Values("Cache-Control"))
	return !cc.NoCache && cc.MaxAge != 0 && r.Header.Get("Pragma") == ""
}

// flights tracks the misses being fetched, by cache key.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	waiters int
}

// join returns the channel closed when key's fetch ends. The first caller
// leads: it gets finish, which it calls once the response is stored (or
// found unstorable), with settle run first when anyone waits (to make the
// stored response visible to their lookups); the others get nil.
func (f *flights) join(key string, settle func()) (ch <-chan struct{}, finish func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.m[key]; ok {
		fl.waiters++
		return fl.done, nil
	}
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	fl := &flight{done: make(chan struct{})}
	f.m[key] = fl
	return fl.done, func() {
		f.mu.Lock()
		delete(f.m, key)
		waiters := fl.waiters
		f.mu.Unlock()
		if waiters > 0 {
			settle()
		}
		close(fl.done)
	}
}

// waitFlight waits for ch until ctx ends or max passes; it reports
// whether the leader finished.
func waitFlight(ctx context.Context, ch <-chan struct{}, max time.Duration) bool {
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	case <-t.C:
		return false
	}
}
