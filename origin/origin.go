// Package origin is the test origin server the CDN ships for demos, tests
// and benchmarks: files from a directory (or an embedded demo site) and
// synthetic objects of any size and caching policy under /gen/, with
// counters of what it was asked.
//
// Synthetic bodies are deterministic functions of the object's name, size,
// Content-Type, the server-side seed and the request's values of the header
// fields it varies on; any byte range can be produced directly. Responses
// follow RFC 9110's rules for conditional requests (§13) and ranges (§14),
// and carry Repr-Digest (RFC 9530), so a cache's behaviour can be checked
// byte for byte against them.
package origin

import (
	"crypto/cipher"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	genPrefix   = "/gen/"
	adminPrefix = "/_origin/"
)

// Server is the test origin. It is an http.Handler; all its methods are safe
// for concurrent use.
type Server struct {
	log      *slog.Logger
	now      func() time.Time
	maxSize  int64
	files    *fileServer
	digests  *digestCache
	block    cipher.Block // generates binary bodies
	metrics  *metrics
	seeds    seeds
	counters atomic.Pointer[counters]
	bufs     sync.Pool // *[]byte of chunkSize
	date     atomic.Pointer[dateValue]
}

var _ http.Handler = (*Server)(nil)

// dateValue is an HTTP-date formatted for one second.
type dateValue struct {
	unix int64
	text string
}

// New returns a Server for cfg. It fails if cfg is invalid or cfg.Root
// cannot be opened.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("origin config: %w", err)
	}
	s := &Server{
		log:     cfg.Logger,
		now:     cfg.Now,
		maxSize: cfg.MaxSize,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxGenSize
	}
	n := cfg.DigestCacheSize
	if n == 0 {
		n = DefaultDigestCacheSize
	}
	s.digests = newDigestCache(n)
	s.block = newStreamCipher()
	s.bufs.New = func() any {
		b := make([]byte, chunkSize)
		return &b
	}
	s.counters.Store(new(counters))
	cc := cfg.FileCacheControl
	switch cc {
	case "":
		cc = DefaultFileCacheControl
	case NoCacheControl:
		cc = ""
	}
	var err error
	if s.files, err = newFileServer(cfg.Root, cc); err != nil {
		return nil, err
	}
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		s.files.close()
		return nil, err
	}
	return s, nil
}

// Close releases the root directory. The Server must not be used after.
func (s *Server) Close() error { return s.files.close() }

// ServeHTTP routes a request: /gen/ to synthetic objects, /healthz, the
// /_origin/ admin endpoints, and everything else to files.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, genPrefix):
		s.count(r)
		s.serveGen(w, r)
	case p == "/healthz":
		s.serveHealth(w, r)
	case strings.HasPrefix(p, adminPrefix) || p == "/_origin":
		s.serveAdmin(w, r)
	default:
		s.count(r)
		s.finish(s.serveFile(w, r))
	}
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h["Allow"] = []string{"GET, HEAD"}
		s.textError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Cache-Control"] = []string{"no-store"}
	h["Content-Length"] = []string{"2"}
	_, _ = io.WriteString(w, "ok")
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/_origin/stats":
		s.serveStats(w, r, false)
	case "/_origin/stats/reset":
		s.serveStats(w, r, true)
	case "/_origin/seed":
		s.serveSeed(w, r)
	default:
		s.textError(w, http.StatusNotFound, "no such admin endpoint")
	}
}

// writeJSON sends v as an uncacheable JSON body.
func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode admin response", "err", err)
		s.textError(w, http.StatusInternalServerError, "encode response")
		return
	}
	b = append(b, '\n')
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"no-store"}
	_, _ = w.Write(b)
}

// httpDate formats t as an HTTP-date (RFC 9110 §5.6.7), reusing the text
// while the second does not change.
func (s *Server) httpDate(t time.Time) string {
	sec := t.Unix()
	if d := s.date.Load(); d != nil && d.unix == sec {
		return d.text
	}
	d := &dateValue{unix: sec, text: t.UTC().Format(http.TimeFormat)}
	s.date.Store(d)
	return d.text
}

func (s *Server) getBuf() *[]byte  { return s.bufs.Get().(*[]byte) }
func (s *Server) putBuf(b *[]byte) { s.bufs.Put(b) }
