package proxyproto

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// trustedIP is the loopback address the tests dial from to be trusted.
var trustedIP = netip.MustParseAddr("127.0.0.2")

func newTestListener(t *testing.T, timeout time.Duration) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, ListenerConfig{
		Trusted:       func(a netip.Addr) bool { return a == trustedIP },
		HeaderTimeout: timeout,
	})
	t.Cleanup(func() { l.Close() })
	return l
}

// dialFrom connects to l from the loopback address src.
func dialFrom(t *testing.T, l net.Listener, src string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

type acceptResult struct {
	c   net.Conn
	err error
}

// acceptWithin accepts one connection or fails the test after d.
func acceptWithin(t *testing.T, l net.Listener, d time.Duration) net.Conn {
	t.Helper()
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.Accept()
		ch <- acceptResult{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(d):
		t.Fatalf("Accept did not return within %v", d)
	}
	return nil
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

func TestListenerTrustedHeaders(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, h := range []*Header{
		{Version: 1, Command: Proxy, Transport: TCP, Source: ap("203.0.113.7:4242"), Destination: ap("198.51.100.1:443")},
		{Version: 2, Command: Proxy, Transport: TCP, Source: ap("[2001:db8::7]:4242"), Destination: ap("[2001:db8::1]:443")},
	} {
		l := newTestListener(t, 10*time.Second)
		c := dialFrom(t, l, trustedIP.String())
		b, _ := h.Append(nil)
		if _, err := c.Write(append(b, "hello"...)); err != nil {
			t.Fatal(err)
		}
		sc := acceptWithin(t, l, 20*time.Second)
		if got := sc.RemoteAddr().String(); got != h.Source.String() {
			t.Fatalf("v%d: RemoteAddr = %s, want %s", h.Version, got, h.Source)
		}
		if got := sc.LocalAddr().String(); got != h.Destination.String() {
			t.Fatalf("v%d: LocalAddr = %s, want %s", h.Version, got, h.Destination)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("v%d: read %q, %v; want hello", h.Version, buf, err)
		}
		if got := sc.(*Conn).Header(); got.Version != h.Version {
			t.Fatalf("Header().Version = %d", got.Version)
		}
		if s := l.Stats(); s.Proxied != 1 {
			t.Fatalf("Stats = %+v, want one proxied", s)
		}
	}
}

func TestListenerLocalKeepsPeer(t *testing.T) {
	l := newTestListener(t, 10*time.Second)
	c := dialFrom(t, l, trustedIP.String())
	b, _ := (&Header{Version: 2, Command: Local}).Append(nil)
	c.Write(b)
	sc := acceptWithin(t, l, 20*time.Second)
	if got, want := sc.RemoteAddr().String(), c.LocalAddr().String(); got != want {
		t.Fatalf("LOCAL: RemoteAddr = %s, want the real peer %s", got, want)
	}
}

// expectClosed checks that the server closed c without sending anything.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil {
		t.Fatalf("read %d bytes, err %v; want the connection closed", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection was not closed: %v", err)
	}
}

func TestListenerRefusals(t *testing.T) {
	hdr, _ := (&Header{Version: 2, Command: Proxy, Transport: TCP,
		Source: netip.MustParseAddrPort("1.2.3.4:5"), Destination: netip.MustParseAddrPort("6.7.8.9:10")}).Append(nil)
	tests := []struct {
		name string
		src  string
		send []byte
	}{
		{"trusted without header", trustedIP.String(), []byte("GET / HTTP/1.1\r\n\r\n")},
		{"trusted with a bad header", trustedIP.String(), []byte("PROXY TCP4 1.2.3.4\r\n")},
		{"untrusted v2", "127.0.0.1", hdr},
		{"untrusted v1", "127.0.0.1", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestListener(t, 10*time.Second)
			c := dialFrom(t, l, tc.src)
			c.Write(tc.send)
			expectClosed(t, c)
			waitFor(t, "refused count", func() bool { return l.Stats().Refused == 1 })
		})
	}
	t.Run("trusted silent times out", func(t *testing.T) {
		l := newTestListener(t, 100*time.Millisecond)
		c := dialFrom(t, l, trustedIP.String())
		expectClosed(t, c)
	})
}

func TestListenerUntrustedPassesThrough(t *testing.T) {
	l := newTestListener(t, 10*time.Second)
	c := dialFrom(t, l, "127.0.0.1")
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	sc := acceptWithin(t, l, 20*time.Second)
	if got, want := sc.RemoteAddr().String(), c.LocalAddr().String(); got != want {
		t.Fatalf("RemoteAddr = %s, want %s", got, want)
	}
	line, err := bufio.NewReader(sc).ReadString('\n')
	if err != nil || line != "GET / HTTP/1.1\r\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	// A client that sends nothing (server speaks first) is passed through
	// once the header timeout tells it is not sending a header.
	l2 := newTestListener(t, 100*time.Millisecond)
	c2 := dialFrom(t, l2, "127.0.0.1")
	sc2 := acceptWithin(t, l2, 20*time.Second)
	sc2.Write([]byte("220 hello\r\n"))
	line, err = bufio.NewReader(c2).ReadString('\n')
	if err != nil || line != "220 hello\r\n" {
		t.Fatalf("server-first read %q, %v", line, err)
	}
	if s := l2.Stats(); s.Passed != 1 {
		t.Fatalf("Stats = %+v, want one passed", s)
	}
}

// TestListenerSlowClientDoesNotBlockAccept holds one trusted connection
// silent for longer than the test waits, and requires a second one to be
// accepted meanwhile.
func TestListenerSlowClientDoesNotBlockAccept(t *testing.T) {
	l := newTestListener(t, 5*time.Minute)
	slow := dialFrom(t, l, trustedIP.String())
	slow.Write([]byte("PROX")) // a partial signature, then nothing
	fast := dialFrom(t, l, trustedIP.String())
	b, _ := (&Header{Version: 1, Command: Proxy, Transport: TCP,
		Source: netip.MustParseAddrPort("203.0.113.9:1"), Destination: netip.MustParseAddrPort("198.51.100.1:2")}).Append(nil)
	fast.Write(b)
	sc := acceptWithin(t, l, 30*time.Second)
	if got := sc.RemoteAddr().String(); got != "203.0.113.9:1" {
		t.Fatalf("accepted %s, want the fast client", got)
	}
}

func TestListenerClose(t *testing.T) {
	l := newTestListener(t, time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}
