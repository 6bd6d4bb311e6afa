package edge

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/lb"
)

// upstreamSet is a group of upstream servers with the policy that orders
// them for a request: an origin pool, or the shield tier. Health (active
// probes and passive ejection) lives in the lb.Pool.
type upstreamSet struct {
	name    string
	pool    *lb.Pool
	urls    map[*lb.Backend]*url.URL
	host    string // Host override, "" keeps the request's
	shields bool   // these are our shields (trusted CDN headers)
}

func (s *Proxy) newUpstreamSet(name string, p Pool, shields bool) (*upstreamSet, error) {
	policy, ups, health, host := p.Policy, p.Servers, p.Health, p.HostHeader
	set := &upstreamSet{name: name, urls: map[*lb.Backend]*url.URL{}, host: host, shields: shields}
	var backends []*lb.Backend
	for _, u := range ups {
		pu, err := url.Parse(u.URL)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u.URL, err)
		}
		n := u.Name
		if n == "" {
			n = u.URL
		}
		b := &lb.Backend{Name: n, Addr: pu.Host, HealthAddr: u.HealthAddr, Weight: u.Weight, MaxConns: int64(u.MaxConns)}
		backends = append(backends, b)
		set.urls[b] = pu
	}
	if policy == "" {
		policy = lb.PolicyRoundRobin
	}
	pc := lb.PoolConfig{
		Name:    name,
		Policy:  policy,
		Options: p.Options,
		Passive: p.Passive,
	}
	switch pc.Passive.MaxFails {
	case 0:
		pc.Passive.MaxFails = config.DefaultPassiveMaxFails
	case -1:
		pc.Passive.MaxFails = 0 // off
	}
	if pc.Passive.CoolDown == 0 {
		pc.Passive.CoolDown = config.DefaultPassiveCoolDown.D()
	}
	if health.Path != "" {
		h := health
		pc.Health = &h
	}
	// Pool series carry the node's labels like every other edge series,
	// so one registry can hold the pools of many nodes.
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"node": s.cfg.Name, "role": string(s.cfg.Role)}, s.reg)
	pool, err := lb.NewPool(pc, backends, s.log, reg, s.cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", name, err)
	}
	set.pool = pool
	return set, nil
}

// candidates returns up to n upstreams to try, in this request's order of
// preference (for hashing policies the key's own order, so a failed
// shield's keys spread over the others), available ones only; if none is
// available, the most preferred one anyway rather than fail unasked.
func (set *upstreamSet) candidates(key string, client netip.Addr, n int, dst []*lb.Backend) []*lb.Backend {
	var buf [16]*lb.Backend
	order := set.pool.Order(&lb.Request{Key: key, ClientIP: client}, buf[:0])
	for _, b := range order {
		if len(dst) < n && b.Available() {
			dst = append(dst, b)
		}
	}
	if len(dst) == 0 && len(order) > 0 {
		dst = append(dst, order[0])
	}
	return dst
}

// newTransport returns the keep-alive pool used for every upstream.
func newTransport(c *Config) *http.Transport {
	d := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second, Control: ackTimeoutControl(c.AckTimeout)}
	return &http.Transport{
		Proxy:                 nil, // never use environment proxies
		DialContext:           d.DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   c.MaxIdlePerHost,
		IdleConnTimeout:       c.IdleTimeout,
		ResponseHeaderTimeout: c.HeaderTimeout,
		TLSHandshakeTimeout:   c.ConnectTimeout + 3*time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // bodies pass through as the origin sent them
		ForceAttemptHTTP2:     false,
	}
}

// errUpstream5xx marks a 5xx answer that made us try another upstream.
var errUpstream5xx = errors.New("upstream answered 5xx")

// retryable reports whether a failed attempt may be retried on another
// upstream: the request must be idempotent (RFC 9110 §9.2.2) and its body
// replayable.
func retryable(method string, body io.Reader) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return body == nil || body == http.NoBody
	}
	return false
}

// roundTrip sends req to the candidates in turn until one answers without
// a transport error or (for retryable requests) a 5xx. The last 5xx
// response is returned when every candidate fails that way.
//
// Backends in exclude (which may be nil) are not tried.
func (s *Proxy) roundTrip(ctx context.Context, set *upstreamSet, key string, client netip.Addr, out *http.Request, exclude ...*lb.Backend) (*http.Response, *lb.Backend, error) {
	var buf [8]*lb.Backend
	tries := 1
	if retryable(out.Method, out.Body) {
		tries += s.cfg.Retries
	}
	cands := set.candidates(key, client, tries+len(exclude), buf[:0])
	if len(exclude) > 0 {
		kept := cands[:0]
		for _, b := range cands {
			if !slices.Contains(exclude, b) {
				kept = append(kept, b)
			}
		}
		cands = kept
	}
	var lastErr error
	var lastResp *http.Response
	var lastB *lb.Backend
	for i, b := range cands {
		u := set.urls[b]
		r := out.Clone(ctx)
		r.URL.Scheme = u.Scheme
		r.URL.Host = u.Host
		if set.host != "" {
			r.Host = set.host
		}
		start := s.cfg.Now()
		if i < len(cands)-1 {
			r = r.WithContext(failFast(r.Context(), start, s.cfg.Now))
		}
		b.Acquire()
		tr := s.transport
		if r.Body == nil || r.Body == http.NoBody {
			tr = s.bodiless // reads transfer codings net/http refuses (unframed.go)
		}
		resp, err := tr.RoundTrip(r)
		if err == nil && tr == s.bodiless && resp.Header.Get(hdrTransferCodings) != "" {
			err = decodeTransferCodings(resp)
		}
		if cb, ok := out.Body.(*clientBody); ok && cb.fault() != nil {
			// The client's body broke (malformed chunking, a client that
			// left): the client's fault, never the upstream's.
			if resp != nil {
				resp.Body.Close()
			}
			b.Release()
			return nil, nil, cb.fault()
		}
		if err != nil {
			b.Release()
			b.ReportResult(false)
			s.metrics.upstreamErrors.WithLabelValues(set.name, b.Name).Inc()
			lastErr = fmt.Errorf("%s %s via %s: %w", out.Method, out.URL.RequestURI(), b.Name, err)
			s.log.Warn("upstream failed", "upstream", b.Name, "url", out.URL.RequestURI(), "err", err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		s.metrics.upstreamLatency.WithLabelValues(set.name).Observe(s.cfg.Now().Sub(start).Seconds())
		resp.Body = &releaseBody{ReadCloser: newIdleReader(resp.Body, s.cfg.BodyIdleTimeout), b: b}
		if resp.StatusCode >= 500 && i < len(cands)-1 && retryable(out.Method, out.Body) && set.shields {
			// A shield that answers 5xx may be failing; the next shield
			// in the key's order may have the object or reach the origin.
			b.ReportResult(false)
			if lastResp != nil {
				lastResp.Body.Close()
			}
			lastResp, lastB = resp, b
			lastErr = errUpstream5xx
			continue
		}
		// A shield answering 5xx is failing; an origin answering 5xx is
		// alive (its answer is passed on), so only transport errors count.
		b.ReportResult(!set.shields || resp.StatusCode < 500)
		if lastResp != nil {
			lastResp.Body.Close()
		}
		return resp, b, nil
	}
	if lastResp != nil {
		return lastResp, lastB, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no upstream available")
	}
	return nil, nil, lastErr
}

// releaseBody returns the backend's in-flight slot when the body is closed.
type releaseBody struct {
	io.ReadCloser
	b    *lb.Backend
	done bool
}

func (r *releaseBody) Close() error {
	if !r.done {
		r.done = true
		r.b.Release()
	}
	return r.ReadCloser.Close()
}

// hostOnly strips a port from a Host header value.
func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return strings.ToLower(h[1:i])
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// errBodyIdle fails a body read after the upstream sent nothing for
// BodyIdleTimeout (a link that drops packets never resets).
var errBodyIdle = errors.New("upstream body: no data within the idle timeout")

// idleReader closes a body on which nothing arrives for d, so a read
// blocked on a dead link returns an error (and the pump can resume from
// another shield) instead of hanging until TCP gives up.
type idleReader struct {
	rc       io.ReadCloser
	d        time.Duration
	t        *time.Timer
	timedOut atomic.Bool
}

func newIdleReader(rc io.ReadCloser, d time.Duration) io.ReadCloser {
	r := &idleReader{rc: rc, d: d}
	r.t = time.AfterFunc(d, func() {
		r.timedOut.Store(true)
		rc.Close()
	})
	return r
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.t.Reset(r.d)
	}
	if err != nil && err != io.EOF && r.timedOut.Load() {
		err = errBodyIdle
	}
	return n, err
}

func (r *idleReader) Close() error {
	r.t.Stop()
	return r.rc.Close()
}

// errClientBody wraps a failure to read the client's request body.
type errClientBody struct{ err error }

func (e errClientBody) Error() string { return "reading the request body: " + e.err.Error() }
func (e errClientBody) Unwrap() error { return e.err }

// clientBody is a request body on its way upstream; it remembers whether
// reading it from the client failed, so that failure is answered with 400
// and never counted against the upstream.
type clientBody struct {
	rc       io.ReadCloser
	deadline bodyDeadline
	err      atomic.Pointer[errClientBody]
}

func (b *clientBody) Read(p []byte) (int, error) {
	b.deadline.arm()
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err.CompareAndSwap(nil, &errClientBody{err})
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

func (b *clientBody) fault() error {
	if e := b.err.Load(); e != nil {
		return *e
	}
	return nil
}

// failFast returns ctx for one attempt on an upstream that is not the last
// candidate. net/http retries an idempotent request on another kept-alive
// connection to the same upstream when one fails; when the first failure
// was slow (a silently dropped link: the ack timeout), every idle
// connection to that upstream is likely dead too, and each retry would
// cost the same again. Then the attempt is abandoned, and the request
// goes to the next candidate instead.
func failFast(ctx context.Context, start time.Time, now func() time.Time) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	conns := 0
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) {
			conns++
			if conns > 1 && now().Sub(start) > time.Second {
				cancel()
			}
		},
	})
}
