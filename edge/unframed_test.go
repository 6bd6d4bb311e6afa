package edge

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
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
				// Each fetch costs the origin two requests: the one
				// net/http refused, and the one read until close.
				want := 2
				if !tc.stored {
					want = 4
				}
				if got := count(tc.path) - before; got != want {
					t.Errorf("%s: origin asked %d times, want %d", tc.path, got, want)
				}
			}
		})
	}
}
