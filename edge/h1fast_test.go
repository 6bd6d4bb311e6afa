package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// engineEdges starts the same edge twice against one origin: on the fast
// HTTP/1.1 engine and on net/http alone.
func engineEdges(t *testing.T, o *testOrigin, tweak func(*Config)) (fast, std *testEdge) {
	t.Helper()
	mk := func(engine string) *testEdge {
		cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
		cfg.Now = o.clock.Now
		cfg.HTTP1Engine = engine
		if tweak != nil {
			tweak(&cfg)
		}
		e := startEdge(t, cfg)
		e.clock = o.clock
		return e
	}
	return mk(EngineFast), mk(EngineStdlib)
}

// rawExchange sends raw on a new connection (after priming nothing) and
// reads the responses to the requests it names by method, until the
// connection closes or n responses came. Date is dropped, as it differs
// by the second between two runs.
func rawExchangeOn(t *testing.T, dial func() (net.Conn, error), addr string, raw string, methods []string) string {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	raw = strings.ReplaceAll(raw, "HOST", addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out strings.Builder
	for i, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			fmt.Fprintf(&out, "#%d: no response (%v)\n", i, errKind(err))
			break
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&out, "#%d: %s %s\n", i, resp.Proto, resp.Status)
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range resp.Header {
				if !yield(k) {
					return
				}
			}
		}) {
			switch k {
			case "Date":
				continue
			case "Age":
				// The two edges answer a moment apart: Age and the TTL
				// in Cache-Status may differ by a second.
				fmt.Fprintf(&out, "Age: present\n")
				continue
			}
			v := ttlRE.ReplaceAllString(strings.Join(resp.Header[k], "|"), "ttl=N")
			v = altSvcPortRE.ReplaceAllString(v, `h3=":PORT"`) // each edge has its own
			fmt.Fprintf(&out, "%s: %q\n", k, v)
		}
		fmt.Fprintf(&out, "close=%v body=%d %x err=%v\n", resp.Close, len(body), sha(body), err != nil)
	}
	return out.String()
}

var ttlRE, altSvcPortRE = regexp.MustCompile(`ttl=-?[0-9]+`), regexp.MustCompile(`h3=":[0-9]+"`)

func errKind(err error) string {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "closed"
	}
	var ne net.Error
	if ok := asNetError(err, &ne); ok && ne.Timeout() {
		return "timeout"
	}
	return "closed"
}

func asNetError(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

func sha(b []byte) []byte {
	h := fmt.Sprintf("%x", b)
	if len(h) > 16 {
		h = h[:16]
	}
	return []byte(h)
}

// Every request, plain hit or hostile, gets the same bytes from the fast
// engine as from net/http alone; the plain hits are answered by the fast
// engine, the rest handed over.
func TestFastEngineMatchesStdlib(t *testing.T) {
	o := startOrigin(t)
	certFile, keyFile, pool := selfSigned(t)
	fast, std := engineEdges(t, o, func(c *Config) {
		c.TLSListen, c.TLSCert, c.TLSKey = "127.0.0.1:0", certFile, keyFile
	})
	p := uniq(t)
	hit := p + "-hit?size=1000&cc=max-age%3D600"
	gz := p + "-gz?size=3000&cc=max-age%3D600&ctype=text/plain"
	vary := p + "-vary?size=500&cc=max-age%3D600&vary=Accept-Language"
	miss := p + "-miss?size=10&cc=max-age%3D600"
	nostore := p + "-ns?size=10&cc=no-store"
	big := p + "-big?size=100000&cc=max-age%3D600"
	// Prime both edges, over both listeners (the scheme is in the key).
	h1tls := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	for _, e := range []*testEdge{fast, std} {
		for _, base := range []string{e.URL, "https://" + e.Addr("https").String()} {
			for _, u := range []string{hit, gz, big, vary} {
				req, _ := http.NewRequest(http.MethodGet, base+u, nil)
				req.Header.Set("Accept-Language", "de")
				resp, err := h1tls.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	settled(t, fast.p)
	settled(t, std.p)
	g := func(target string, extra ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: HOST\r\n" + strings.Join(extra, "") + "\r\n"
	}
	cases := []struct {
		name    string
		raw     string
		methods []string
		fast    bool // the fast engine answers at least the first request
	}{
		{"hit", g(hit), []string{"GET"}, true},
		{"HEAD hit", "HEAD " + hit + " HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"HEAD"}, true},
		{"pipelined hits", g(hit) + g(hit, "User-Agent: x\r\n") + g(big), []string{"GET", "GET", "GET"}, true},
		{"hits then a miss", g(hit) + g(miss) + g(hit), []string{"GET", "GET", "GET"}, true},
		{"large hit", g(big), []string{"GET"}, true},
		{"empty query", g(p + "-hit?"), []string{"GET"}, false}, // not cacheable: the same miss on both
		{"compressible without Accept-Encoding", g(gz), []string{"GET"}, true},
		{"compressible with Accept-Encoding", g(gz, "Accept-Encoding: gzip\r\n"), []string{"GET"}, false},
		{"Vary matched", g(vary, "Accept-Language: de\r\n"), []string{"GET"}, true},
		{"Vary other variant", g(vary, "Accept-Language: fr\r\n"), []string{"GET"}, false},
		{"keep-alive", g(hit, "Connection: keep-alive\r\n"), []string{"GET"}, true},
		{"Connection: close", g(hit, "Connection: close\r\n") + g(hit), []string{"GET", "GET"}, false},
		{"HTTP/1.0", "GET " + hit + " HTTP/1.0\r\nHost: HOST\r\n\r\n", []string{"GET"}, false},
		{"conditional", g(hit, "If-None-Match: *\r\n"), []string{"GET"}, false},
		{"range", g(hit, "Range: bytes=0-9\r\n"), []string{"GET"}, false},
		{"no-cache request", g(hit, "Cache-Control: no-cache\r\n"), []string{"GET"}, false},
		{"no-store pass", g(nostore), []string{"GET"}, false},
		{"absolute form", "GET http://a.example" + hit + " HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"GET"}, false},
		{"no Host", "GET " + hit + " HTTP/1.1\r\n\r\n", []string{"GET"}, false},
		{"two Hosts", g(hit, "Host: HOST\r\n"), []string{"GET"}, false},
		{"bad Host", g(hit)[:0] + "GET " + hit + " HTTP/1.1\r\nHost: a b\r\n\r\n", []string{"GET"}, false},
		{"CL and TE", "GET " + hit + " HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []string{"GET", "GET"}, false},
		{"obs-fold", g(hit, "X-A: 1\r\n Transfer-Encoding: chunked\r\n"), []string{"GET"}, false},
		{"space before colon", g(hit, "Transfer-Encoding : chunked\r\n"), []string{"GET"}, false},
		{"bare LF", "GET " + hit + " HTTP/1.1\nHost: HOST\n\n", []string{"GET"}, false},
		{"NUL in a value", g(hit, "X-A: a\x00b\r\n"), []string{"GET"}, false},
		{"obs-text in a value", g(hit, "X-A: caf\xc3\xa9\r\n"), []string{"GET"}, false},
		{"percent in the path", g(strings.Replace(hit, "-hit", "%2Dhit", 1)), []string{"GET"}, false},
		{"dot segment", g(strings.Replace(hit, "/gen/", "/gen/./", 1)), []string{"GET"}, false},
		{"POST", "POST " + hit + " HTTP/1.1\r\nHost: HOST\r\nContent-Length: 2\r\n\r\nhi", []string{"POST"}, false},
		{"TRACE", "TRACE " + hit + " HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"TRACE"}, false},
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", []string{"GET"}, false},
		{"CDN-Loop", g(hit, "CDN-Loop: edge-1\r\n"), []string{"GET"}, false},
		{"health path", g("/.well-known/cdn-healthz"), []string{"GET"}, false},
		{"too many fields", g(hit, strings.Repeat("X-F: 1\r\n", 150)), []string{"GET"}, false},
	}
	type transport struct {
		name     string
		listener string
		engine   int // index in Server.engines
		dial     func(addr string) (net.Conn, error)
	}
	for _, tr := range []transport{
		{"cleartext", "http", 0, func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }},
		{"TLS", "https", 1, func(addr string) (net.Conn, error) {
			return tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
		}},
	} {
		for _, c := range cases {
			if tr.name == "TLS" && c.name == "h2c preface" {
				continue
			}
			t.Run(tr.name+"/"+c.name, func(t *testing.T) {
				eng := fast.engines[tr.engine]
				before := eng.answered.Load()
				fa, sa := fast.Addr(tr.listener).String(), std.Addr(tr.listener).String()
				got := rawExchangeOn(t, func() (net.Conn, error) { return tr.dial(fa) }, fa, c.raw, c.methods)
				answered := eng.answered.Load() - before
				want := rawExchangeOn(t, func() (net.Conn, error) { return tr.dial(sa) }, sa, c.raw, c.methods)
				if got != want {
					t.Errorf("fast engine:\n%s\nnet/http:\n%s", got, want)
				}
				if c.fast && answered == 0 {
					t.Errorf("the fast engine answered none of it")
				}
				if !c.fast && answered != 0 {
					t.Errorf("the fast engine answered %d requests it should have handed over", answered)
				}
			})
		}
	}
	if len(std.engines) != 0 {
		t.Errorf("the stdlib edge runs %d fast engines", len(std.engines))
	}
}

// A header section sent slowly is answered by the fast engine once
// complete; one that never completes is closed after the header timeout
// (shortened here through a connection that stalls: the engine must not
// hold a goroutine without a deadline).
func TestFastEngineSlowHeaders(t *testing.T) {
	o := startOrigin(t)
	fast, _ := engineEdges(t, o, nil)
	u := uniq(t) + "?size=100&cc=max-age%3D600"
	get(t, fast.URL+u)
	settled(t, fast.p)
	c, err := net.Dial("tcp", fast.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET " + u + " HTTP/1.1\r\nHost: " + fast.Addr("http").String() + "\r\n\r\n"
	for i := 0; i < len(req); i += 7 {
		io.WriteString(c, req[i:min(i+7, len(req))])
		time.Sleep(5 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Errorf("Cache-Status %q", cs)
	}
	if fast.engines[0].answered.Load() == 0 {
		t.Error("the fast engine did not answer")
	}
}

// Shutting the edge down closes the connections the fast engine holds,
// idle or not, and Run returns.
func TestFastEngineShutdown(t *testing.T) {
	o := startOrigin(t)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Ready()
	var conns []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", srv.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	io.WriteString(conns[0], "GET /gen/x HTTP/1.1\r\nHost: a") // a partial request
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return with fast-engine connections open")
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || bytes.Contains([]byte(err.Error()), []byte("timeout")) {
			t.Errorf("connection %d still open after shutdown (%v)", i, err)
		}
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// A client pipelining far more hits than one write holds gets every
// answer, in order, and the engine flushes as it goes rather than holding
// the whole pipeline's responses.
func TestFastEnginePipelineFlood(t *testing.T) {
	o := startOrigin(t)
	fast, _ := engineEdges(t, o, nil)
	u := uniq(t) + "?size=30000&cc=max-age%3D600"
	get(t, fast.URL+u)
	settled(t, fast.p)
	c, err := net.Dial("tcp", fast.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 200 // 200 × 30 KB: 6 MB of answers to under 16 KB of requests
	req := "GET " + u + " HTTP/1.1\r\nHost: " + fast.Addr("http").String() + "\r\n\r\n"
	go io.WriteString(c, strings.Repeat(req, n))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 30000 || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Fatalf("response %d: %d bytes, %q", i, len(b), resp.Header.Get("Cache-Status"))
		}
	}
	if fast.engines[0].answered.Load() < n {
		t.Errorf("the fast engine answered %d of %d", fast.engines[0].answered.Load(), n)
	}
}
