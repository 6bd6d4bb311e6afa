package loadtest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an HTTP server on loopback that counts what it serves.
type countingServer struct {
	*httptest.Server
	n      atomic.Int64
	mu     sync.Mutex
	paths  []string
	method []string
}

// newCountingServer starts a server answering every request with a small
// body and the given Cache-Status value ("" for none).
func newCountingServer(t *testing.T, cacheStatus string) *countingServer {
	t.Helper()
	cs := &countingServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.n.Add(1)
		cs.mu.Lock()
		cs.paths = append(cs.paths, r.URL.RequestURI())
		cs.method = append(cs.method, r.Method)
		cs.mu.Unlock()
		if cacheStatus != "" {
			w.Header().Set("Cache-Status", cacheStatus)
		}
		io.WriteString(w, "hello")
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *countingServer) requests() ([]string, []string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]string(nil), cs.method...), append([]string(nil), cs.paths...)
}

// quietLogger discards log output.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// baseConfig is a small, bounded closed-loop run against url.
func baseConfig(url string) Config {
	return Config{
		URLs:        []string{url},
		Concurrency: 4,
		Requests:    50,
		MaxDuration: 20 * time.Second,
		Timeout:     5 * time.Second,
		Logger:      quietLogger(),
		Workload:    Workload{Objects: 50, Sizes: []SizeWeight{{Bytes: 5, Weight: 1}}},
	}
}

// newServer starts an HTTP server for h and returns its URL.
func newServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
