package loadtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// result is what one request or query came to.
type result struct {
	// errKind is "" for a response that counts as a success, else the
	// error class (a response with an error status has both status and
	// errKind).
	errKind string
	// responded says a response arrived (latency is recorded).
	responded bool
	// cancelled says the run was stopped while the request was in flight.
	cancelled bool
	status    string
	proto     string
	bytes     int64
	cache     *CacheStatus
	noCache   bool // an HTTP response without Cache-Status
	region    string
	pop       string
}

// Error kinds.
const (
	errConnect   = "connect"
	errDNS       = "dns"
	errTimeout   = "timeout"
	errReset     = "reset"
	errEOF       = "eof"
	errBodyShort = "body_short"
	errTLS       = "tls"
	errProtocol  = "protocol"
	errStatus4xx = "status_4xx"
	errStatus5xx = "status_5xx"
	errRcode     = "rcode"
	errOther     = "other"
)

// resolveError marks a failure to find the edge for a site.
type resolveError struct{ err error }

func (e *resolveError) Error() string { return e.err.Error() }
func (e *resolveError) Unwrap() error { return e.err }

// classify names the kind of a transport error.
func classify(err error) string {
	var re *resolveError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var alert tls.AlertError
	var recErr tls.RecordHeaderError
	var nerr net.Error
	switch {
	case errors.As(err, &re):
		return errDNS
	case errors.Is(err, context.DeadlineExceeded):
		return errTimeout
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &alert), errors.As(err, &recErr):
		return errTLS
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		return errConnect
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return errConnect
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return errReset
	case errors.As(err, &nerr) && nerr.Timeout():
		return errTimeout
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errEOF
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "timeout"):
		return errTimeout
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return errReset
	case strings.Contains(msg, "tls"), strings.Contains(msg, "certificate"), strings.Contains(msg, "crypto_error"):
		return errTLS
	case strings.Contains(msg, "http2"), strings.Contains(msg, "http3"), strings.Contains(msg, "quic"),
		strings.Contains(msg, "malformed"), strings.Contains(msg, "protocol"):
		return errProtocol
	case strings.Contains(msg, "eof"), strings.Contains(msg, "server closed"):
		return errEOF
	}
	return errOther
}

// Latency histograms count microseconds from 1µs up to maxTrackable.
const seriesMaxMicros = int64(10 * time.Minute / time.Microsecond)

// percentileLadder are the percentiles kept for distribution plots.
var percentileLadder = [...]float64{0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}

// acc accumulates a Group.
type acc struct {
	requests, responses, errors, bytes int64
	errKinds, statuses, protos         map[string]int64
	hist                               *hdrhistogram.Histogram
	cache                              Cache
}

func newAcc(maxMicros int64) *acc {
	return &acc{
		errKinds: map[string]int64{}, statuses: map[string]int64{}, protos: map[string]int64{},
		hist:  hdrhistogram.New(1, maxMicros, 3),
		cache: Cache{Fwd: map[string]int64{}},
	}
}

func (a *acc) add(r *result, micros int64) {
	a.requests++
	if r.errKind != "" {
		a.errors++
		a.errKinds[r.errKind]++
	}
	if !r.responded {
		return
	}
	a.responses++
	a.bytes += r.bytes
	if r.status != "" {
		a.statuses[r.status]++
	}
	if r.proto != "" {
		a.protos[r.proto]++
	}
	recordClamped(a.hist, micros)
	if r.noCache {
		a.cache.Without++
	}
	if cs := r.cache; cs != nil {
		c := &a.cache
		c.Responses++
		switch cs.outcome() {
		case outcomeHit:
			c.Hits++
		case outcomeStaleHit:
			c.Hits++
			c.StaleHits++
		case outcomeMiss:
			c.Misses++
		case outcomeRevalidated:
			c.Revalidated++
		case outcomeBypass:
			c.Bypass++
		default:
			c.Other++
		}
		if cs.Collapsed {
			c.Collapsed++
		}
		if cs.Stored {
			c.Stored++
		}
		if cs.Fwd != "" {
			c.Fwd[cs.Fwd]++
		}
	}
}

func recordClamped(h *hdrhistogram.Histogram, v int64) {
	if v < 1 {
		v = 1
	}
	if max := h.HighestTrackableValue(); v > max {
		v = max
	}
	_ = h.RecordValue(v)
}

func (a *acc) group(name string, elapsed time.Duration) Group {
	g := Group{
		Name: name, Requests: a.requests, Responses: a.responses, Errors: a.errors,
		BytesReceived: a.bytes, Latency: latencyOf(a.hist), Cache: a.cache,
	}
	g.ErrorsByKind = nonEmpty(a.errKinds)
	g.Statuses = nonEmpty(a.statuses)
	g.Protocols = nonEmpty(a.protos)
	g.Cache.Fwd = nonEmpty(a.cache.Fwd)
	if g.Cache.Responses > 0 {
		g.Cache.HitRatio = float64(g.Cache.Hits) / float64(g.Cache.Responses)
	}
	if s := elapsed.Seconds(); s > 0 {
		g.Throughput = float64(a.requests) / s
		g.Bandwidth = float64(a.bytes) / s
	}
	return g
}

func nonEmpty(m map[string]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func ms(micros int64) float64 { return float64(micros) / 1000 }

func latencyOf(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	l := Latency{
		Count: h.TotalCount(), Min: ms(h.Min()), Mean: h.Mean() / 1000, StdDev: h.StdDev() / 1000,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
	}
	for _, p := range percentileLadder {
		l.Distribution = append(l.Distribution, Quantile{Percentile: p, Ms: ms(h.ValueAtQuantile(p))})
	}
	return l
}

// second accumulates one second of the series until it is finished.
type second struct {
	s    Sample
	hist *hdrhistogram.Histogram
}

// recorder collects results from every client. One mutex guards it: a lock
// per request costs far less than the request.
type recorder struct {
	measureStart time.Time
	maxMicros    int64

	// progress counters, read without the lock.
	progAll      atomic.Int64 // warmup included
	progRequests atomic.Int64
	progErrors   atomic.Int64
	progCache    atomic.Int64
	progHits     atomic.Int64

	mu        sync.Mutex
	total     *acc
	regions   map[string]*acc
	pops      map[string]*acc
	seconds   map[int]*second
	series    []Sample
	warmup    int64
	cancelled int64
}

func newRecorder(measureStart time.Time, maxLatency time.Duration) *recorder {
	maxMicros := int64(maxLatency/time.Microsecond) + 1
	if maxMicros < 1000 {
		maxMicros = 1000
	}
	return &recorder{
		measureStart: measureStart, maxMicros: maxMicros,
		total: newAcc(maxMicros), regions: map[string]*acc{}, pops: map[string]*acc{},
		seconds: map[int]*second{},
	}
}

// record adds one result; intended is when the request was scheduled to be
// sent and done when it finished.
func (rc *recorder) record(r *result, intended, done time.Time) {
	measured := !intended.Before(rc.measureStart)
	if !r.cancelled {
		rc.progAll.Add(1)
	}
	if r.cancelled {
		rc.mu.Lock()
		rc.cancelled++
		rc.mu.Unlock()
		return
	}
	if !measured {
		rc.mu.Lock()
		rc.warmup++
		rc.mu.Unlock()
		return
	}
	micros := done.Sub(intended).Microseconds()
	rc.progRequests.Add(1)
	if r.errKind != "" {
		rc.progErrors.Add(1)
	}
	if r.cache != nil {
		rc.progCache.Add(1)
		if r.cache.Hit {
			rc.progHits.Add(1)
		}
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.total.add(r, micros)
	if r.region != "" {
		rc.groupAcc(rc.regions, r.region).add(r, micros)
	}
	if r.pop != "" {
		rc.groupAcc(rc.pops, r.pop).add(r, micros)
	}
	sec := int(done.Sub(rc.measureStart) / time.Second)
	if sec < 0 {
		sec = 0
	}
	s := rc.seconds[sec]
	if s == nil {
		if rc.finishedBefore(sec) {
			// A result so late that its second was already summarised:
			// count it in the total only.
			return
		}
		s = &second{s: Sample{Second: sec}, hist: hdrhistogram.New(1, min(rc.maxMicros, seriesMaxMicros), 2)}
		rc.seconds[sec] = s
		rc.finishOlder(sec - 2)
	}
	s.s.Requests++
	if r.errKind != "" {
		s.s.Errors++
	}
	if r.responded {
		s.s.Bytes += r.bytes
		recordClamped(s.hist, micros)
		if r.cache != nil {
			s.s.CacheResponses++
			if r.cache.Hit {
				s.s.Hits++
			}
		}
	}
}

func (rc *recorder) groupAcc(m map[string]*acc, name string) *acc {
	a := m[name]
	if a == nil {
		a = newAcc(rc.maxMicros)
		m[name] = a
	}
	return a
}

func (rc *recorder) finishedBefore(sec int) bool {
	return len(rc.series) > 0 && rc.series[len(rc.series)-1].Second >= sec
}

// finishOlder summarises every second up to and including upTo, keeping
// memory bounded on long runs.
func (rc *recorder) finishOlder(upTo int) {
	var done []int
	for k := range rc.seconds {
		if k <= upTo {
			done = append(done, k)
		}
	}
	sort.Ints(done)
	for _, k := range done {
		s := rc.seconds[k]
		delete(rc.seconds, k)
		if s.hist.TotalCount() > 0 {
			s.s.P50 = ms(s.hist.ValueAtQuantile(50))
			s.s.P99 = ms(s.hist.ValueAtQuantile(99))
			s.s.Max = ms(s.hist.Max())
		}
		if s.s.CacheResponses > 0 {
			s.s.HitRatio = float64(s.s.Hits) / float64(s.s.CacheResponses)
		}
		rc.series = append(rc.series, s.s)
	}
}

// fill writes the recorder's statistics into rep; elapsed is the measured
// part's length.
func (rc *recorder) fill(rep *Report, elapsed time.Duration) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.finishOlder(int(^uint(0) >> 1))
	rep.Total = rc.total.group("", elapsed)
	rep.WarmupRequests = rc.warmup
	rep.Cancelled = rc.cancelled
	rep.Regions = groups(rc.regions, elapsed)
	rep.PoPs = groups(rc.pops, elapsed)
	// Seconds with no completion still belong on the time axis.
	var series []Sample
	next := 0
	for _, s := range rc.series {
		for ; next < s.Second; next++ {
			series = append(series, Sample{Second: next, Span: 1})
		}
		series = append(series, s)
		next = s.Second + 1
	}
	for i := range series {
		series[i].Span = max(0, min(1, elapsed.Seconds()-float64(series[i].Second)))
	}
	rep.Series = series
	if rep.Series == nil {
		rep.Series = []Sample{}
	}
}

func groups(m map[string]*acc, elapsed time.Duration) []Group {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Group
	for _, n := range names {
		out = append(out, m[n].group(n, elapsed))
	}
	return out
}
