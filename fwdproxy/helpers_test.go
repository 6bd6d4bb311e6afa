package fwdproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfcdn/cdn/cache"
)

// loopbackOnly is the test's DialFunc: it dials loopback addresses and
// refuses (and records) any other, so no test traffic leaves the machine
// even when a test resolver answers with a public address.
type loopbackOnly struct {
	mu      sync.Mutex
	refused []netip.AddrPort
	dialled []netip.AddrPort
}

func (l *loopbackOnly) dial(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
	l.mu.Lock()
	if !a.Addr().Unmap().IsLoopback() {
		l.refused = append(l.refused, a)
		l.mu.Unlock()
		return nil, fmt.Errorf("test dialer: %s is not loopback", a)
	}
	l.dialled = append(l.dialled, a)
	l.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", a.String())
}

// testResolver answers from a table; a name with several answers gives
// the next one on each lookup (the last one repeats), for rebinding.
type testResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	lookups map[string]int
}

func newResolver() *testResolver {
	return &testResolver{answers: map[string][][]netip.Addr{}, lookups: map[string]int{}}
}

func (r *testResolver) set(name string, seq ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]netip.Addr
	for _, s := range seq {
		var as []netip.Addr
		for _, f := range strings.Split(s, ",") {
			as = append(as, netip.MustParseAddr(f))
		}
		out = append(out, as)
	}
	r.answers[name] = out
}

func (r *testResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, fmt.Errorf("test resolver: no such host %q", host)
	}
	i := r.lookups[host]
	r.lookups[host]++
	if i >= len(seq) {
		i = len(seq) - 1
	}
	return seq[i], nil
}

// harness is a proxy on a loopback listener with its test dialer.
type harness struct {
	p    *Proxy
	addr string
	url  *url.URL
	dial *loopbackOnly
	res  *testResolver
	mem  *cache.Memory
	log  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProxy(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{dial: &loopbackOnly{}, res: newResolver(), log: &syncBuffer{}}
	if cfg.Dial == nil {
		cfg.Dial = h.dial.dial
	}
	if cfg.Resolver == nil {
		cfg.Resolver = h.res
	}
	if cfg.Cache == nil {
		mem, err := cache.NewMemory(cache.MemoryConfig{Budget: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(mem.Close)
		cfg.Cache = mem
	}
	h.mem = cfg.Cache
	if cfg.AccessLog == nil {
		cfg.AccessLog = newJSONLogger(h.log)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); p.Serve(ln) }()
	t.Cleanup(func() { p.Close(); <-done })
	h.p, h.addr = p, ln.Addr().String()
	h.url = &url.URL{Scheme: "http", Host: h.addr}
	return h
}

// client returns an HTTP client that uses the proxy, with its own
// connections (a separate "user").
func (h *harness) client(t *testing.T, user, pass string) *http.Client {
	t.Helper()
	u := *h.url
	if user != "" {
		u.User = url.UserPassword(user, pass)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(&u), DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get fetches url through the proxy and returns status, header and body.
func get(t *testing.T, c *http.Client, u string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", u, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// origin is a loopback origin that counts requests and keeps the last
// request's header.
type origin struct {
	srv  *httptest.Server
	n    atomic.Int64
	mu   sync.Mutex
	last http.Header
	port uint16
}

func startOrigin(t *testing.T, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.n.Add(1)
		o.mu.Lock()
		o.last = r.Header.Clone()
		o.last.Set("Host", r.Host)
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.srv.Close)
	o.port = netip.MustParseAddrPort(o.srv.Listener.Addr().String()).Port()
	return o
}

func (o *origin) header() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// allowLoopback is a rule that allows anything to 127.0.0.0/8, explicitly.
func allowLoopback(ports ...string) Rule {
	return Rule{Action: "allow", Hosts: []string{"127.0.0.1", "origin.test"}, Ports: ports,
		Private: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
}

// connect opens a raw CONNECT tunnel through the proxy and returns the
// connection and the proxy's status line.
func connect(t *testing.T, proxy, target string, hdr ...string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var extra string
	for i := 0; i+1 < len(hdr); i += 2 {
		extra += hdr[i] + ": " + hdr[i+1] + "\r\n"
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", target, target, extra)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c.SetReadDeadline(time.Time{})
	return c, br, resp.StatusCode
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newJSONLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
