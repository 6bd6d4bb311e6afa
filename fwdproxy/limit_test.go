package fwdproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestConnectionsPerClientLimit(t *testing.T) {
	h := startProxy(t, Config{MaxConnsPerClient: 2})
	var conns []net.Conn
	for i := range 2 {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A full exchange proves the connection was accepted and served.
		fmt.Fprintf(c, "GET /proxy.pac HTTP/1.1\r\nHost: %s\r\n\r\n", h.addr)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("third connection was served (%d bytes)", n)
	}
	// Closing one frees its slot.
	conns[0].Close()
	waitFor(t, "a freed slot", func() bool {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			return false
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /proxy.pac HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		return err == nil && resp.StatusCode == 200
	})
}

func TestTunnelLimitAndIdleTimeout(t *testing.T) {
	port := digestServer(t)
	h := startProxy(t, Config{Rules: []Rule{allowLoopback(fmt.Sprint(port))}, MaxTunnels: 1, TunnelIdleTimeout: 300 * time.Millisecond})
	target := fmt.Sprintf("127.0.0.1:%d", port)
	start := time.Now() // before the proxy arms the tunnel's idle deadline
	c, br, st := connect(t, h.addr, target)
	if st != 200 {
		t.Fatalf("first tunnel: %d", st)
	}
	if _, _, st := connect(t, h.addr, target); st != http.StatusServiceUnavailable {
		t.Errorf("second tunnel with max 1: %d, want 503", st)
	}
	// Nothing is sent: the proxy closes the idle tunnel, the client sees EOF.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(br); err != nil {
		t.Fatalf("idle tunnel was not closed: %v", err)
	}
	if d := time.Since(start); d < 290*time.Millisecond {
		t.Errorf("tunnel closed after %v, before its idle timeout", d)
	}
	waitFor(t, "the tunnel slot", func() bool { return h.p.tunnels.Load() == 0 })
	if _, _, st := connect(t, h.addr, target); st != 200 {
		t.Errorf("tunnel after the idle one closed: %d", st)
	}
}

func TestReloadRules(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	h := startProxy(t, Config{Rules: []Rule{{Action: "deny", Reason: "closed for maintenance"}}})
	u := fmt.Sprintf("http://127.0.0.1:%d/", o.port)
	if st, _, _ := get(t, h.client(t, "", ""), u); st != 403 {
		t.Fatalf("before reload: %d", st)
	}
	if err := h.p.Reload([]Rule{{Action: "sometimes"}}, nil); err == nil {
		t.Fatal("a bad rule set was accepted")
	}
	if st, _, _ := get(t, h.client(t, "", ""), u); st != 403 {
		t.Fatalf("a failed reload changed the rules: %d", st)
	}
	if err := h.p.Reload([]Rule{allowLoopback()}, nil); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := get(t, h.client(t, "", ""), u); st != 200 {
		t.Fatalf("after reload: %d", st)
	}
}
