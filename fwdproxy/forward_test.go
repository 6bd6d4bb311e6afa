package fwdproxy

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

func TestAbsoluteFormSecondClientHits(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "object %s", r.URL.Path)
	})
	h := startProxy(t, Config{Rules: []Rule{allowLoopback()}})
	u := fmt.Sprintf("http://127.0.0.1:%d/a.txt", o.port)

	st, hdr, body := get(t, h.client(t, "", ""), u)
	if st != 200 || body != "object /a.txt" {
		t.Fatalf("first: %d %q", st, body)
	}
	if cs := hdr.Get("Cache-Status"); !strings.Contains(cs, "fwd=uri-miss") || !strings.Contains(cs, "stored") {
		t.Errorf("first Cache-Status = %q, want a stored miss", cs)
	}
	h.mem.Wait()
	st, hdr, body = get(t, h.client(t, "", ""), u) // another client, its own connection
	if st != 200 || body != "object /a.txt" {
		t.Fatalf("second: %d %q", st, body)
	}
	if cs := hdr.Get("Cache-Status"); !strings.HasPrefix(cs, "fwdproxy; hit") {
		t.Errorf("second Cache-Status = %q, want a hit", cs)
	}
	if hdr.Get("Age") == "" {
		t.Error("hit without Age")
	}
	if n := o.n.Load(); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
	// Not storable: private responses are passed and fetched every time.
	o2 := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		w.Write([]byte("mine"))
	})
	u2 := fmt.Sprintf("http://127.0.0.1:%d/p", o2.port)
	for range 2 {
		_, hdr, _ := get(t, h.client(t, "", ""), u2)
		if !strings.Contains(hdr.Get("Cache-Status"), "detail=private") {
			t.Errorf("private Cache-Status = %q", hdr.Get("Cache-Status"))
		}
		h.mem.Wait()
	}
	if n := o2.n.Load(); n != 2 {
		t.Errorf("origin of a private response saw %d requests, want 2", n)
	}
	if !strings.Contains(h.log.String(), `"status":200`) || !strings.Contains(h.log.String(), `"dest":"http://127.0.0.1:`) {
		t.Errorf("access log lacks the requests:\n%s", h.log.String())
	}
}

func TestRevalidationOfStaleObject(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("body v1"))
	})
	h := startProxy(t, Config{Rules: []Rule{allowLoopback()}})
	u := fmt.Sprintf("http://127.0.0.1:%d/r", o.port)
	get(t, h.client(t, "", ""), u)
	h.mem.Wait()
	st, hdr, body := get(t, h.client(t, "", ""), u)
	if st != 200 || body != "body v1" || !strings.Contains(hdr.Get("Cache-Status"), "fwd-status=304") {
		t.Fatalf("revalidated: %d %q %q", st, body, hdr.Get("Cache-Status"))
	}
}

func TestNoClientIdentityUpstream(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	h := startProxy(t, Config{Rules: []Rule{allowLoopback()}})
	u := fmt.Sprintf("http://127.0.0.1:%d/id", o.port)
	st, _, _ := get(t, h.client(t, "", ""), u,
		"X-Forwarded-For", "10.9.8.7", "Forwarded", "for=10.9.8.7", "Via", "1.1 inner",
		"X-Real-IP", "10.9.8.7", "Proxy-Foo", "bar", "Connection", "X-Secret", "X-Secret", "hidden",
		"X-Kept", "yes")
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	up := o.header()
	for _, k := range []string{"X-Forwarded-For", "Forwarded", "Via", "X-Real-Ip", "Proxy-Foo", "Proxy-Connection", "X-Secret", "Proxy-Authorization"} {
		if v := up.Get(k); v != "" {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
	if up.Get("X-Kept") != "yes" {
		t.Error("an end-to-end field was dropped")
	}
	if up.Get("Host") != fmt.Sprintf("127.0.0.1:%d", o.port) {
		t.Errorf("Host = %q", up.Get("Host"))
	}

	// A rule can add them back.
	r := allowLoopback()
	r.ForwardedHeaders = true
	if err := h.p.Reload([]Rule{r}, nil); err != nil {
		t.Fatal(err)
	}
	get(t, h.client(t, "", ""), u+"2", "X-Forwarded-For", "10.9.8.7")
	up = o.header()
	if up.Get("X-Forwarded-For") != "10.9.8.7, 127.0.0.1" || up.Get("Via") != "1.1 fwdproxy" || !strings.Contains(up.Get("Forwarded"), "for=127.0.0.1") {
		t.Errorf("forwarded headers: XFF=%q Via=%q Forwarded=%q", up.Get("X-Forwarded-For"), up.Get("Via"), up.Get("Forwarded"))
	}
}

func TestCurlThroughProxy(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("hello through curl"))
	})
	h := startProxy(t, Config{Rules: []Rule{allowLoopback()}})
	u := fmt.Sprintf("http://127.0.0.1:%d/curl", o.port)
	for i := range 2 {
		out, err := exec.Command(curl, "-sS", "--noproxy", "", "-x", "http://"+h.addr, "-D", "-", u).CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		s := string(out)
		if !strings.Contains(s, "hello through curl") {
			t.Fatalf("curl output:\n%s", s)
		}
		if i == 1 && !strings.Contains(s, "fwdproxy; hit") {
			t.Errorf("second curl was not a hit:\n%s", s)
		}
		h.mem.Wait()
	}
	// A destination no rule allows is a 403 for curl too.
	out, _ := exec.Command(curl, "-s", "--noproxy", "", "-o", "/dev/null", "-w", "%{http_code}", "-x", "http://"+h.addr, "http://127.0.0.2:1/").CombinedOutput()
	if string(out) != "403" {
		t.Errorf("curl to a denied destination: %s", out)
	}
}

func TestPACFile(t *testing.T) {
	h := startProxy(t, Config{PACDirect: []string{".corp.example", "intranet"}})
	resp, err := http.Get("http://" + h.addr + "/proxy.pac")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := fmt.Fprint(&b, readAll(t, resp)); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if resp.Header.Get("Content-Type") != "application/x-ns-proxy-autoconfig" ||
		!strings.Contains(s, `return "PROXY `+h.addr+`"`) || !strings.Contains(s, `dnsDomainIs(host, ".corp.example")`) ||
		!strings.Contains(s, "function FindProxyForURL(url, host)") {
		t.Errorf("PAC file (%s):\n%s", resp.Header.Get("Content-Type"), s)
	}
	// Anything else in origin-form is refused: this is not a web server.
	resp2, err := http.Get("http://" + h.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 400 {
		t.Errorf("origin-form request: %d", resp2.StatusCode)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// Ten clients asking at once for an object nobody has fetched yet cause
// one fetch: the others wait for it and are answered from the cache,
// marked collapsed. Requests with credentials for the destination or a
// no-cache directive do not wait.
func TestConcurrentMissesCollapse(t *testing.T) {
	release := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "object %s", r.URL.Path)
	})
	h := startProxy(t, Config{Rules: []Rule{allowLoopback()}})
	u := fmt.Sprintf("http://127.0.0.1:%d/slow", o.port)
	const n = 10
	type result struct {
		st   int
		cs   string
		body string
	}
	results := make(chan result, n)
	for range n {
		go func() {
			st, hdr, body := get(t, h.client(t, "", ""), u)
			results <- result{st, hdr.Get("Cache-Status"), body}
		}()
	}
	// Every client is waiting (one at the origin) before the origin answers.
	waitFor(t, "the first request at the origin", func() bool { return o.n.Load() == 1 })
	waitFor(t, "the others waiting for it", func() bool {
		h.p.flights.mu.Lock()
		defer h.p.flights.mu.Unlock()
		for _, fl := range h.p.flights.m {
			return fl.waiters == n-1
		}
		return false
	})
	close(release)
	collapsed := 0
	for range n {
		r := <-results
		if r.st != 200 || r.body != "object /slow" {
			t.Errorf("a client got %d %q", r.st, r.body)
		}
		if strings.Contains(r.cs, "collapsed") {
			collapsed++
		}
	}
	if got := o.n.Load(); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}
	if collapsed != n-1 {
		t.Errorf("%d responses marked collapsed, want %d", collapsed, n-1)
	}
	if !collapsible(mustRequest(t, "GET", u)) {
		t.Error("a plain GET would not wait")
	}
	for _, hv := range [][2]string{{"Authorization", "Basic eDp5"}, {"Cache-Control", "no-cache"}, {"Cache-Control", "max-age=0"}, {"Pragma", "no-cache"}} {
		if collapsible(mustRequest(t, "GET", u, hv[0], hv[1])) {
			t.Errorf("a request with %s: %s would wait for another client's fetch", hv[0], hv[1])
		}
	}
}

func mustRequest(t *testing.T, method, u string, kv ...string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	return r
}
