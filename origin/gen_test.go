package origin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGenHeaders(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	_, ts := startServer(t, Config{Now: clock.now})
	res, body := get(t, ts.URL+"/gen/a/b.txt?size=300&ctype=text/plain&cc=public,+max-age=60"+
		"&cdncc=max-age=600&tags=x,y+z&lm=1700000000&expires=120&setcookie=s%3D1&vary=accept-language")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	want := map[string]string{
		"Content-Length":    "300",
		"Content-Type":      "text/plain",
		"Cache-Control":     "public, max-age=60",
		"Cdn-Cache-Control": "max-age=600",
		"Surrogate-Key":     "x y z",
		"Last-Modified":     "Tue, 14 Nov 2023 22:13:20 GMT",
		"Date":              "Wed, 04 Mar 2026 05:06:07 GMT",
		"Expires":           "Wed, 04 Mar 2026 05:08:07 GMT",
		"Set-Cookie":        "s=1",
		"Vary":              "Accept-Language",
		"Accept-Ranges":     "bytes",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if etag := res.Header.Get("ETag"); !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Errorf("ETag %q is not a strong entity tag", etag)
	}
	if len(body) != 300 {
		t.Errorf("body is %d bytes, want 300", len(body))
	}

	// Without cc= there is no Cache-Control; without lm= a Last-Modified in
	// the past that depends only on the name.
	res1, _ := get(t, ts.URL+"/gen/plain")
	res2, _ := get(t, ts.URL+"/gen/plain?size=5")
	if cc, ok := res1.Header["Cache-Control"]; ok {
		t.Errorf("Cache-Control %q sent without cc=", cc)
	}
	lm, err := http.ParseTime(res1.Header.Get("Last-Modified"))
	if err != nil || !lm.Before(clock.t) {
		t.Errorf("default Last-Modified %q: want a date in the past (err %v)", res1.Header.Get("Last-Modified"), err)
	}
	if res1.Header.Get("Last-Modified") != res2.Header.Get("Last-Modified") {
		t.Errorf("default Last-Modified depends on more than the name")
	}
	if got := res1.Header.Get("Content-Type"); got != DefaultContentType {
		t.Errorf("default Content-Type %q, want %q", got, DefaultContentType)
	}
	if got := res1.Header.Get("Content-Length"); got != strconv.Itoa(DefaultGenSize) {
		t.Errorf("default Content-Length %q, want %d", got, DefaultGenSize)
	}
}

func TestGenDeterministic(t *testing.T) {
	_, ts := startServer(t, Config{})
	_, a := get(t, ts.URL+"/gen/det?size=5000")
	_, b := get(t, ts.URL+"/gen/det?size=5000&unrelated=1")
	_, c := get(t, ts.URL+"/gen/other?size=5000")
	_, d := get(t, ts.URL+"/gen/det?size=5001")
	if !bytes.Equal(a, b) {
		t.Error("same name and size gave different bodies")
	}
	if bytes.Equal(a, c) {
		t.Error("different names gave the same body")
	}
	if bytes.Equal(a, d[:5000]) {
		t.Error("different sizes gave the same leading bytes")
	}
	// A second server with the same (zero) seed produces the same bytes.
	_, ts2 := startServer(t, Config{})
	_, e := get(t, ts2.URL+"/gen/det?size=5000")
	if !bytes.Equal(a, e) {
		t.Error("two servers disagree on a body")
	}
}

func TestGenVary(t *testing.T) {
	_, ts := startServer(t, Config{})
	u := ts.URL + "/gen/v?size=256&ctype=text/plain&vary=Accept-Language,X-Device"
	r1, en := get(t, u, "Accept-Language", "en")
	r2, en2 := get(t, u, "Accept-Language", "en")
	r3, fr := get(t, u, "Accept-Language", "fr")
	r4, enMobile := get(t, u, "Accept-Language", "en", "X-Device", "mobile")
	if got := r1.Header.Get("Vary"); got != "Accept-Language, X-Device" {
		t.Errorf("Vary = %q", got)
	}
	if !bytes.Equal(en, en2) || r1.Header.Get("ETag") != r2.Header.Get("ETag") {
		t.Error("same header values gave different variants")
	}
	for _, o := range []struct {
		name string
		res  *http.Response
		body []byte
	}{{"fr", r3, fr}, {"en+mobile", r4, enMobile}} {
		if bytes.Equal(en, o.body) {
			t.Errorf("variant %s has the same body as en", o.name)
		}
		if o.res.Header.Get("ETag") == r1.Header.Get("ETag") {
			t.Errorf("variant %s has the same ETag as en", o.name)
		}
	}
}

func TestGenStatus(t *testing.T) {
	_, ts := startServer(t, Config{})
	tests := []struct {
		status   int
		wantBody int
		wantCL   string // "" means absent
	}{
		{200, 100, "100"},
		{203, 100, "100"},
		{204, 0, ""}, // RFC 9110 §8.6: no Content-Length in 204
		{304, 0, ""},
		{404, 100, "100"},
		{500, 100, "100"},
		{503, 100, "100"},
	}
	for _, tc := range tests {
		res, body := get(t, ts.URL+"/gen/s?size=100&status="+strconv.Itoa(tc.status))
		if res.StatusCode != tc.status {
			t.Errorf("status=%d: got %d", tc.status, res.StatusCode)
		}
		if len(body) != tc.wantBody {
			t.Errorf("status=%d: body %d bytes, want %d", tc.status, len(body), tc.wantBody)
		}
		if cl, ok := res.Header["Content-Length"]; tc.wantCL == "" && ok || tc.wantCL != "" && (len(cl) != 1 || cl[0] != tc.wantCL) {
			t.Errorf("status=%d: Content-Length %q, want %q", tc.status, cl, tc.wantCL)
		}
		if _, ok := res.Header["Repr-Digest"]; ok != (tc.status == 200) {
			t.Errorf("status=%d: Repr-Digest present=%v", tc.status, ok)
		}
	}
}

func TestGenBadRequests(t *testing.T) {
	_, ts := startServer(t, Config{MaxSize: 1 << 20})
	for _, q := range []string{
		"size=-1", "size=abc", "size=2000000", "status=99", "status=600", "status=206",
		"delay=-5", "delay=99999999", "abort=-1", "chunked=maybe", "lm=x", "expires=soon",
		"vary=bad%20name", "cc=a%0Db", "ctype=", "size=%zz",
	} {
		res, _ := get(t, ts.URL+"/gen/x?"+q)
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("?%s: status %d, want 400", q, res.StatusCode)
		}
	}
}

func TestGenMethods(t *testing.T) {
	srv, ts := startServer(t, Config{})
	for _, m := range []string{"PURGE", "BREW"} {
		res, _ := fetch(t, m, ts.URL+"/gen/x")
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != genAllow {
			t.Errorf("%s: status %d Allow %q, want 405 with Allow: %s", m, res.StatusCode, res.Header.Get("Allow"), genAllow)
		}
	}
	// Writes: status=, location= and clocation= shape the answer.
	for _, tc := range []struct {
		method, query  string
		status         int
		loc, cloc, rsp string
	}{
		{http.MethodPost, "", 200, "", "", "post ok\n"},
		{http.MethodPut, "status=201&location=/gen/new", 201, "/gen/new", "", "put ok\n"},
		{http.MethodPatch, "clocation=/gen/x%3Fv%3D2", 200, "", "/gen/x?v=2", "patch ok\n"},
		{http.MethodDelete, "status=204", 204, "", "", ""},
		{http.MethodPost, "status=201&location=http://other.example/a&clocation=/b", 201, "http://other.example/a", "/b", "post ok\n"},
	} {
		res, body := fetch(t, tc.method, ts.URL+"/gen/w?"+tc.query)
		if res.StatusCode != tc.status || res.Header.Get("Location") != tc.loc ||
			res.Header.Get("Content-Location") != tc.cloc || string(body) != tc.rsp {
			t.Errorf("%s ?%s: %d Location %q Content-Location %q body %q", tc.method, tc.query, res.StatusCode,
				res.Header.Get("Location"), res.Header.Get("Content-Location"), body)
		}
	}
	if n := srv.Stats().Paths["/gen/w"]; n != 5 {
		t.Errorf("stats count %d writes to /gen/w, want 5", n)
	}
	// HEAD: same fields as GET, Content-Length of the GET body, no body.
	gr, _ := get(t, ts.URL+"/gen/h?size=12345&cc=max-age=9")
	hr, body := fetch(t, http.MethodHead, ts.URL+"/gen/h?size=12345&cc=max-age=9")
	if hr.StatusCode != 200 || len(body) != 0 || hr.ContentLength != 12345 {
		t.Errorf("HEAD: status %d, %d body bytes, Content-Length %d", hr.StatusCode, len(body), hr.ContentLength)
	}
	for _, k := range []string{"Etag", "Repr-Digest", "Cache-Control", "Last-Modified", "Content-Type"} {
		if gr.Header.Get(k) != hr.Header.Get(k) {
			t.Errorf("HEAD %s = %q, GET has %q", k, hr.Header.Get(k), gr.Header.Get(k))
		}
	}
}

func TestGenChunked(t *testing.T) {
	_, ts := startServer(t, Config{})
	for _, size := range []int{0, 10, 100000} {
		res, body := get(t, ts.URL+"/gen/c?chunked=1&size="+strconv.Itoa(size))
		if res.ContentLength != -1 || len(res.TransferEncoding) == 0 || res.TransferEncoding[0] != "chunked" {
			t.Errorf("size=%d: Content-Length %d, Transfer-Encoding %q; want chunked", size, res.ContentLength, res.TransferEncoding)
		}
		if len(body) != size {
			t.Errorf("size=%d: body %d bytes", size, len(body))
		}
	}
}

func TestGenDelay(t *testing.T) {
	_, ts := startServer(t, Config{})
	start := time.Now()
	res, _ := get(t, ts.URL+"/gen/slow?delay=50")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// A lower bound only: a slow machine may take longer, never shorter.
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("delay=50 answered after %v", d)
	}
}

// TestGenAbort checks that abort=N sends N body bytes and then cuts the
// connection, so the client sees a truncated body, not a short one.
func TestGenAbort(t *testing.T) {
	_, ts := startServer(t, Config{})
	tests := []struct {
		query string
		sent  int
	}{
		{"size=100000&abort=5000", 5000},
		{"size=100000&abort=0", 0},
		{"size=1000&abort=1000&chunked=1", 1000}, // whole body, no last chunk
		{"size=100000&abort=70000&chunked=1", 70000},
	}
	for _, tc := range tests {
		client := &http.Client{Transport: &http.Transport{}}
		res, err := client.Get(ts.URL + "/gen/ab?" + tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: read error %v, want unexpected EOF", tc.query, err)
		}
		if len(body) != tc.sent {
			t.Errorf("%s: got %d body bytes before the cut, want %d", tc.query, len(body), tc.sent)
		}
		client.CloseIdleConnections()
	}
}

// TestGenAbortRaw reads the abort on the wire: headers, N bytes, then EOF.
func TestGenAbortRaw(t *testing.T) {
	_, ts := startServer(t, Config{})
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /gen/raw?size=1000&abort=10 HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	if n != 10 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read %d bytes, err %v; want 10 and unexpected EOF", n, err)
	}
}

// TestGenStall checks that stall=N sends N body bytes, holds the response
// open until the client goes away, and never lets the cut body look whole.
func TestGenStall(t *testing.T) {
	_, ts := startServer(t, Config{})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/gen/st?size=100000&stall=3000", nil)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.ContentLength != 100000 {
		t.Fatalf("Content-Length %d, want 100000", res.ContentLength)
	}
	got := make([]byte, 3000)
	if _, err := io.ReadFull(res.Body, got); err != nil {
		t.Fatalf("first 3000 bytes: %v", err)
	}
	// Nothing more arrives while the client stays.
	more := make(chan error, 1)
	go func() {
		_, err := res.Body.Read(make([]byte, 1))
		more <- err
	}()
	select {
	case err := <-more:
		t.Fatalf("read past the stall point returned (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	if err := <-more; err == nil {
		t.Fatal("read after the client went away returned no error")
	}
	if _, err := parseGenParams("stall=-1", DefaultMaxGenSize); err == nil {
		t.Fatal("stall=-1 accepted")
	}
}
