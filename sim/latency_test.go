package sim

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/selfcdn/cdn/config"
)

func TestOneWayDelay(t *testing.T) {
	ashburn := config.Location{Lat: 39.04, Lon: -77.49}
	frankfurt := config.Location{Lat: 50.11, Lon: 8.68}
	singapore := config.Location{Lat: 1.35, Lon: 103.82}
	tests := []struct {
		name   string
		a, b   config.Location
		rtt    time.Duration
		lo, hi time.Duration
	}{
		{"same place", ashburn, ashburn, 20 * time.Millisecond, 0, 0},
		// Ashburn–Frankfurt is about 6,600 km: 20ms RTT per 1000 km is
		// about 132ms RTT, 66ms one way.
		{"transatlantic", ashburn, frankfurt, 20 * time.Millisecond, 64 * time.Millisecond, 68 * time.Millisecond},
		// Frankfurt–Singapore is about 10,260 km.
		{"eurasia", frankfurt, singapore, 20 * time.Millisecond, 101 * time.Millisecond, 105 * time.Millisecond},
		{"no latency", ashburn, singapore, 0, 0, 0},
	}
	for _, tt := range tests {
		got := OneWayDelay(tt.a, tt.b, tt.rtt)
		if got < tt.lo || got > tt.hi {
			t.Errorf("%s: %s, want within [%s, %s]", tt.name, got, tt.lo, tt.hi)
		}
		if back := OneWayDelay(tt.b, tt.a, tt.rtt); back != got {
			t.Errorf("%s: not symmetric: %s and %s", tt.name, got, back)
		}
	}
}

// echoServer accepts on 127.0.0.1:0 and echoes every connection.
func echoServer(t *testing.T) net.Listener {
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
				io.Copy(c, c)
			}()
		}
	}()
	return ln
}

// TestRelayDelaysAndKeepsBytes: every byte arrives, in order, and a round
// trip takes at least twice the one-way delay (plus the handshake's round
// trip on the first bytes).
func TestRelayDelaysAndKeepsBytes(t *testing.T) {
	ln := echoServer(t)
	const d = 30 * time.Millisecond
	r, err := newRelay("127.0.0.1", ln.Addr().String(), d, "a", "b", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, many chunks
	start := time.Now()
	errc := make(chan error, 1)
	go func() { _, err := c.Write(payload); errc <- err }()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back through the relay: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 4*d {
		t.Errorf("first round trip took %s, want at least %s (handshake and one round trip)", elapsed, 4*d)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("bytes changed through the relay")
	}
	start = time.Now()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got[:1]); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 2*d {
		t.Errorf("later round trip took %s, want at least %s", elapsed, 2*d)
	}
}

// TestRelayUpstreamDown: with nothing listening upstream, the client's
// connection is closed, as a refused connection would be.
func TestRelayUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	r, err := newRelay("127.0.0.1", target, time.Millisecond, "a", "b", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		return // reset before the handshake finished: closed as well
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read succeeded; want the connection closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection left open; want it closed")
	}
}

// TestSimulationWithLinkDelay: through delayed links every object still
// arrives whole, a miss pays the links' round trips, and a hit does not
// touch them.
func TestSimulationWithLinkDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole CDN; skipped with -short")
	}
	const d = 25 * time.Millisecond
	s := startTestSim(t, func(o *Options) {
		o.LinkDelay = func(from, to string) time.Duration { return d }
	})
	us := s.Regions()[0]
	edge := s.Cluster().PoPs[0].Edges[0].Address
	start := time.Now()
	fetchFrom(t, s, us.ClientAddr(), edge, "/gen/delayed?size=100000&cc=public,max-age=300")
	// At least one round trip edge→shield and one shield→origin.
	if elapsed := time.Since(start); elapsed < 4*d {
		t.Errorf("miss through two delayed links took %s, want at least %s", elapsed, 4*d)
	}
	resp := fetchFrom(t, s, us.ClientAddr(), edge, "/gen/delayed?size=100000&cc=public,max-age=300")
	if cs := resp.Header.Get("Cache-Status"); !bytes.Contains([]byte(cs), []byte("hit")) {
		t.Errorf("second fetch Cache-Status %q, want a hit", cs)
	}
	// The origin's own address is not delayed: stats are read directly.
	r, err := http.Get(s.Endpoints().Origin + "/_origin/stats")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
}
