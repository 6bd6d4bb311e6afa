package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/lb"
)

// waitFor polls cond until it holds or d passes, and fails the test then.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inflight returns the upstreams' in-flight counts from the admin /status.
func inflight(t *testing.T, e *testEdge) int64 {
	t.Helper()
	resp, err := http.Get("http://" + e.Addr("admin").String() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, bs := range st.Upstreams {
		for _, b := range bs {
			n += b.Inflight
		}
	}
	return n
}

func adminQuickEdge(t *testing.T, o *testOrigin, tweak func(*Config)) *testEdge {
	t.Helper()
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	cfg.Admin = "127.0.0.1:0"
	cfg.Now = o.clock.Now
	if tweak != nil {
		tweak(&cfg)
	}
	e := startEdge(t, cfg)
	e.clock = o.clock
	return e
}

// Defect: a pass response whose client left was never closed, so the
// backend's in-flight count leaked for good.
func TestAbandonedPassReleasesBackend(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, nil)
	p := uniq(t)
	for i := range 5 {
		// Before the response: the client gives up while the origin waits.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s%s-a%d?size=1000&cc=no-store&delay=300", e.URL, p, i), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("request %d: expected the client's deadline to cut it", i)
		}
		cancel()
		// After the headers: the client reads nothing of a large body.
		resp, err := http.Get(fmt.Sprintf("%s%s-b%d?size=%d&cc=no-store", e.URL, p, i, 64<<20))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=miss") {
			t.Fatalf("Cache-Status %q: want a pass", resp.Header.Get("Cache-Status"))
		}
		resp.Body.Close()
	}
	waitFor(t, "in-flight count back to 0", 10*time.Second, func() bool { return inflight(t, e) == 0 })
}

// sampleHeap reports the largest heap in use seen while run runs.
func sampleHeap(run func()) (peak uint64) {
	// Collect garbage eagerly, so the peak is what is held, not what is
	// waiting for the collector.
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base.HeapInuse && ms.HeapInuse-base.HeapInuse > peak {
				peak = ms.HeapInuse - base.HeapInuse
			}
		}
	}()
	run()
	close(stop)
	wg.Wait()
	return peak
}

// Defect: a memory-only node buffered a whole chunked body far past
// max_memory_object and still said "stored".
func TestChunkedBodyPastMemoryLimitStreams(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, func(c *Config) { c.MaxMemoryObject = 2 << 20 })
	const size = 60 << 20
	url := fmt.Sprintf("%s%s?size=%d&chunked=1&cc=max-age%%3D60", e.URL, uniq(t), size)
	var r result
	peak := sampleHeap(func() {
		resp, err := http.Get(url)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil || n != size {
			t.Errorf("read %d of %d bytes: %v", n, size, err)
		}
		r = result{status: resp.StatusCode, header: resp.Header}
		want := "sha-256=:" + base64.StdEncoding.EncodeToString(h.Sum(nil)) + ":"
		if d := resp.Header.Get("Repr-Digest"); d != want {
			t.Errorf("digest %q, want %q", d, want)
		}
	})
	if t.Failed() {
		return
	}
	if strings.Contains(r.cacheStatus(), "stored") {
		t.Errorf("Cache-Status %q claims a 60 MB body was stored in a 2 MiB memory object limit", r.cacheStatus())
	}
	if peak > 40<<20 { // the whole body is 60 MB
		t.Errorf("heap grew by %d MB while streaming a 60 MB body with max_memory_object 2 MiB", peak>>20)
	}
	t.Logf("heap peak above baseline: %.1f MB", float64(peak)/(1<<20))
}

// Defect: chunked bodies larger than the disk tier's max object were cut
// short, every time.
func TestChunkedBodyPastDiskMaxObject(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, func(c *Config) {
		c.DiskDir = t.TempDir()
		c.DiskSize = 64 << 20
		c.DiskMaxObject = 8 << 20
		c.MaxMemoryObject = 1 << 20
	})
	waitFor(t, "disk tier ready", 10*time.Second, e.p.disk.Ready)
	url := fmt.Sprintf("%s%s?size=%d&chunked=1&cc=max-age%%3D60", e.URL, uniq(t), 20<<20)
	for i := range 2 {
		r := get(t, url)
		if len(r.body) != 20<<20 {
			t.Fatalf("fetch %d: %d of %d bytes", i, len(r.body), 20<<20)
		}
		checkDigest(t, r)
	}
}

// Defect: a disk tier full of reservations of writes in progress cut
// responses off. A full cache stops storing and streams through.
func TestFullDiskTierStreamsThrough(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, func(c *Config) {
		c.DiskDir = t.TempDir()
		c.DiskSize = 16 << 20
		c.DiskMaxObject = 12 << 20
		c.MaxMemoryObject = 1 << 20
	})
	waitFor(t, "disk tier ready", 10*time.Second, e.p.disk.Ready)
	p := uniq(t)
	const clients, size = 6, 10 << 20
	errs := make(chan error, clients*2)
	var wg sync.WaitGroup
	for c := range clients {
		for _, chunked := range []bool{true, false} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url := fmt.Sprintf("%s%s-%d-%v?size=%d&chunked=%v&cc=max-age%%3D60", e.URL, p, c, chunked, size, chunked)
				resp, err := http.Get(url)
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				// Read slowly at first, so every write is in progress at once.
				var buf [64 << 10]byte
				n, err := io.ReadFull(resp.Body, buf[:])
				time.Sleep(50 * time.Millisecond)
				m, err2 := io.Copy(io.Discard, resp.Body)
				if err == nil {
					err = err2
				}
				if total := int64(n) + m; err != nil || total != size {
					errs <- fmt.Errorf("%s: %d of %d bytes: %v", url, total, size, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Defect: HTTP/2 rapid reset (HEADERS then RST_STREAM for cold URLs)
// multiplied origin load: fetches went on after every client had gone.
func TestRapidResetBounded(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, nil)
	p := uniq(t)
	conn, err := net.Dial("tcp", e.Addr("http").String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(conn)
	fr := http2.NewFramer(bw, conn)
	fr.WriteSettings()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	const pairs = 3000
	sent := 0
	var werr error
	for i := range pairs {
		hbuf.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "example.test"}, {":path", fmt.Sprintf("%s-%d?size=100&cc=max-age%%3D60&delay=20", p, i)}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		id := uint32(2*i + 1)
		if werr = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true}); werr != nil {
			break
		}
		if werr = fr.WriteRSTStream(id, http2.ErrCodeCancel); werr != nil {
			break
		}
		if i%50 == 49 {
			if werr = bw.Flush(); werr != nil {
				break
			}
		}
		sent++
	}
	bw.Flush()
	// Drain what the server sends for a while: it closes the connection
	// once it has abandoned more than MaxAbandonedPerConn fetches.
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	closed := !(errors.As(err, &ne) && ne.Timeout())
	n := o.count("")
	limit := DefaultMaxFetchesPerConn + DefaultMaxAbandonedPerConn + 50
	if n > limit {
		t.Errorf("%d HEADERS+RST_STREAM pairs caused %d origin requests, want at most %d", sent, n, limit)
	}
	t.Logf("%d pairs sent (write error: %v), origin saw %d requests, connection closed by the edge: %v", sent, werr, n, closed)
}

// Defect: every successful unsafe request added a purge rule; after enough
// of them, pruning made every older object stale. Invalidation now marks
// the stored entries instead.
func TestUnsafeRequestsAddNoRules(t *testing.T) {
	var gets atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Location", "/target")
			w.WriteHeader(http.StatusCreated)
			return
		}
		gets.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "object "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", up.URL)
	e := startEdge(t, cfg)
	get(t, e.URL+"/hot")
	get(t, e.URL+"/target")
	mustContain(t, "hot", get(t, e.URL+"/hot").cacheStatus(), "hit")
	mustContain(t, "target", get(t, e.URL+"/target").cacheStatus(), "hit")
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	const posts = 5000
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < posts; i += 8 {
				resp, err := c.Post(fmt.Sprintf("%s/form-%d", e.URL, i), "text/plain", strings.NewReader("x"))
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := e.p.inv.Len(); n != 0 {
		t.Errorf("%d POSTs left %d purge rules, want 0", posts, n)
	}
	mustContain(t, "hot after POSTs", get(t, e.URL+"/hot").cacheStatus(), "hit")
	// The Location of a POST's 201 is invalidated: revalidated next.
	if cs := get(t, e.URL+"/target").cacheStatus(); strings.Contains(cs, "hit") {
		t.Errorf("target after POSTs whose Location named it: Cache-Status %q, want a revalidation", cs)
	}
}

// Defect: a flight had no overall deadline, so a slow-drip origin held
// it, and its clients, indefinitely.
func TestSlowDripOriginHitsFetchDeadline(t *testing.T) {
	gone := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.WriteHeader(200)
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				break
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				close(gone)
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(up.Close)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", up.URL)
	cfg.FetchTimeout = time.Second
	e := startEdge(t, cfg)
	start := time.Now()
	resp, err := http.Get(e.URL + "/drip")
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a body cut by the fetch deadline was delivered as complete")
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin request was not cancelled")
	}
	t.Logf("ended after %v: %v", time.Since(start), err)
}

// Defect: nothing flushed, so streamed pass-through (server-sent events,
// long polling) sat in the write buffer.
func TestStreamedResponseIsFlushed(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(200)
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next: // the client saw the first event
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(up.Close)
	e := startEdge(t, QuickConfig("edge-1", "127.0.0.1:0", up.URL))
	resp, err := http.Get(e.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: one\n" {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive before the upstream sent more: not flushed")
	}
	close(next)
}

// Defect: failures of tier writes vanished without a log line or metric.
func TestStoreErrorsAreCounted(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, func(c *Config) {
		c.DiskDir = t.TempDir()
		c.DiskSize = 64 << 20
	})
	waitFor(t, "disk tier ready", 10*time.Second, e.p.disk.Ready)
	url := e.URL + uniq(t) + "?size=1000&cc=max-age%3D1"
	get(t, url)
	waitFor(t, "written through", 10*time.Second, func() bool { return e.p.disk.Len() > 0 })
	// A closed disk tier refuses every write.
	e.p.disk.Close()
	e.clock.Advance(2 * time.Second)
	get(t, url) // revalidation: a 304 whose head update fails on disk
	if e.p.store.Errors("disk", "update-head") == 0 {
		t.Fatal("a failed disk head update was not counted")
	}
}

// 103 Early Hints and 102 reach the client that caused the fetch, on a
// miss and on a pass, and are never stored (RFC 9110 §15.2).
func TestInformationalForwarded(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		if r.Method == http.MethodGet {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		io.WriteString(w, "page")
	}))
	t.Cleanup(up.Close)
	e := startEdge(t, QuickConfig("edge-1", "127.0.0.1:0", up.URL))
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodGet} {
		var hints []string
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
				return nil
			},
		})
		req, _ := http.NewRequestWithContext(ctx, method, e.URL+"/page", strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cs := resp.Header.Get("Cache-Status")
		if strings.Contains(cs, "hit") {
			if len(hints) != 0 {
				t.Errorf("a hit replayed informational responses %v", hints)
			}
			continue
		}
		if len(hints) != 1 || !strings.HasPrefix(hints[0], "103 </app.css>") {
			t.Errorf("%s (%s): informational responses %v, want one 103 with the Link", method, cs, hints)
		}
		if resp.Header.Get("Link") != "" {
			t.Errorf("%s: the 103's Link leaked into the final response", method)
		}
	}
}

// Cache poisoning through X-Forwarded-Proto: an origin that redirects
// whenever the proto is not https must never see a client's claim.
func TestForwardingHeadersFromClientsIgnored(t *testing.T) {
	var seen sync.Map
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path, r.Header.Clone())
		w.Header().Set("Cache-Control", "max-age=300")
		if r.Header.Get("X-Forwarded-Proto") != "https" {
			w.Header().Set("Location", "https://"+r.Host+r.URL.Path)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		io.WriteString(w, "page")
	}))
	t.Cleanup(up.Close)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", up.URL)
	e := startEdge(t, cfg)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/p", nil)
	for _, kv := range [][2]string{{"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "evil.test"}, {"X-Forwarded-For", "6.6.6.6"},
		{"Forwarded", "for=6.6.6.6;proto=https"}, {"X-Original-URL", "/admin"}, {"X-HTTP-Method-Override", "DELETE"}} {
		req.Header.Set(kv[0], kv[1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("the origin believed the client's X-Forwarded-Proto: status %d", resp.StatusCode)
	}
	v, _ := seen.Load("/p")
	h := v.(http.Header)
	for f, want := range map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": strings.TrimPrefix(e.URL, "http://")} {
		if got := h.Get(f); got != want {
			t.Errorf("upstream %s = %q, want %q", f, got, want)
		}
	}
	for _, f := range []string{"X-Original-Url", "X-Http-Method-Override"} {
		if got := h.Get(f); got != "" {
			t.Errorf("upstream %s = %q, want it dropped", f, got)
		}
	}
	if got := h.Get("Forwarded"); !strings.HasPrefix(got, "for=127.0.0.1;proto=http;") {
		t.Errorf("upstream Forwarded = %q", got)
	}

	// From a trusted proxy the fields are believed.
	cfg = QuickConfig("edge-2", "127.0.0.1:0", up.URL)
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e2 := startEdge(t, cfg)
	r := get(t, e2.URL+"/q", "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.7")
	if r.status != 200 {
		t.Errorf("from a trusted proxy: status %d, want 200", r.status)
	}
	v, _ = seen.Load("/q")
	if got := v.(http.Header).Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.1" {
		t.Errorf("trusted chain X-Forwarded-For = %q", got)
	}
}

// TRACE and CONNECT never reach an origin, and the header limits are the
// documented ones, exactly.
func TestMethodsAndHeaderLimits(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	raw := func(req string) string {
		c, err := net.Dial("tcp", e.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	for _, m := range []string{"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n"} {
		if got := raw(m); !strings.HasPrefix(got, "HTTP/1.1 405") {
			t.Errorf("%q: %q, want 405", strings.Fields(m)[0], got)
		}
	}
	if n := o.count(""); n != 0 {
		t.Errorf("the origin saw %d requests", n)
	}
	var many strings.Builder
	for i := range 102 {
		fmt.Fprintf(&many, "X-H%d: v\r\n", i)
	}
	if got := raw("GET / HTTP/1.1\r\nHost: a\r\n" + many.String() + "\r\n"); !strings.HasPrefix(got, "HTTP/1.1 431") {
		t.Errorf("103 header fields: %q, want 431", got)
	}
	big := "X-Big: " + strings.Repeat("a", 65<<10) + "\r\n"
	if got := raw("GET / HTTP/1.1\r\nHost: a\r\n" + big + "\r\n"); !strings.HasPrefix(got, "HTTP/1.1 431") {
		t.Errorf("65 KiB of headers: %q, want 431", got)
	}
	ok := "X-Ok: " + strings.Repeat("a", 60<<10) + "\r\n"
	if got := raw("GET /gen/x?size=10 HTTP/1.1\r\nHost: a\r\n" + ok + "\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("60 KiB of headers: %q, want 200", got)
	}
}

// A node that may have missed purges (out of sync with the purge bus)
// serves nothing stored without a successful revalidation: when the
// origin cannot be reached it answers with an error, never stale, even
// where stale-if-error would allow it.
func TestUnsyncedNodeServesNoStale(t *testing.T) {
	o := startOrigin(t)
	dir := t.TempDir()
	url := uniq(t) + "?size=1000&cc=max-age%3D1,stale-if-error%3D3600,stale-while-revalidate%3D3600"
	{
		cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
		cfg.Now, cfg.DiskDir, cfg.DiskSize = o.clock.Now, dir, 64<<20
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		<-srv.Ready()
		waitFor(t, "disk ready", 10*time.Second, srv.p.disk.Ready)
		get(t, "http://"+srv.Addr("http").String()+url)
		waitFor(t, "written through", 10*time.Second, func() bool { return srv.p.disk.Len() > 0 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	o.clock.Advance(5 * time.Second) // stale now
	o.Close()                        // and the origin is gone
	// Restarted, with a purge bus it cannot reach: never in sync.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "nats://" + dead.Addr().String()
	dead.Close()
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	cfg.Now, cfg.DiskDir, cfg.DiskSize = o.clock.Now, dir, 64<<20
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AttachPurge(PurgeOptions{URLs: []string{deadURL}, Token: "t", Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()
	if srv.Synced() {
		t.Fatal("a node that cannot reach its purge bus says it is in sync")
	}
	r := get(t, "http://"+srv.Addr("http").String()+url)
	if r.status < 500 || strings.Contains(r.cacheStatus(), "stale") {
		t.Errorf("out of sync with the purge bus and the origin down: status %d, Cache-Status %q; want an error, not stale", r.status, r.cacheStatus())
	}
}

// A malformed request body is the client's fault: 400, and it never
// counts against the backend (which would eject it for everyone).
func TestMalformedChunkedBodyIsClientError(t *testing.T) {
	up := func() *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "ok")
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := up(), up()
	cfg := QuickConfig("edge-1", "127.0.0.1:0", a.URL)
	cfg.Origins["origin"] = Pool{Policy: "round_robin", Servers: []Upstream{{Name: "a", URL: a.URL}, {Name: "b", URL: b.URL}}}
	cfg.Admin = "127.0.0.1:0"
	e := startEdge(t, cfg)
	for i := range 8 {
		c, err := net.Dial("tcp", e.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "POST /form HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nbroken\r\n0\r\n\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.HasPrefix(line, "HTTP/1.1 400") {
			t.Errorf("request %d: %q, want 400", i, line)
		}
	}
	resp, err := http.Get("http://" + e.Addr("admin").String() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Status
	json.NewDecoder(resp.Body).Decode(&st)
	for _, bs := range st.Upstreams {
		for _, b := range bs {
			if b.Ejected || b.ConsecutiveFailures > 0 {
				t.Errorf("backend %s blamed for clients' bodies: ejected %v, %d failures", b.Name, b.Ejected, b.ConsecutiveFailures)
			}
		}
	}
}

// Slow and hostile clients are bounded: a request body that stalls, a
// client that never reads its response, and too many connections from
// one address.
func TestSlowClientsBounded(t *testing.T) {
	var inflight atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(bytes.Repeat([]byte("x"), 8<<20))
	}))
	t.Cleanup(up.Close)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", up.URL)
	cfg.ClientBodyTimeout = 500 * time.Millisecond
	// Long enough that a reading client is never cut off on a busy
	// machine, short enough for the test.
	cfg.SendTimeout = 2 * time.Second
	cfg.MaxConnsPerClient = 4
	e := startEdge(t, cfg)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", e.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		return c
	}

	// A POST body that stops after one byte: 400, and the origin is let go.
	c := dial()
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nx")
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(line, "HTTP/1.1 400") {
		t.Errorf("stalled request body: %q, want 400", line)
	}
	waitFor(t, "origin request released", 10*time.Second, func() bool { return inflight.Load() == 0 })

	// A client that never reads an 8 MiB response: the edge gives up.
	get(t, e.URL+"/big") // cached now
	c = dial()
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(6 * time.Second) // well past the send timeout, reading nothing
	n, err := io.Copy(io.Discard, c)
	c.Close()
	if err == nil && n >= 8<<20 {
		t.Errorf("a client that read nothing for 3 send timeouts still got the whole body (%d bytes)", n)
	}

	// Connections per address.
	var conns []net.Conn
	for range 4 {
		conns = append(conns, dial())
	}
	extra := dial()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(extra, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Error("a fifth connection from one address was served; the limit is 4")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("a fifth connection from one address was left open instead of closed")
	}
	extra.Close()
	for _, c := range conns {
		c.Close()
	}
}

// A shield whose data port silently drops packets (its admin port still
// answers) costs the first requests about upstream.ack_timeout, then
// nothing: probes use the data port, and the request moves to the next
// shield. Before, every miss stalled for the 30 s header timeout.
func TestBlackholedShieldPortFailsOverFast(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for nftables")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (make deps-test installs nftables)")
	}
	o := startOrigin(t)
	site := []Site{{Host: "assets.example.com", Origin: "main"}}
	origins := map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}}
	var ups []Upstream
	var ports []string
	for i := range 2 {
		name := fmt.Sprintf("shield-%d", i+1)
		sh := startEdge(t, Config{Name: name, Role: RoleShield, Sites: site, Origins: origins, Admin: "127.0.0.1:0"})
		ups = append(ups, Upstream{Name: name, URL: sh.URL})
		_, port, _ := net.SplitHostPort(sh.Addr("http").String())
		ports = append(ports, port)
	}
	// Default timeouts: only the probe timing is shortened for the test.
	e := startEdge(t, Config{Name: "edge-1", Sites: site, Origins: origins, Shields: ups,
		ShieldHealth: lb.HealthConfig{Path: config.DefaultShieldHealthPath, Interval: 500 * time.Millisecond, Timeout: 300 * time.Millisecond, Rise: 1, Fall: 2}})
	table := fmt.Sprintf("cdntest_bh_%d", os.Getpid())
	nft := func(args ...string) error {
		out, err := exec.Command("nft", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := nft("add", "table", "inet", table); err != nil {
		t.Skipf("nftables unavailable here: %v", err)
	}
	t.Cleanup(func() { nft("delete", "table", "inet", table) })
	if err := nft("add", "chain", "inet", table, "out", "{ type filter hook output priority 0 ; }"); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 40 * time.Second}
	fetch := func(i int) (time.Duration, error) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/gen/bh-%d?size=2000&cc=max-age%%3D60", e.URL, i), nil)
		req.Host = "assets.example.com"
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), err
	}
	// Warm keep-alive connections to both shields.
	for i := range 20 {
		if _, err := fetch(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := nft("add", "rule", "inet", table, "out", "ip", "daddr", "127.0.0.1", "tcp", "dport", ports[0], "drop"); err != nil {
		t.Fatal(err)
	}
	var slowest, tail time.Duration
	for i := 20; i < 80; i++ {
		d, err := fetch(i)
		if err != nil {
			t.Fatalf("request %d with shield-1's port blackholed: %v", i, err)
		}
		slowest = max(slowest, d)
		if i >= 60 {
			tail = max(tail, d)
		}
	}
	if slowest > 8*time.Second {
		t.Errorf("slowest request %v with a blackholed shield port; want about the 3 s ack timeout", slowest)
	}
	if tail > time.Second {
		t.Errorf("requests after the failover still took up to %v", tail)
	}
	t.Logf("slowest request %v, slowest of the last 20 %v", slowest, tail)
}

// The admin listener's metrics and status can require the admin token.
func TestAdminToken(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, func(c *Config) { c.AdminToken = "s3cret" })
	base := "http://" + e.Addr("admin").String()
	for path, want := range map[string]int{"/metrics": 401, "/status": 401, "/healthz": 200} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s without the token: %d, want %d", path, resp.StatusCode, want)
		}
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s with the token: %d", path, resp.StatusCode)
		}
	}
}

// A quick-mode edge (no cluster file) serves the purge API for itself,
// with the same token rules.
func TestQuickModePurge(t *testing.T) {
	o := startOrigin(t)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	cfg.Admin = "127.0.0.1:0"
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AttachLocalPurge("tok"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()
	waitFor(t, "purge bus in sync", 10*time.Second, srv.Synced)
	url := "http://" + srv.Addr("http").String() + uniq(t) + "?size=100&cc=max-age%3D60"
	get(t, url)
	mustContain(t, "before the purge", get(t, url).cacheStatus(), "hit")
	purgeReq := func(token string) int {
		body := fmt.Sprintf(`{"urls":[%q]}`, url)
		req, _ := http.NewRequest(http.MethodPost, "http://"+srv.Addr("admin").String()+"/purge", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := purgeReq("wrong"); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("purge with a wrong token: %d", code)
	}
	// The status page counts the object and the hit in the memory tier.
	page := "http://" + srv.Addr("admin").String() + "/"
	settled(t, srv.p)
	if _, body := getPage(t, page, "tok"); !strings.Contains(body, "<td>memory</td>") || strings.Contains(body, "<td>-</td>") ||
		!strings.Contains(body, "no purge applied since start") {
		t.Errorf("status page before the purge:\n%s", body)
	}
	if code := purgeReq("tok"); code != 200 {
		t.Fatalf("purge: %d", code)
	}
	if cs := get(t, url).cacheStatus(); strings.Contains(cs, "hit") {
		t.Errorf("after the purge: Cache-Status %q", cs)
	}
	// It lists the purge it applied.
	_, body := getPage(t, page, "tok")
	for _, want := range []string{"Last purges", html.EscapeString(url), "<td>url</td>", "<td>applied</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page after the purge lacks %q", want)
		}
	}
}

// A reload under load adds a site without a failed request, keeps the
// cache warm, and a broken configuration is refused while the old one
// keeps serving.
func TestReloadUnderLoad(t *testing.T) {
	o := startOrigin(t)
	pools := map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}}
	cfg := Config{Name: "edge-1", Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Now: o.clock.Now,
		Sites: []Site{{Host: "a.test", Origin: "main"}}, Origins: pools}
	e := startEdge(t, cfg)
	hostGet := func(host, path string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Cache-Status"), err
	}
	const warm = "/gen/warm?size=5000&cc=max-age%3D600"
	hostGet("a.test", warm)
	if code, _, _ := hostGet("b.test", warm); code != http.StatusMisdirectedRequest {
		t.Fatalf("b.test before the reload: %d, want 421", code)
	}
	stop := make(chan struct{})
	var failed, served atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := hostGet("a.test", fmt.Sprintf("/gen/load-%d-%d?size=1000&cc=max-age%%3D60", w, i%50))
				if err != nil || code != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %v", code, err))
				}
				served.Add(1)
			}
		}()
	}
	waitFor(t, "load running", 10*time.Second, func() bool { return served.Load() > 50 })
	next := cfg
	next.Sites = []Site{{Host: "a.test", Origin: "main"}, {Host: "b.test", Origin: "main"}}
	next.Origins = map[string]Pool{"main": {Policy: "least_conn", Servers: []Upstream{{URL: o.URL}}}}
	if err := e.Reload(next); err != nil {
		t.Fatal(err)
	}
	bad := next
	bad.Sites = append(bad.Sites, Site{Host: "c.test", Origin: "nope"})
	if err := e.Reload(bad); err == nil {
		t.Error("a configuration naming a missing origin pool was accepted")
	}
	moved := next
	moved.Listen = "127.0.0.1:1"
	if err := e.Reload(moved); err == nil {
		t.Error("a reload that moves the listener was accepted")
	}
	before := served.Load()
	waitFor(t, "load after the reloads", 10*time.Second, func() bool { return served.Load() > before+50 })
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed across reloads (first: %v)", n, served.Load(), firstErr.Load())
	}
	if code, _, _ := hostGet("b.test", "/gen/x?size=10"); code != 200 {
		t.Errorf("b.test after the reload: %d", code)
	}
	if _, cs, _ := hostGet("a.test", warm); !strings.Contains(cs, "hit") {
		t.Errorf("the cache did not survive the reload: %q", cs)
	}
	if code, _, _ := hostGet("c.test", "/gen/x"); code != http.StatusMisdirectedRequest {
		t.Errorf("the refused configuration's site is served: %d", code)
	}
}

// Through a two-tier chain, a bare 304 (no validators) from the origin
// refreshes the shield's copy, and the shield's 304 to the edge carries
// the updated fields, so the edge serves them too (RFC 9111 §4.3.4).
func TestChainBare304UpdatesBothTiers(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	var conditionals atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			conditionals.Add(1)
			// No ETag, no Last-Modified, and a new Content-Type, written
			// raw: net/http would drop Content-Type from a 304.
			c, bw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			fmt.Fprintf(bw, "HTTP/1.1 304 Not Modified\r\nX-Version: %d\r\nCache-Control: max-age=60\r\nContent-Type: text/plain; v=%d\r\n\r\n", version.Load(), version.Load())
			bw.Flush()
			c.Close()
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "max-age=1")
		w.Header().Set("X-Version", fmt.Sprint(version.Load()))
		w.Header().Set("Content-Type", fmt.Sprintf("text/plain; v=%d", version.Load()))
		io.WriteString(w, "body")
	}))
	t.Cleanup(up.Close)
	clock := &testClock{}
	sites := []Site{{Host: "a.test", Origin: "main"}}
	origins := map[string]Pool{"main": {Servers: []Upstream{{URL: up.URL}}}}
	sh := startEdge(t, Config{Name: "shield-1", Role: RoleShield, Sites: sites, Origins: origins, Now: clock.Now})
	e := startEdge(t, Config{Name: "edge-1", Sites: sites, Origins: origins, Now: clock.Now,
		Shields: []Upstream{{Name: "shield-1", URL: sh.URL}}})
	fetch := func() (int, http.Header) {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"/obj", nil)
		req.Host = "a.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	if code, h := fetch(); code != 200 || h.Get("X-Version") != "1" {
		t.Fatalf("first fetch: %d, X-Version %q", code, h.Get("X-Version"))
	}
	version.Store(2)
	clock.Advance(2 * time.Second) // both copies stale
	code, h := fetch()
	if code != 200 {
		t.Fatalf("after a bare 304 through the chain: status %d (Cache-Status %q)", code, h.Get("Cache-Status"))
	}
	if h.Get("X-Version") != "2" {
		t.Errorf("the edge serves X-Version %q after the origin's 304 said 2 (Cache-Status %q)", h.Get("X-Version"), h.Get("Cache-Status"))
	}
	// Content-Type too, though net/http drops it from the shield's 304.
	if ct := h.Get("Content-Type"); ct != "text/plain; v=2" {
		t.Errorf("the edge serves Content-Type %q after the origin's 304 said v=2", ct)
	}
	if v := h.Get(hdr304ContentType); v != "" {
		t.Errorf("internal field %s reached the client: %q", hdr304ContentType, v)
	}
	if n := conditionals.Load(); n != 1 {
		t.Errorf("origin saw %d conditional requests, want 1", n)
	}
	// Both tiers are fresh again: a hit at the edge.
	if _, h := fetch(); !strings.Contains(h.Get("Cache-Status"), "edge-1; hit") {
		t.Errorf("after the refresh: Cache-Status %q, want an edge hit", h.Get("Cache-Status"))
	}
}

// Behind the layer-4 balancer the edge takes the client's address from
// PROXY protocol, and only from the balancers it was told of.
func TestProxyProtocolFromBalancers(t *testing.T) {
	var seen atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Forwarded-For"))
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", up.URL)
	cfg.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	e := startEdge(t, cfg)
	send := func(src, payload string) string {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", e.Addr("http").String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, payload)
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	req := "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	if got := send("127.0.0.1", "PROXY TCP4 203.0.113.9 127.0.0.1 5555 80\r\n"+req); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("through the balancer: %q", got)
	}
	if got, _ := seen.Load().(string); got != "203.0.113.9" {
		t.Errorf("upstream X-Forwarded-For %q, want the PROXY header's client 203.0.113.9", got)
	}
	seen.Store("")
	if got := send("127.0.0.2", "PROXY TCP4 198.51.100.1 127.0.0.1 5555 80\r\n"+req); strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("a PROXY header from a peer that is no balancer was accepted: %q", got)
	}
	if got := send("127.0.0.2", req); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("a plain client next to the balancers: %q", got)
	}
	if got, _ := seen.Load().(string); got != "127.0.0.2" {
		t.Errorf("plain client's X-Forwarded-For %q", got)
	}
}

// TestJoinStoringFlightWithoutClients: once its only client has what it
// wanted (a range from the first bytes), a fetch whose body is being
// stored goes on, and a request arriving before the body is complete
// joins it instead of fetching the object again.
func TestJoinStoringFlightWithoutClients(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 50000)
	release := make(chan struct{})
	var requests atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		w.Write(body[1000:])
	}))
	defer up.Close()
	defer close(release)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", up.URL)
	cfg.Sites[0].Slice = 0 // the whole object, the range cut from it
	e := startEdge(t, cfg)
	r := get(t, e.URL+"/o", "Range", "bytes=0-9")
	if r.status != http.StatusPartialContent || string(r.body) != "0123456789" {
		t.Fatalf("range: %d %q", r.status, r.body)
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(e.URL + "/o")
		if err != nil {
			done <- result{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, resp.Header, b}
	}()
	// Let the body go on once the second request has joined the fetch
	// (or, failing that, fetched on its own: then the count below fails).
	for deadline := time.Now().Add(10 * time.Second); counterValue(e.p.metrics.collapsed) < 1 && requests.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	release <- struct{}{}
	r = <-done
	if r.status != 200 || !bytes.Equal(r.body, body) {
		t.Fatalf("second: %d, %d bytes", r.status, len(r.body))
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("origin asked %d times, want 1 (Cache-Status %q)", n, r.header.Get("Cache-Status"))
	}
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
