package edge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHitAfterMiss(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	url := e.URL + p + "?size=5000&cc=max-age%3D60"
	r1 := get(t, url)
	if r1.status != 200 {
		t.Fatalf("status %d", r1.status)
	}
	mustContain(t, "first Cache-Status", r1.cacheStatus(), "edge-1; fwd=miss; stored")
	checkDigest(t, r1)
	r2 := get(t, url)
	mustContain(t, "second Cache-Status", r2.cacheStatus(), "edge-1; hit; ttl=")
	checkDigest(t, r2)
	if string(r1.body) != string(r2.body) {
		t.Fatal("hit body differs from miss body")
	}
	if n := o.count(p); n != 1 {
		t.Fatalf("origin saw %d requests, want 1", n)
	}
	if r2.header.Get("Age") == "" {
		t.Error("no Age on a hit")
	}
	mustContain(t, "Via", strings.Join(r2.header.Values("Via"), ","), "edge-1")
}

// Invariant 4: concurrent misses for one key make one upstream request,
// and every waiter gets the whole body.
func TestCollapsedMisses(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	url := e.URL + p + "?size=200000&delay=200&cc=max-age%3D60"
	const n = 100
	var wg sync.WaitGroup
	results := make([]result, n)
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				errs <- err
				return
			}
			results[i] = result{resp.StatusCode, resp.Header, b}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	collapsed := 0
	for _, r := range results {
		if r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		checkDigest(t, r)
		if strings.Contains(r.cacheStatus(), "collapsed") {
			collapsed++
		}
	}
	if c := o.count(p); c != 1 {
		t.Fatalf("origin saw %d requests for %d concurrent clients, want 1", c, n)
	}
	t.Logf("%d of %d responses were collapsed onto the leader", collapsed, n)
}

// Waiters are not left hanging when the response turns out not storable.
func TestCollapseUnstorable(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	url := e.URL + p + "?delay=100&cc=private"
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := doErr(http.MethodGet, url)
			if err == nil && r.status != 200 {
				err = fmt.Errorf("status %d", r.status)
			}
			if err == nil {
				err = digestError(r)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every client waits on its own fetch: a private response is never
	// shared, not even with the clients collapsed onto the same flight.
	if c := o.count(p); c != 10 {
		t.Fatalf("private responses were shared: origin saw %d requests for 10 clients, want 10", c)
	}
}

func TestUnknownHostRefused(t *testing.T) {
	o := startOrigin(t)
	cfg := Config{
		Name:    "edge-1",
		Sites:   []Site{{Host: "assets.example.com", Origin: "main"}},
		Origins: map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}},
	}
	e := startEdge(t, cfg)
	r := get(t, e.URL+"/gen/x", "Host", "evil.example.net")
	if r.status != http.StatusMisdirectedRequest {
		t.Fatalf("unknown host: status %d, want 421", r.status)
	}
	mustContain(t, "body", string(r.body), "evil.example.net")
	if o.count("") != 0 {
		t.Fatal("request for an unknown host reached the origin")
	}
	r = get(t, e.URL+"/gen/x?cc=max-age%3D60", "Host", "ASSETS.example.com:80")
	if r.status != 200 {
		t.Fatalf("configured host: status %d", r.status)
	}
}

func TestLoopRefused(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	r := get(t, e.URL+"/gen/x", "CDN-Loop", "other-cdn, edge-1; v=1")
	if r.status != http.StatusLoopDetected {
		t.Fatalf("status %d, want 508", r.status)
	}
}

func TestOnlyIfCached(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	r := get(t, e.URL+uniq(t), "Cache-Control", "only-if-cached")
	if r.status != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504 (RFC 9111 §5.2.1.7)", r.status)
	}
}

// An origin that resets mid-body never leaves a truncated object.
func TestTruncatedUpstreamNotStored(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	url := e.URL + p + "?size=100000&abort=50000&cc=max-age%3D60"
	for i := 0; i < 2; i++ {
		resp, err := http.Get(url)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatalf("attempt %d: truncated body delivered as complete", i)
		}
	}
	if c := o.count(p); c != 2 {
		t.Fatalf("origin saw %d requests, want 2 (nothing stored)", c)
	}
}

func TestHeadAndConditionalFromCache(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	url := e.URL + uniq(t) + "?size=1000&cc=max-age%3D60"
	r := get(t, url)
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	h := do(t, http.MethodHead, url)
	if h.status != 200 || len(h.body) != 0 || h.header.Get("Content-Length") != "1000" {
		t.Fatalf("HEAD: %d, body %d, length %q", h.status, len(h.body), h.header.Get("Content-Length"))
	}
	mustContain(t, "HEAD Cache-Status", h.cacheStatus(), "hit")
	c := get(t, url, "If-None-Match", etag)
	if c.status != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", c.status)
	}
	mustContain(t, "304 Cache-Status", c.cacheStatus(), "hit")
	c = get(t, url, "If-Match", `"other"`)
	if c.status != http.StatusPreconditionFailed {
		t.Fatalf("If-Match mismatch: %d, want 412", c.status)
	}
}

func TestRangeFromCache(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	url := e.URL + uniq(t) + "?size=10000&cc=max-age%3D60"
	full := get(t, url)
	r := get(t, url, "Range", "bytes=100-199")
	if r.status != http.StatusPartialContent {
		t.Fatalf("status %d", r.status)
	}
	if string(r.body) != string(full.body[100:200]) {
		t.Fatal("range body differs")
	}
	if cr := r.header.Get("Content-Range"); cr != "bytes 100-199/10000" {
		t.Fatalf("Content-Range %q", cr)
	}
	r = get(t, url, "Range", "bytes=20000-")
	if r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("unsatisfiable: %d", r.status)
	}
	r = get(t, url, "Range", "bytes=0-1,5000-5001")
	if r.status != http.StatusPartialContent || !strings.HasPrefix(r.header.Get("Content-Type"), "multipart/byteranges") {
		t.Fatalf("multi-range: %d %q", r.status, r.header.Get("Content-Type"))
	}
	// A range on a cold object is served from the full fetch.
	r = get(t, e.URL+uniq(t)+"?size=10000&cc=max-age%3D60", "Range", "bytes=-10")
	if r.status != http.StatusPartialContent || len(r.body) != 10 {
		t.Fatalf("cold range: %d, %d bytes", r.status, len(r.body))
	}
}

func TestH2C(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true) // prior knowledge
	tr := &http.Transport{Protocols: &protos}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := e.URL + uniq(t) + "?cc=max-age%3D60"
	for i := 0; i < 2; i++ {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("proto %s", resp.Proto)
		}
		checkDigest(t, result{resp.StatusCode, resp.Header, b})
		if i == 1 {
			mustContain(t, "h2c Cache-Status", resp.Header.Get("Cache-Status"), "hit")
		}
	}
}

// Bad requests get the protocol's answer: 431 for huge headers, 400 for
// smuggling attempts.
func TestBadRequests(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/gen/x", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the server may reset the connection after 431
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("huge header: %d, want 431", resp.StatusCode)
	}
	addr := strings.TrimPrefix(e.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /gen/x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, " 400 ") {
		t.Fatalf("CL+TE request: %q, want 400", line)
	}
}

// SIGTERM (context cancellation) lets in-flight requests finish.
func TestGracefulShutdown(t *testing.T) {
	o := startOrigin(t)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Ready()
	url := "http://" + srv.Addr("http").String() + uniq(t) + "?delay=500&size=1000"
	type got struct {
		r   result
		err error
	}
	gotc := make(chan got, 1)
	go func() {
		r, err := doErr(http.MethodGet, url)
		gotc <- got{r, err}
	}()
	// Wait until the request reached the origin, then stop the edge.
	deadline := time.Now().Add(20 * time.Second)
	for o.count("") == 0 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("the request did not reach the origin within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	g := <-gotc
	if g.err != nil {
		t.Fatalf("in-flight request during shutdown: %v", g.err)
	}
	r := g.r
	if r.status != 200 || len(r.body) != 1000 {
		t.Fatalf("in-flight request during shutdown: %d, %d bytes", r.status, len(r.body))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
