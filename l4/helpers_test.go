package l4

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/selfcdn/cdn/proxyproto"
)

// testBackend is a real TCP (and UDP) server on loopback. Each TCP
// connection starts with a PROXY header unless proxy is false; the server
// answers "name source\n" (source from the header, or "-") and then reads
// one command byte: 'e' echoes until EOF and half-closes; 's' half-closes
// at once and then counts what the client still sends, reported on sunk.
type testBackend struct {
	name  string
	ln    net.Listener
	udp   net.PacketConn
	proxy bool
	sunk  chan int64

	mu    sync.Mutex
	conns map[net.Conn]bool
	hdrs  []*proxyproto.Header
}

func startBackend(t *testing.T, name string, proxy bool) *testBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBackend{name: name, ln: ln, udp: pc, proxy: proxy, sunk: make(chan int64, 100), conns: map[net.Conn]bool{}}
	go tb.serve()
	go tb.serveUDP()
	t.Cleanup(tb.stop)
	return tb
}

func (tb *testBackend) stop() {
	tb.ln.Close()
	tb.udp.Close()
	tb.mu.Lock()
	for c := range tb.conns {
		c.Close()
	}
	tb.mu.Unlock()
}

func (tb *testBackend) serve() {
	for {
		c, err := tb.ln.Accept()
		if err != nil {
			return
		}
		tb.mu.Lock()
		tb.conns[c] = true
		tb.mu.Unlock()
		go tb.handle(c)
	}
}

func (tb *testBackend) handle(c net.Conn) {
	defer func() {
		c.Close()
		tb.mu.Lock()
		delete(tb.conns, c)
		tb.mu.Unlock()
	}()
	br := bufio.NewReader(c)
	src := "-"
	if tb.proxy {
		h, err := proxyproto.Read(br)
		if err != nil {
			return
		}
		tb.mu.Lock()
		tb.hdrs = append(tb.hdrs, h)
		tb.mu.Unlock()
		if h.HasAddrs() {
			src = h.Source.String()
		}
	}
	fmt.Fprintf(c, "%s %s\n", tb.name, src)
	cmd, err := br.ReadByte()
	if err != nil {
		return
	}
	switch cmd {
	case 'e':
		io.Copy(c, br)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, br)
	case 's':
		c.(*net.TCPConn).CloseWrite()
		n, _ := io.Copy(io.Discard, br)
		tb.sunk <- n
	}
}

func (tb *testBackend) serveUDP() {
	buf := make([]byte, 2048)
	for {
		n, a, err := tb.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		tb.udp.WriteTo([]byte(tb.name+" "+string(buf[:n])), a)
	}
}

func (tb *testBackend) config() BackendConfig {
	return BackendConfig{Name: tb.name, Addr: tb.ln.Addr().String(), UDPAddr: tb.udp.LocalAddr().String()}
}

func startBackends(t *testing.T, n int) []*testBackend {
	var out []*testBackend
	for i := range n {
		out = append(out, startBackend(t, fmt.Sprintf("b%d", i), true))
	}
	return out
}

func configs(bs []*testBackend) []BackendConfig {
	var out []BackendConfig
	for _, b := range bs {
		out = append(out, b.config())
	}
	return out
}

// testConfig is a balancer on 127.0.0.1:0, TCP and UDP, for backends.
func testConfig(bs []*testBackend) Config {
	return Config{
		Listeners: []ListenerConfig{
			{Network: "tcp", Addr: "127.0.0.1:0", Service: "web"},
			{Network: "udp", Addr: "127.0.0.1:0", Service: "web"},
		},
		Backends: configs(bs),
		Health:   HealthConfig{Type: "off"},
	}
}

type running struct {
	*Balancer
	tcp, udp string
	reg      *prometheus.Registry
	cancel   context.CancelFunc
	done     chan error
}

func startBalancer(t *testing.T, cfg Config) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	b, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Balancer: b, reg: reg, cancel: cancel, done: make(chan error, 1)}
	tcp, udp := b.Addrs()
	if len(tcp) > 0 {
		r.tcp = tcp[0].String()
	}
	if len(udp) > 0 {
		r.udp = udp[0].String()
	}
	go func() { r.done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(60 * time.Second):
			t.Error("balancer did not stop")
		}
	})
	return r
}

// reuseAddr lets a client bind a port still in TIME_WAIT, so a test can
// send a flow with the same source address and port twice.
func reuseAddr(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// session is one client connection through the balancer.
type session struct {
	c       *net.TCPConn
	br      *bufio.Reader
	backend string
	source  string
}

// dial connects through addr from src (port 0: any) and reads the greeting.
func dial(t *testing.T, addr string, src netip.AddrPort) (*session, error) {
	d := net.Dialer{Timeout: 10 * time.Second, Control: reuseAddr}
	if src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(src)
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	s := &session{c: c.(*net.TCPConn), br: bufio.NewReader(c)}
	line, err := s.br.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read greeting: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		c.Close()
		return nil, fmt.Errorf("bad greeting %q", line)
	}
	s.backend, s.source = f[0], f[1]
	return s, nil
}

func mustDial(t *testing.T, addr string, src netip.AddrPort) *session {
	t.Helper()
	s, err := dial(t, addr, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.c.Close() })
	return s
}

// echo sends msg in echo mode and checks it comes back (the session stays
// open for more).
func (s *session) echo(msg string) error {
	if _, err := s.c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(s.br, buf); err != nil {
		return fmt.Errorf("echo of %q: %w", msg, err)
	}
	if string(buf) != msg {
		return fmt.Errorf("echo: got %q, want %q", buf, msg)
	}
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
