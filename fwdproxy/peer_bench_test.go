package fwdproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"testing"

	"github.com/selfcdn/cdn/cache"
)

// These benchmarks measure CONNECT tunnels through the proxy at
// FWDPROXY_PEER (host:port), so that the same client measures this proxy
// and its peers (Squid, Tinyproxy) in one run; without it they start a
// proxy in-process. The tunnel's far end runs in the benchmark process.

// benchTarget returns a loopback server: for each connection it echoes one
// byte, or (when the first byte is 'S') sends size bytes and closes.
func benchTarget(b *testing.B, size int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	chunk := make([]byte, 1<<20)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				one := make([]byte, 1)
				if _, err := io.ReadFull(c, one); err != nil {
					return
				}
				if one[0] != 'S' {
					c.Write(one)
					return
				}
				for left := size; left > 0; left -= len(chunk) {
					if _, err := c.Write(chunk[:min(left, len(chunk))]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func benchProxy(b *testing.B) string {
	if p := os.Getenv("FWDPROXY_PEER"); p != "" {
		return p
	}
	mem, err := cache.NewMemory(cache.MemoryConfig{Budget: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(mem.Close)
	p, err := New(Config{Cache: mem, MaxConnsPerClient: -1, MaxTunnels: -1, Rules: []Rule{{Action: "allow", Ports: []string{"1-65535"},
		Private: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(ln)
	b.Cleanup(func() { p.Close() })
	return ln.Addr().String()
}

func openTunnel(proxy, target string) (net.Conn, *bufio.Reader, error) {
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReaderSize(c, 64<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if resp.StatusCode != 200 {
		c.Close()
		return nil, nil, fmt.Errorf("CONNECT: %s", resp.Status)
	}
	return c, br, nil
}

// BenchmarkConnectSetup opens a tunnel, exchanges one byte and closes it,
// from 16 goroutines.
func BenchmarkConnectSetup(b *testing.B) {
	target := benchTarget(b, 0)
	proxy := benchProxy(b)
	var mu sync.Mutex
	var firstErr error
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		one := make([]byte, 1)
		for pb.Next() {
			c, br, err := openTunnel(proxy, target)
			if err == nil {
				_, err = c.Write([]byte{'x'})
				if err == nil {
					_, err = io.ReadFull(br, one)
				}
				c.Close()
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}
	})
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

// BenchmarkTunnelThroughput downloads 256 MiB through one tunnel per
// iteration.
func BenchmarkTunnelThroughput(b *testing.B) {
	const size = 256 << 20
	target := benchTarget(b, size)
	proxy := benchProxy(b)
	b.SetBytes(size)
	buf := make([]byte, 1<<20)
	b.ResetTimer()
	for range b.N {
		c, br, err := openTunnel(proxy, target)
		if err != nil {
			b.Fatal(err)
		}
		c.Write([]byte{'S'})
		var n int64
		for {
			m, err := br.Read(buf)
			n += int64(m)
			if err != nil {
				break
			}
		}
		c.Close()
		if n != size {
			b.Fatalf("tunnel carried %d bytes, want %d", n, size)
		}
	}
}
