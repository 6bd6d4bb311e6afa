package edge

import (
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/httpcache"
)

// fastHead is a stored head's response header as the fast engine writes
// it: every field a client gets that does not change per request,
// serialised once.
type fastHead struct {
	ok          bool   // false: this head is not served by the fast engine
	block       []byte // "HTTP/1.1 200 OK\r\n" and the static fields
	cacheStatus string // the stored Cache-Status (first line), to append to
	via         []string
	hasDate     bool
	hasType     bool
	hasAltSvc   bool
	compress    bool // the edge serves compressed variants of it
}

// perRequestFields are set by serveObject for every response; the fast
// engine writes them itself.
var perRequestFields = map[string]bool{"Age": true, "Cache-Status": true, "Via": true, "Content-Length": true, hdrOriginTime: true}

// hopFields make a response one the fast engine leaves to net/http.
var hopFields = []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Te", "Trailer"}

// fastHeadOf returns h's serialised header, building it on first use.
func (s *Proxy) fastHeadOf(h *cache.Head, hi *headDerived) *fastHead {
	if fh := hi.fast.Load(); fh != nil {
		return fh
	}
	fh := &fastHead{compress: hi.compressible}
	fh.build(s, h, hi.client)
	hi.fast.Store(fh)
	return fh
}

func (fh *fastHead) build(s *Proxy, h *cache.Head, client http.Header) {
	if h.Status != http.StatusOK {
		return
	}
	for _, f := range hopFields {
		if _, ok := client[f]; ok {
			return
		}
	}
	b := append([]byte(nil), "HTTP/1.1 200 OK\r\n"...)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range client {
			if !yield(k) {
				return
			}
		}
	}) {
		vs := client[k]
		if !validFieldName(k) {
			return
		}
		switch {
		case k == "Cache-Status":
			if len(vs) > 0 {
				fh.cacheStatus = vs[0]
			}
			continue
		case k == "Via":
			fh.via = vs
			continue
		case perRequestFields[k]:
			continue
		case k == "Date":
			fh.hasDate = true
		case k == "Content-Type":
			fh.hasType = true
		case k == "Alt-Svc":
			fh.hasAltSvc = true
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if v[i] == '\r' || v[i] == '\n' {
					return
				}
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if s.cfg.Role == RoleShield {
		b = append(b, hdrOriginTime+": "...)
		b = strconv.AppendInt(b, h.Origin.UnixNano(), 10)
		b = append(b, "\r\n"...)
	}
	for _, v := range fh.via {
		for i := 0; i < len(v); i++ {
			if v[i] == '\r' || v[i] == '\n' {
				return
			}
		}
	}
	fh.block, fh.ok = b, true
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !tokenByte[k[i]] {
			return false
		}
	}
	return true
}

// dateCache is the Date field's value, formatted once per second.
type dateCache struct {
	v atomic.Pointer[dateValue]
}

type dateValue struct {
	sec int64
	b   []byte
}

func (d *dateCache) get(now time.Time) []byte {
	sec := now.Unix()
	if v := d.v.Load(); v != nil && v.sec == sec {
		return v.b
	}
	v := &dateValue{sec: sec, b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	d.v.Store(v)
	return v.b
}

var httpDate dateCache

// fastHit answers req from the cache if it is a fresh hit held in memory,
// appending the response to fc's output. It reports false, having written
// nothing, for every other case: net/http serves those.
func (s *Proxy) fastHit(fc *fastConn, req *fastRequest) bool {
	start := s.cfg.Now()
	path := string(req.path)
	if path == config.DefaultShieldHealthPath {
		return false
	}
	host := string(req.host)
	st := s.route(host)
	if st == nil {
		return false
	}
	scheme := "http"
	if fc.e.tls {
		scheme = "https"
	}
	method := http.MethodHead // the parse took GET or HEAD only
	if string(req.method) == http.MethodGet {
		method = http.MethodGet
	}
	// The key from locals: a request value holding them would make them
	// escape (the answer looks at its fields only).
	primary := primaryKeyOf(st, scheme, host, path, string(req.query))
	q := &request{method: method, scheme: scheme, fast: req}
	a := s.answer(q, st, primary, start)
	defer a.lookup.Close()
	if a.kind != answerHit {
		return false
	}
	obj := a.object()
	body, inMemory := obj.Body.(cache.Bytes)
	if !inMemory {
		return false
	}
	head := obj.Head()
	hi := s.headInfo(head, st)
	fh := s.fastHeadOf(head, hi)
	if !fh.ok || (fh.compress && req.accEnc) {
		return false
	}
	out := append(fc.out, fh.block...)
	out = append(out, "Age: "...)
	out = strconv.AppendInt(out, int64(head.Age(start)/time.Second), 10)
	out = append(out, "\r\nCache-Status: "...)
	out = append(out, httpcache.AppendCacheStatus(fh.cacheStatus, httpcache.Status{Cache: s.cfg.Name, Hit: true, TTL: &a.ttl})...)
	out = append(out, "\r\n"...)
	for _, v := range fh.via {
		out = append(out, "Via: "...)
		out = append(out, v...)
		out = append(out, "\r\n"...)
	}
	out = append(out, "Via: "...)
	out = append(out, s.via...)
	out = append(out, "\r\n"...)
	if fc.e.tls && s.altSvc != "" && !fh.hasAltSvc {
		out = append(out, "Alt-Svc: "...)
		out = append(out, s.altSvc...)
		out = append(out, "\r\n"...)
	}
	if !fh.hasDate {
		out = append(out, "Date: "...)
		out = append(out, httpDate.get(start)...)
		out = append(out, "\r\n"...)
	}
	get := method == http.MethodGet
	if !fh.hasType && get && len(body) > 0 {
		// net/http sniffs a type for a body sent without one.
		out = append(out, "Content-Type: "...)
		out = append(out, http.DetectContentType(body[:min(len(body), 512)])...)
		out = append(out, "\r\n"...)
	}
	out = append(out, "Content-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\n\r\n"...)
	fc.out = out
	sent := 0
	if get {
		fc.appendBody(body)
		sent = len(body)
	}
	rc := s.metrics.forRequest("h1", "hit", 2)
	rc.requests.Inc()
	rc.bytes.Add(float64(sent))
	elapsed := s.cfg.Now().Sub(start)
	rc.duration.Observe(elapsed.Seconds())
	if s.cfg.AccessLog {
		s.log.Info("request",
			"client", fc.c.RemoteAddr().String(), "proto", "HTTP/1.1", "method", string(req.method), "host", host, "uri", string(req.target),
			"status", 200, "bytes", sent, "cache", "hit", "duration_ms", float64(elapsed.Microseconds())/1000,
			"ua", string(req.userAgt))
	}
	return true
}
