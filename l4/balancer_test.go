package l4

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/selfcdn/cdn/proxyproto"
)

func TestDistributionAndProxyHeader(t *testing.T) {
	bs := startBackends(t, 3)
	r := startBalancer(t, testConfig(bs))
	counts := map[string]int{}
	const n = 300
	for range n {
		s := mustDial(t, r.tcp, netip.AddrPort{})
		counts[s.backend]++
		// The backend's PROXY header names the client as the balancer saw it.
		if s.source != s.c.LocalAddr().String() {
			t.Fatalf("backend saw source %s, client is %s", s.source, s.c.LocalAddr())
		}
		s.c.Close()
	}
	t.Logf("flows per backend: %v", counts)
	for _, b := range bs {
		if c := counts[b.name]; c < n/3-n/6 || c > n/3+n/6 {
			t.Fatalf("backend %s got %d of %d flows, want about %d: %v", b.name, c, n, n/3, counts)
		}
	}
	if got := value(r.metrics.flows.WithLabelValues("tcp", "b0")); int(got) != counts["b0"] {
		t.Fatalf("cdn_l4_flows_total{b0} = %v, want %d", got, counts["b0"])
	}
	bs[0].mu.Lock()
	h := bs[0].hdrs[0]
	bs[0].mu.Unlock()
	if h.Version != 2 || h.Destination.String() != r.tcp {
		t.Fatalf("header %+v: want v2 with destination %s", h, r.tcp)
	}
}

func TestProxyProtocolV1AndOff(t *testing.T) {
	b1 := startBackend(t, "v1", true)
	cfg := testConfig([]*testBackend{b1})
	cfg.ProxyProtocol = ProxyV1
	r := startBalancer(t, cfg)
	s := mustDial(t, r.tcp, netip.AddrPort{})
	if s.source != s.c.LocalAddr().String() {
		t.Fatalf("v1: backend saw %s", s.source)
	}
	b1.mu.Lock()
	if v := b1.hdrs[0].Version; v != 1 {
		t.Fatalf("header version %d, want 1", v)
	}
	b1.mu.Unlock()

	off := startBackend(t, "off", false)
	cfg = testConfig([]*testBackend{off})
	cfg.ProxyProtocol = ProxyOff
	r = startBalancer(t, cfg)
	s = mustDial(t, r.tcp, netip.AddrPort{})
	s.c.Write([]byte("e"))
	if err := s.echo("PROXY-free"); err != nil || s.source != "-" {
		t.Fatalf("off: source %s, echo %v", s.source, err)
	}
}

// TestTwoInstancesAgree builds two balancers independently (backends
// listed in different orders, different listen addresses) and sends every
// flow, with the same client address and port, through both.
func TestTwoInstancesAgree(t *testing.T) {
	bs := startBackends(t, 4)
	cfgA := testConfig(bs)
	cfgB := testConfig(bs)
	cfgB.Listeners[0].Addr = "127.0.0.9:0"
	rev := configs(bs)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	cfgB.Backends = rev
	a, b := startBalancer(t, cfgA), startBalancer(t, cfgB)
	seen := map[string]bool{}
	for i := range 100 {
		src := netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("127.0.1.%d", 1+i%50)), 0)
		sa := mustDial(t, a.tcp, src)
		port := netip.MustParseAddrPort(sa.c.LocalAddr().String())
		sa.c.Close()
		sb := mustDial(t, b.tcp, port)
		sb.c.Close()
		if sa.backend != sb.backend {
			t.Fatalf("flow from %v: balancer A chose %s, B chose %s", port, sa.backend, sb.backend)
		}
		seen[sa.backend] = true
	}
	if len(seen) != 4 {
		t.Fatalf("flows used backends %v, want all 4", seen)
	}
}

// TestShareMovedWhenOneLeaves measures, over 20,000 flows, the share whose
// new-flow choice changes when one of N backends leaves (Maglev: about 1/N)
// and when it merely fails (exactly its own flows move).
func TestShareMovedWhenOneLeaves(t *testing.T) {
	for _, n := range []int{3, 5, 10} {
		var cfgs []BackendConfig
		for i := range n {
			cfgs = append(cfgs, BackendConfig{Name: fmt.Sprintf("b%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 10000+i)})
		}
		b, err := New(Config{Listeners: []ListenerConfig{{Network: "tcp", Addr: "127.0.0.1:0", Service: "web"}},
			Backends: cfgs, Health: HealthConfig{Type: "off"}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc := serviceHash("web", protoTCP)
		const flows = 20000
		choose := func(i int) string {
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
			be := b.pick(flowHash(src, svc), nil)
			be.lb.Release()
			return be.cfg.Name
		}
		before := make([]string, flows)
		for i := range before {
			before[i] = choose(i)
		}
		// Failure: the leaver's flows move, no other flow does.
		b.backend("b0").lb.SetHealthy(false)
		for i := range before {
			if got := choose(i); (got != before[i]) != (before[i] == "b0") {
				t.Fatalf("N=%d, b0 down: flow %d moved %s → %s", n, i, before[i], got)
			}
		}
		b.backend("b0").lb.SetHealthy(true)
		// Removal: the table is rebuilt; about 1/N move.
		if err := b.SetBackends(cfgs[1:]); err != nil {
			t.Fatal(err)
		}
		moved, others := 0, 0
		for i := range before {
			if got := choose(i); got != before[i] {
				moved++
				if before[i] != "b0" {
					others++
				}
			}
		}
		share := float64(moved) / flows
		t.Logf("N=%d: one leaves, %.2f%% of new-flow choices move (ideal %.2f%%), %.2f%% were the survivors'",
			n, 100*share, 100/float64(n), 100*float64(others)/flows)
		if share > 1/float64(n)+0.02 || share < 1/float64(n)-0.01 {
			t.Fatalf("N=%d: %.3f of flows moved, want about 1/N", n, share)
		}
	}
}

// TestEstablishedFlowsKept holds connections open while the backend set
// changes (one removed, one added) and checks every one keeps working on
// its backend, the removed backend's included.
func TestEstablishedFlowsKept(t *testing.T) {
	bs := startBackends(t, 4)
	cfg := testConfig(bs[:3])
	r := startBalancer(t, cfg)
	var ss []*session
	for range 30 {
		ss = append(ss, mustDial(t, r.tcp, netip.AddrPort{}))
	}
	for _, s := range ss {
		s.c.Write([]byte("e"))
	}
	if err := r.SetBackends(configs([]*testBackend{bs[1], bs[2], bs[3]})); err != nil {
		t.Fatal(err)
	}
	for i, s := range ss {
		if err := s.echo(fmt.Sprintf("after-change-%d", i)); err != nil {
			t.Fatalf("established flow %d on %s broke: %v", i, s.backend, err)
		}
	}
	// New flows avoid the removed backend and reach the added one.
	seen := map[string]bool{}
	for range 60 {
		s := mustDial(t, r.tcp, netip.AddrPort{})
		seen[s.backend] = true
		s.c.Close()
	}
	if seen["b0"] || !seen["b3"] {
		t.Fatalf("new flows went to %v, want b3 and not the removed b0", seen)
	}
}

func TestHalfClose(t *testing.T) {
	bs := startBackends(t, 1)
	r := startBalancer(t, testConfig(bs))
	// Client → backend: the client half-closes, the echo still comes back.
	s := mustDial(t, r.tcp, netip.AddrPort{})
	s.c.Write([]byte("ehello"))
	s.c.CloseWrite()
	rest, err := io.ReadAll(s.br)
	if err != nil || string(rest) != "hello" {
		t.Fatalf("after client half-close read %q, %v; want hello then EOF", rest, err)
	}
	// Backend → client: the backend half-closes first, the client sees EOF
	// and can still send.
	s = mustDial(t, r.tcp, netip.AddrPort{})
	s.c.Write([]byte("s"))
	if rest, err := io.ReadAll(s.br); err != nil || len(rest) != 0 {
		t.Fatalf("after backend half-close read %q, %v; want EOF", rest, err)
	}
	payload := strings.Repeat("x", 3<<20)
	if _, err := s.c.Write([]byte(payload)); err != nil {
		t.Fatalf("write after the backend's half-close: %v", err)
	}
	s.c.CloseWrite()
	select {
	case n := <-bs[0].sunk:
		if n != int64(len(payload)) {
			t.Fatalf("backend received %d bytes after its half-close, want %d", n, len(payload))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("backend never saw the client's EOF")
	}
	waitFor(t, "bytes counted", func() bool { return value(r.metrics.bytesUp) >= float64(len(payload)) })
}

func TestDrain(t *testing.T) {
	bs := startBackends(t, 3)
	r := startBalancer(t, testConfig(bs))
	// Find a flow on b1 and keep it open.
	var held *session
	for range 100 {
		s := mustDial(t, r.tcp, netip.AddrPort{})
		if s.backend == "b1" {
			held = s
			break
		}
		s.c.Close()
	}
	if held == nil {
		t.Fatal("no flow reached b1 in 100 tries")
	}
	held.c.Write([]byte("e"))
	done := make(chan int, 1)
	go func() {
		n, _ := r.Drain(context.Background(), "b1", time.Minute)
		done <- n
	}()
	waitFor(t, "draining", func() bool { return r.backend("b1").draining.Load() })
	for range 60 {
		s := mustDial(t, r.tcp, netip.AddrPort{})
		if s.backend == "b1" {
			t.Fatal("a new flow went to the draining backend")
		}
		s.c.Close()
	}
	if err := held.echo("still-here"); err != nil {
		t.Fatalf("flow on the draining backend broke: %v", err)
	}
	held.c.Close()
	select {
	case n := <-done:
		if n != 0 {
			t.Fatalf("drain closed %d flows, want 0 (the flow ended on its own)", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("drain did not finish after the last flow ended")
	}
	// With a short deadline, a flow still open is closed.
	r.Undrain("b1")
	for {
		s := mustDial(t, r.tcp, netip.AddrPort{})
		if s.backend == "b1" {
			held = s
			break
		}
		s.c.Close()
	}
	n, _ := r.Drain(context.Background(), "b1", 50*time.Millisecond)
	if n != 1 {
		t.Fatalf("drain deadline closed %d flows, want 1", n)
	}
	if _, err := io.ReadAll(held.br); err != nil {
		var ne net.Error
		if ok := asNetErr(err, &ne); ok && ne.Timeout() {
			t.Fatalf("flow was not closed at the drain deadline: %v", err)
		}
	}
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

func TestGracefulShutdown(t *testing.T) {
	bs := startBackends(t, 1)
	r := startBalancer(t, testConfig(bs))
	s := mustDial(t, r.tcp, netip.AddrPort{})
	s.c.Write([]byte("e"))
	r.cancel()
	waitFor(t, "listener closed", func() bool {
		c, err := net.DialTimeout("tcp", r.tcp, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if err := s.echo("during-shutdown"); err != nil {
		t.Fatalf("flow broke during graceful shutdown: %v", err)
	}
	select {
	case <-r.done:
		t.Fatal("Run returned while a flow was open")
	default:
	}
	s.c.Close()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
		r.done <- nil // for Cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the last flow ended")
	}
}

func TestLimits(t *testing.T) {
	bs := startBackends(t, 1)
	cfg := testConfig(bs)
	cfg.MaxConnsPerClient = 2
	r := startBalancer(t, cfg)
	a := mustDial(t, r.tcp, netip.AddrPort{})
	b := mustDial(t, r.tcp, netip.AddrPort{})
	if _, err := dial(t, r.tcp, netip.AddrPort{}); err == nil {
		t.Fatal("a third flow from one client was accepted with max_conns_per_client 2")
	}
	if got := value(r.metrics.refused.WithLabelValues("client_limit")); got != 1 {
		t.Fatalf("refused{client_limit} = %v, want 1", got)
	}
	// Another client address is not limited by this one.
	mustDial(t, r.tcp, netip.MustParseAddrPort("127.0.0.7:0"))
	a.c.Close()
	b.c.Close()
	waitFor(t, "flows released", func() bool { return r.tracked.Load() == 1 })

	cfg = testConfig(bs)
	cfg.MaxConnsPerBackend = 1
	r = startBalancer(t, cfg)
	mustDial(t, r.tcp, netip.AddrPort{})
	if _, err := dial(t, r.tcp, netip.AddrPort{}); err == nil {
		t.Fatal("a second flow to a backend at max_conns_per_backend 1 was accepted")
	}
	if got := value(r.metrics.refused.WithLabelValues("no_backend")); got != 1 {
		t.Fatalf("refused{no_backend} = %v, want 1", got)
	}
}

func TestPassiveEjectionAndFailover(t *testing.T) {
	bs := startBackends(t, 3)
	cfg := testConfig(bs)
	cfg.Passive.MaxFails = 1
	r := startBalancer(t, cfg)
	bs[2].stop() // connects to b2 now fail
	for range 60 {
		s := mustDial(t, r.tcp, netip.AddrPort{}) // failover: never an error
		if s.backend == "b2" {
			t.Fatal("flow reached the stopped backend")
		}
		s.c.Close()
	}
	if !r.backend("b2").lb.Ejected() {
		t.Fatal("b2 was not ejected after a connect failure")
	}
	if value(r.metrics.connectErrors.WithLabelValues("b2")) < 1 {
		t.Fatal("connect error not counted")
	}
}

func TestActiveTCPHealth(t *testing.T) {
	bs := startBackends(t, 2)
	cfg := testConfig(bs)
	cfg.Health = HealthConfig{Type: "tcp", Interval: 20 * time.Millisecond, Fall: 2, Rise: 2}
	cfg.Passive.MaxFails = -1
	r := startBalancer(t, cfg)
	bs[1].stop()
	waitFor(t, "b1 down", func() bool { return !r.backend("b1").lb.Healthy() })
	if !r.backend("b0").lb.Healthy() {
		t.Fatal("b0 went down too")
	}
}

// TestSmallThenBulk: a flow starts with short exchanges (copied through a
// buffer) and turns into a bulk transfer (spliced); every byte arrives in
// order either way, and both directions are counted.
func TestSmallThenBulk(t *testing.T) {
	bs := startBackends(t, 1)
	r := startBalancer(t, testConfig(bs))
	s := mustDial(t, r.tcp, netip.AddrPort{})
	if _, err := s.c.Write([]byte("e")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.echo(fmt.Sprintf("short message %d;", i)); err != nil {
			t.Fatal(err)
		}
	}
	bulk := make([]byte, 4<<20)
	for i := range bulk {
		bulk[i] = byte(i*7 + i>>12)
	}
	go s.c.Write(bulk)
	got := make([]byte, len(bulk))
	if _, err := io.ReadFull(s.br, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bulk) {
		t.Fatal("bulk bytes changed on the way")
	}
	s.c.CloseWrite() // counters move at the end of each splice round
	waitFor(t, "bytes counted both ways", func() bool {
		return value(r.metrics.bytesUp) >= float64(len(bulk)) && value(r.metrics.bytesDown) >= float64(len(bulk))
	})
}

// TestTCPIdleTimeout: a flow on which nothing moves either way is closed
// after the idle timeout and counted; one that keeps talking is not.
func TestTCPIdleTimeout(t *testing.T) {
	bs := startBackends(t, 1)
	cfg := testConfig(bs)
	cfg.TCPIdleTimeout = 300 * time.Millisecond
	r := startBalancer(t, cfg)
	busy := mustDial(t, r.tcp, netip.AddrPort{})
	busy.c.Write([]byte("e"))
	quiet := mustDial(t, r.tcp, netip.AddrPort{})
	quiet.c.Write([]byte("e"))
	for i := range 8 {
		if err := busy.echo(fmt.Sprintf("ping %d;", i)); err != nil {
			t.Fatalf("busy flow: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	quiet.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if rest, err := io.ReadAll(quiet.br); err != nil || len(rest) != 0 {
		t.Fatalf("idle flow: read %q, %v; want it closed", rest, err)
	}
	if err := busy.echo("still here"); err != nil {
		t.Fatalf("busy flow after the idle one closed: %v", err)
	}
	waitFor(t, "idle timeout counted", func() bool { return value(r.metrics.idleTimeouts) >= 1 })
}

// TestProxyHeaderWithClientFirstBytes: when the client speaks first (HTTP,
// TLS), the PROXY header and the client's first bytes reach the backend
// together and in order; when the server speaks first, the header goes
// alone after a moment (every other test's backend greets first).
func TestProxyHeaderWithClientFirstBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				h, err := proxyproto.Read(br)
				if err != nil {
					fmt.Fprintf(c, "no header: %v\n", err)
					return
				}
				line, _ := br.ReadString('\n')
				fmt.Fprintf(c, "%s said %s", h.Source, line)
			}()
		}
	}()
	cfg := Config{
		Listeners: []ListenerConfig{{Network: "tcp", Addr: "127.0.0.1:0", Service: "web"}},
		Backends:  []BackendConfig{{Name: "cf", Addr: ln.Addr().String()}},
		Health:    HealthConfig{Type: "off"},
	}
	r := startBalancer(t, cfg)
	for i := range 20 {
		c, err := net.Dial("tcp", r.tcp)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := fmt.Sprintf("GET /%d HTTP/1.1\n", i)
		c.Write([]byte(msg))
		got, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if want := c.LocalAddr().String() + " said " + msg; err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
}
