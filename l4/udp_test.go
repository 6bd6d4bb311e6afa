package l4

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// udpClient is one client socket: one UDP flow.
type udpClient struct{ c *net.UDPConn }

func newUDPClient(t *testing.T, addr string) *udpClient {
	t.Helper()
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpClient{c: c}
}

// ask sends msg and returns the name of the backend that answered,
// retrying a few times since UDP may drop.
func (u *udpClient) ask(msg string) (string, error) {
	buf := make([]byte, 2048)
	var last error
	for range 5 {
		if _, err := u.c.Write([]byte(msg)); err != nil {
			return "", err
		}
		u.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := u.c.Read(buf)
		if err != nil {
			last = err
			continue
		}
		name, got, _ := strings.Cut(string(buf[:n]), " ")
		if got != msg {
			return "", fmt.Errorf("reply %q to %q", buf[:n], msg)
		}
		return name, nil
	}
	return "", fmt.Errorf("no reply to %q: %w", msg, last)
}

func mustAsk(t *testing.T, u *udpClient, msg string) string {
	t.Helper()
	name, err := u.ask(msg)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func TestUDPFlows(t *testing.T) {
	bs := startBackends(t, 4)
	r := startBalancer(t, testConfig(bs[:3]))
	// One socket is one flow: every datagram reaches one backend.
	u := newUDPClient(t, r.udp)
	first := mustAsk(t, u, "q0")
	for i := range 10 {
		if got := mustAsk(t, u, fmt.Sprintf("q%d", i)); got != first {
			t.Fatalf("datagram %d of one flow went to %s, the first to %s", i, got, first)
		}
	}
	// Many flows spread over every backend.
	seen := map[string]int{}
	var clients []*udpClient
	for i := range 60 {
		c := newUDPClient(t, r.udp)
		clients = append(clients, c)
		seen[mustAsk(t, c, fmt.Sprintf("hello-%d", i))]++
	}
	if len(seen) != 3 {
		t.Fatalf("60 UDP flows reached %v, want all 3 backends", seen)
	}
	// A membership change keeps every tracked flow where it is, including
	// flows of the backend that was removed.
	before := map[*udpClient]string{}
	for _, c := range clients {
		before[c] = mustAsk(t, c, "before")
	}
	if err := r.SetBackends(configs([]*testBackend{bs[1], bs[2], bs[3]})); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if got := mustAsk(t, c, "after"); got != before[c] {
			t.Fatalf("flow %d moved %s → %s on a membership change", i, before[c], got)
		}
	}
	// A failed backend's flows move; the others stay.
	r.backend("b1").lb.SetHealthy(false)
	movedN := 0
	for i, c := range clients {
		got := mustAsk(t, c, "failed")
		switch {
		case before[c] == "b1" && got == "b1":
			t.Fatalf("flow %d stayed on the failed backend", i)
		case before[c] != "b1" && got != before[c]:
			t.Fatalf("flow %d of healthy %s moved to %s", i, before[c], got)
		case before[c] == "b1":
			movedN++
		}
	}
	if got := int(value(r.metrics.moved)); got != movedN || movedN == 0 {
		t.Fatalf("cdn_l4_flows_moved_total = %d, want %d (> 0)", got, movedN)
	}
}

func TestUDPTableBoundAndIdle(t *testing.T) {
	bs := startBackends(t, 2)
	cfg := testConfig(bs)
	cfg.ConntrackSize = 2
	cfg.UDPIdleTimeout = 200 * time.Millisecond
	r := startBalancer(t, cfg)
	for i := range 3 {
		mustAsk(t, newUDPClient(t, r.udp), fmt.Sprint(i))
	}
	if got := value(r.metrics.evicted); got < 1 {
		t.Fatalf("evictions = %v with 3 flows in a table of 2", got)
	}
	if n := r.tracked.Load(); n > 2 {
		t.Fatalf("table holds %d flows, bound 2", n)
	}
	waitFor(t, "idle flows forgotten", func() bool { return r.tracked.Load() == 0 })
	if value(r.metrics.expired) < 1 {
		t.Fatal("idle expiry not counted")
	}
}
