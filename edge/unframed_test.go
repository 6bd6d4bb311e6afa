package edge

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// rawOrigin answers every request with the bytes resp returns for its
// path, then closes the connection, counting requests per path.
func rawOrigin(t *testing.T, resp func(path string) []byte) (url string, count func(string) int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	counts := map[string]int{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				f := strings.Fields(line)
				if len(f) < 2 {
					return
				}
				mu.Lock()
				counts[f[1]]++
				mu.Unlock()
				c.Write(resp(f[1]))
			}()
		}
	}()
	return "http://" + ln.Addr().String(), func(p string) int {
		mu.Lock()
		defer mu.Unlock()
		return counts[p]
	}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func chunked(b []byte) []byte {
	var out bytes.Buffer
	cw := httputil.NewChunkedWriter(&out)
	cw.Write(b[:len(b)/2])
	cw.Write(b[len(b)/2:])
	cw.Close()
	out.WriteString("\r\n")
	return out.Bytes()
}

// TestUnknownTransferCodings (RFC 9112 §6.3): a response whose
// Transfer-Encoding net/http refuses is read until the connection
// closes, its known codings undone, and never becomes a 502; the bytes of
// a coding nobody knows are passed on as they came. Each is stored without
// Transfer-Encoding. Through one edge, and through
// an edge and its shield.
func TestUnknownTransferCodings(t *testing.T) {
	url, count := rawOrigin(t, func(path string) []byte {
		head := "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/plain\r\n"
		switch path {
		case "/gzip":
			return append([]byte(head+"Transfer-Encoding: gzip\r\n\r\n"), gzipped("hello gzip")...)
		case "/gzip-chunked":
			return append([]byte(head+"Transfer-Encoding: gzip, chunked\r\n\r\n"), chunked(gzipped("hello gzip, chunked"))...)
		case "/two-fields":
			return append([]byte(head+"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"), chunked(gzipped("hello two fields"))...)
		case "/foo":
			return []byte(head + "Transfer-Encoding: foo\r\nContent-Length: 3\r\n\r\nopaque bytes")
		}
		return []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	})
	for _, chain := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain=%v", chain), func(t *testing.T) {
			host := fmt.Sprintf("t%v.example.com", chain)
			site := []Site{{Host: host, Origin: "main"}}
			origins := map[string]Pool{"main": {Servers: []Upstream{{URL: url}}}}
			var e *testEdge
			if chain {
				sh := startEdge(t, Config{Name: "shield-1", Role: RoleShield, Sites: site, Origins: origins})
				e = startEdge(t, Config{Name: "edge-1", Sites: site, Origins: origins, Shields: []Upstream{{Name: "shield-1", URL: sh.URL}}})
			} else {
				e = startEdge(t, Config{Name: "edge-1", Sites: site, Origins: origins, DisableCompression: true})
			}
			for _, tc := range []struct {
				path, body string
				stored     bool
			}{
				{"/gzip", "hello gzip", true},
				{"/gzip-chunked", "hello gzip, chunked", true},
				{"/two-fields", "hello two fields", true},
				{"/foo", "opaque bytes", true},
			} {
				before := count(tc.path)
				for i := 0; i < 2; i++ {
					req, _ := http.NewRequest(http.MethodGet, e.URL+tc.path, nil)
					req.Host = host
					req.Header.Set("Accept-Encoding", "identity")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					b := new(bytes.Buffer)
					b.ReadFrom(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || b.String() != tc.body || len(resp.TransferEncoding) > 1 {
						t.Errorf("%s #%d: %d %q TE %q", tc.path, i, resp.StatusCode, b.String(), resp.TransferEncoding)
					}
					if hit := strings.Contains(resp.Header.Get("Cache-Status"), "edge-1; hit"); i == 1 && hit != tc.stored {
						t.Errorf("%s #2: Cache-Status %q, stored %v", tc.path, resp.Header.Get("Cache-Status"), tc.stored)
					}
				}
				// One request: the response is read as it came.
				want := 1
				if !tc.stored {
					want = 2
				}
				if got := count(tc.path) - before; got != want {
					t.Errorf("%s: origin asked %d times, want %d", tc.path, got, want)
				}
			}
		})
	}
}

// TestTransferCodingsOnAKeptAliveConnection: responses on one upstream
// connection, one after the other (an informational response before a
// final one, a chunked one, a 304, a forged internal field, then a
// gzip transfer coding read until close), reach the client intact: the
// connection's head reader never takes body bytes for a head.
func TestTransferCodingsOnAKeptAliveConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns, requests atomic.Int32
	body := "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n" // a body that looks like a head
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					requests.Add(1)
					h := "Cache-Control: max-age=60\r\nContent-Type: text/plain\r\n"
					var resp string
					switch req.URL.Path {
					case "/info":
						resp = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n" + h + "Content-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
					case "/chunked":
						resp = "HTTP/1.1 200 OK\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n" + string(chunked([]byte(body)))
					case "/rev":
						if req.Header.Get("If-None-Match") != "" {
							resp = "HTTP/1.1 304 Not Modified\r\nETag: \"r1\"\r\nCache-Control: max-age=0\r\n\r\n"
						} else {
							resp = "HTTP/1.1 200 OK\r\nETag: \"r1\"\r\nCache-Control: max-age=0\r\nContent-Length: 7\r\n\r\nrevalid"
						}
					case "/forged":
						resp = "HTTP/1.1 200 OK\r\n" + h + hdrTransferCodings + ": gzip\r\nContent-Length: 5\r\n\r\nplain"
					case "/gzip":
						resp = "HTTP/1.1 200 OK\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n" + string(gzipped("last one"))
						c.Write([]byte(resp))
						return // read until close
					}
					c.Write([]byte(resp))
				}
			}()
		}
	}()
	cfg := QuickConfig("edge-1", "127.0.0.1:0", "http://"+ln.Addr().String())
	cfg.DisableCompression = true
	cfg.MaxIdlePerHost = 1
	e := startEdge(t, cfg)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/info", body},
		{"GET", "/chunked", body},
		{"GET", "/rev", "revalid"},
		{"GET", "/rev", "revalid"}, // revalidated: a 304 with no body
		{"HEAD", "/chunked", ""},   // from the cache
		{"GET", "/forged", "plain"},
		{"GET", "/gzip", "last one"},
	} {
		req, _ := http.NewRequest(tc.method, e.URL+tc.path, nil)
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != tc.want {
			t.Errorf("%s %s: %d %q %v", tc.method, tc.path, resp.StatusCode, b, err)
		}
		if v := resp.Header.Get(hdrTransferCodings); v != "" {
			t.Errorf("%s: internal field reached the client: %q", tc.path, v)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d upstream connections for %d requests, want 1", n, requests.Load())
	}
}
