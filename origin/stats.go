package origin

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// maxStatPaths bounds the distinct paths counted one by one; requests for
// further paths are counted under OtherPaths.
const maxStatPaths = 100000

// OtherPaths is the Stats.Paths key that counts requests for paths beyond
// the first 100000 distinct ones since the last reset.
const OtherPaths = "(other)"

// Stats is a snapshot of what the origin was asked since start or the last
// reset. Requests to /_origin/* and /healthz are not counted.
type Stats struct {
	// Total is the number of requests.
	Total int64 `json:"total"`
	// Paths counts requests by URL path, without the query.
	Paths map[string]int64 `json:"paths"`
	// Conditional counts requests carrying If-None-Match,
	// If-Modified-Since, If-Match or If-Unmodified-Since.
	Conditional int64 `json:"conditional"`
	// NotModified counts 304 responses.
	NotModified int64 `json:"not_modified"`
	// Bytes is the number of body bytes written.
	Bytes int64 `json:"bytes"`
}

// counters is one generation of live counters; a reset swaps in a new one.
type counters struct {
	total, conditional, notModified, bytes atomic.Int64

	paths    sync.Map // string → *atomic.Int64
	nPaths   atomic.Int64
	mu       sync.Mutex // serialises inserts into paths
	overflow atomic.Int64
	maxPaths int64 // distinct paths counted one by one; 0 means maxStatPaths
}

func (c *counters) countPath(path string) {
	if v, ok := c.paths.Load(path); ok {
		v.(*atomic.Int64).Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.paths.Load(path); ok {
		v.(*atomic.Int64).Add(1)
		return
	}
	limit := c.maxPaths
	if limit == 0 {
		limit = maxStatPaths
	}
	if c.nPaths.Load() >= limit {
		c.overflow.Add(1)
		return
	}
	n := new(atomic.Int64)
	n.Store(1)
	c.paths.Store(path, n)
	c.nPaths.Add(1)
}

func (c *counters) snapshot() Stats {
	st := Stats{
		Total:       c.total.Load(),
		Conditional: c.conditional.Load(),
		NotModified: c.notModified.Load(),
		Bytes:       c.bytes.Load(),
		Paths:       make(map[string]int64),
	}
	c.paths.Range(func(k, v any) bool {
		st.Paths[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	if n := c.overflow.Load(); n > 0 {
		st.Paths[OtherPaths] = n
	}
	return st
}

// Stats returns the counters since start or the last ResetStats.
func (s *Server) Stats() Stats { return s.counters.Load().snapshot() }

// ResetStats zeroes the counters. Requests in flight during the reset may be
// counted in either generation.
func (s *Server) ResetStats() { s.counters.Store(new(counters)) }

// count records the arrival of a request for a counted path.
func (s *Server) count(r *http.Request) {
	c := s.counters.Load()
	c.total.Add(1)
	c.countPath(r.URL.Path)
	if hasPreconditions(r.Header) {
		c.conditional.Add(1)
	}
}

// finish records the outcome of a counted request.
func (s *Server) finish(res result) {
	c := s.counters.Load()
	if res.bytes > 0 {
		c.bytes.Add(res.bytes)
	}
	if res.status == http.StatusNotModified {
		c.notModified.Add(1)
	}
	s.metrics.observe(res)
}

// serveStats handles GET /_origin/stats and POST /_origin/stats/reset.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request, reset bool) {
	switch {
	case reset && r.Method == http.MethodPost:
		s.ResetStats()
		w.Header()["Cache-Control"] = []string{"no-store"}
		w.WriteHeader(http.StatusNoContent)
	case !reset && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.writeJSON(w, s.Stats())
	default:
		allow := "GET, HEAD"
		if reset {
			allow = "POST"
		}
		w.Header()["Allow"] = []string{allow}
		s.textError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}
