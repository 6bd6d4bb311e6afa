package edge

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfcdn/cdn/origin"
)

// testClock is a clock tests move forward instead of sleeping.
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// testOrigin is a real origin server on loopback.
type testOrigin struct {
	*httptest.Server
	t     *testing.T
	clock *testClock
}

func startOrigin(t *testing.T) *testOrigin {
	t.Helper()
	clock := &testClock{}
	o, err := origin.New(origin.Config{Root: t.TempDir(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(o)
	t.Cleanup(ts.Close)
	return &testOrigin{Server: ts, t: t, clock: clock}
}

// count returns how many requests the origin saw for path.
func (o *testOrigin) count(path string) int {
	o.t.Helper()
	resp, err := http.Get(o.URL + "/_origin/stats")
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Total int            `json:"total"`
		Paths map[string]int `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		o.t.Fatal(err)
	}
	if path == "" {
		return st.Total
	}
	return st.Paths[path]
}

type testEdge struct {
	*Node
	URL   string
	clock *testClock
}

// startEdge runs a node until the test ends.
func startEdge(t *testing.T, cfg Config) *testEdge {
	t.Helper()
	clock := &testClock{}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Admin == "" {
		cfg.Admin = "127.0.0.1:0"
	}
	if cfg.HTTP1Engine == "" {
		// make test runs the package on each engine (CDN_TEST_HTTP1_ENGINE).
		cfg.HTTP1Engine = os.Getenv("CDN_TEST_HTTP1_ENGINE")
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("edge did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("edge did not start within 10s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(35 * time.Second):
			t.Error("edge did not stop")
		}
	})
	return &testEdge{Node: srv, URL: "http://" + srv.Addr("http").String(), clock: clock}
}

// quickEdge runs a quick-mode edge in front of o, sharing o's clock.
func quickEdge(t *testing.T, o *testOrigin) *testEdge {
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	cfg.Now = o.clock.Now
	e := startEdge(t, cfg)
	e.clock = o.clock
	return e
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) cacheStatus() string { return r.header.Get("Cache-Status") }

func do(t *testing.T, method, url string, hdr ...string) result {
	t.Helper()
	r, err := doErr(method, url, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// doErr is do for goroutines other than the test's: it returns the error.
func doErr(method, url string, hdr ...string) (result, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return result{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: body: %w", method, url, err)
	}
	return result{resp.StatusCode, resp.Header, b}, nil
}

func get(t *testing.T, url string, hdr ...string) result { return do(t, http.MethodGet, url, hdr...) }

// checkDigest verifies the body against the origin's Repr-Digest.
func checkDigest(t *testing.T, r result) {
	t.Helper()
	if err := digestError(r); err != nil {
		t.Fatal(err)
	}
}

// digestError is checkDigest for goroutines other than the test's.
func digestError(r result) error {
	d := r.header.Get("Repr-Digest")
	sum := sha256.Sum256(r.body)
	want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	if d != want {
		return fmt.Errorf("Repr-Digest %q does not match body (%d bytes, %s)", d, len(r.body), want)
	}
	return nil
}

// waitCount waits until c reaches n, and says how far it got if it does
// not within d.
func waitCount(c *atomic.Int64, n int64, d time.Duration) error {
	deadline := time.Now().Add(d)
	for c.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d within %s", c.Load(), n, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}

func uniq(t *testing.T) string {
	return fmt.Sprintf("/gen/%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}

// settled waits until p has no fetch in flight and its memory tier has
// applied every set: what the fetches stored is visible. A client can have
// read all of a body (its Content-Length) before the fetch commits it, so
// waiting on the memory tier alone races with the commit.
func settled(t testing.TB, p *Proxy) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		p.flights.mu.Lock()
		n := len(p.flights.m)
		p.flights.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d fetches still in flight", n)
		}
	}
	p.mem.Wait()
}
