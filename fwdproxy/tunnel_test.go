package fwdproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

func payload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func TestConnectTunnelToTLSOrigin(t *testing.T) {
	body := payload(3 << 20)
	want := sha256.Sum256(body)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	t.Cleanup(srv.Close)
	port := netip.MustParseAddrPort(srv.Listener.Addr().String()).Port()
	h := startProxy(t, Config{Rules: []Rule{allowLoopback(fmt.Sprint(port))}})
	h.res.set("origin.test", "127.0.0.1")

	pu := *h.url
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(&pu)
	tr.TLSClientConfig.ServerName = "example.com" // httptest's certificate names example.com
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	resp, err := c.Get(fmt.Sprintf("https://origin.test:%d/big", port))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != want {
		t.Fatalf("tunnelled body: %d bytes, digest differs", len(got))
	}
}

// digestServer reads until EOF, then answers the hex SHA-256 of what it
// read and closes: it needs the client's half-close to answer at all.
func digestServer(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h := sha256.New()
				io.Copy(h, c)
				io.WriteString(c, hex.EncodeToString(h.Sum(nil)))
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()).Port()
}

func TestConnectHalfClose(t *testing.T) {
	port := digestServer(t)
	h := startProxy(t, Config{Rules: []Rule{allowLoopback(fmt.Sprint(port))}})
	c, br, st := connect(t, h.addr, fmt.Sprintf("127.0.0.1:%d", port))
	if st != 200 {
		t.Fatalf("CONNECT: %d", st)
	}
	data := payload(1 << 20)
	sum := sha256.Sum256(data)
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest through the half-closed tunnel = %q", got)
	}
	waitFor(t, "the access log entry", func() bool { return bytes.Contains([]byte(h.log.String()), []byte(`"method":"CONNECT"`)) })
}

func TestConnectOverHTTP2(t *testing.T) {
	port := digestServer(t)
	h := startProxy(t, Config{Rules: []Rule{allowLoopback(fmt.Sprint(port))}})
	// x/net's http2.Transport is the client that sends an HTTP/2 CONNECT
	// over h2c with a streaming body; net/http's Transport treats CONNECT
	// as a proxy tunnel request of its own.
	//lint:ignore SA1019 see above
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	pr, pw := io.Pipe()
	req := &http.Request{Method: "CONNECT", URL: &url.URL{Scheme: "http", Host: h.addr}, Host: fmt.Sprintf("127.0.0.1:%d", port),
		Header: http.Header{}, Body: pr, ContentLength: -1}
	req.URL.Host = h.addr
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req = req.WithContext(ctx)
	data := payload(256 << 10)
	sum := sha256.Sum256(data)
	go func() {
		pw.Write(data)
		pw.Close() // END_STREAM: the proxy half-closes toward the server
	}()
	resp, err := tr.RoundTrip(req) //lint:ignore SA1019 see the transport above
	if err != nil {
		t.Fatalf("HTTP/2 CONNECT: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP/2 CONNECT: %d", resp.StatusCode)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest through the HTTP/2 tunnel = %q", got)
	}
}
