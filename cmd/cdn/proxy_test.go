package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProxyCmd runs cdn proxy with args and returns its listen address.
func startProxyCmd(t *testing.T, args ...string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() { done <- cmdProxy(ctx, args, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cdn proxy: %v", err)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := stderr.String()
		if i := strings.Index(s, "proxy listening on "); i >= 0 {
			rest := s[i+len("proxy listening on "):]
			return rest[:strings.IndexByte(rest, ' ')], &stdout
		}
		select {
		case err := <-done:
			t.Fatalf("cdn proxy exited: %v\n%s", err, s)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cdn proxy did not start:\n%s", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func proxyGet(t *testing.T, proxy, target string) (int, string) {
	t.Helper()
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy})}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Cache-Status")
}

func TestProxyCommandQuickMode(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("hi"))
	}))
	defer origin.Close()
	addr, stdout := startProxyCmd(t, "--listen", "127.0.0.1:0", "--allow-private", "127.0.0.0/8")
	if st, cs := proxyGet(t, addr, origin.URL+"/a"); st != 200 || !strings.Contains(cs, "stored") {
		t.Errorf("first: %d %q", st, cs)
	}
	waitForString(t, stdout, `"status":200`)
}

func TestProxyCommandClusterFile(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) }))
	defer origin.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cluster.yaml")
	logPath := filepath.Join(dir, "access.log")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
sites: [{host: a.com, origin: o}]
origins: {o: {servers: [{url: "http://127.0.0.1:1"}]}}
pops: [{name: p, location: {lat: 0, lon: 0}, edges: [{name: e, address: 127.0.0.1}]}]
proxies:
  nodes: [{name: proxy-1, address: 127.0.0.1}]
  port: %d
  access_log: %s
  rules:
    - {action: deny, hosts: [127.0.0.2], reason: "not that one"}
    - {action: allow, hosts: [127.0.0.1], private: [127.0.0.1]}
`, port, logPath)), 0o644)
	addr, _ := startProxyCmd(t, "--config", cfg, "--node", "proxy-1", "--admin", "127.0.0.1:0")
	if st, _ := proxyGet(t, addr, origin.URL+"/x"); st != 200 {
		t.Errorf("allowed origin: %d", st)
	}
	if st, _ := proxyGet(t, addr, "http://127.0.0.2:1/"); st != 403 {
		t.Errorf("denied origin: %d", st)
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), `"reason":"not that one"`) {
		t.Errorf("access log:\n%s", b)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"proxy", "--config", cfg, "--node", "e"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "not a proxy") {
		t.Errorf("edge node as proxy: exit %d: %s", code, errb.String())
	}
}

func waitForString(t *testing.T, b *lockedBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never appeared in:\n%s", s, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
