package origin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// testClock is a settable clock for Date, Expires and seed times.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// startServer starts a Server for cfg behind a real listener on 127.0.0.1.
func startServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// fetch sends a request with the given method and header fields and returns
// the response with its body read.
func fetch(t testing.TB, method, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, url, err)
	}
	if len(header)%2 != 0 {
		t.Fatalf("fetch: odd header list %q", header)
	}
	for i := 0; i < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	// No transparent gzip: the tests look at the bytes the origin sent.
	req.Header.Set("Accept-Encoding", "identity")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return res, body
}

func get(t testing.TB, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return fetch(t, http.MethodGet, url, header...)
}

// waitABit yields for a short moment inside a bounded polling loop.
func waitABit() { time.Sleep(time.Millisecond) }
