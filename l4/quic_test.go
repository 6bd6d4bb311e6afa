package l4

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/selfcdn/cdn/quiclb"
)

// shortPacket is a QUIC short-header packet to the connection ID cid.
func shortPacket(cid []byte, i int) string {
	return string(append(append([]byte{0x40}, cid...), fmt.Sprintf("pn%d", i)...))
}

// TestQUICConnectionIDRouting: packets whose destination connection ID
// carries a backend's QUIC-LB server ID reach that backend from any source
// port (a migrating or rebound client), and fall back to the flow hash
// when that backend is down.
func TestQUICConnectionIDRouting(t *testing.T) {
	bs := startBackends(t, 3)
	qc := quiclb.Config{ConfigID: 1, ServerIDLen: 1, NonceLen: 6}
	cfg := testConfig(bs)
	cfg.QUICLB = &qc
	for i := range cfg.Backends {
		cfg.Backends[i].ServerID = fmt.Sprintf("%02x", i+1)
	}
	r := startBalancer(t, cfg)

	// A client's Initial carries a connection ID of its own choosing:
	// routed by the flow hash.
	u := newUDPClient(t, r.udp)
	initial := make([]byte, 1+4+1+8)
	initial[0], initial[4], initial[5] = 0xc0, 1, 8
	rand.Read(initial[6:])
	first := mustAsk(t, u, string(initial))

	// The server that answered issued connection IDs with its server ID;
	// pick another backend's to show the ID wins over the hash.
	var target int
	for i, b := range bs {
		if b.name != first {
			target = i
			break
		}
	}
	gen, err := quiclb.NewGenerator(qc, []byte{byte(target + 1)})
	if err != nil {
		t.Fatal(err)
	}
	cid, _ := gen.GenerateConnectionID()
	if got := mustAsk(t, u, shortPacket(cid.Bytes(), 0)); got != bs[target].name {
		t.Fatalf("short header for server ID %d reached %s, want %s", target+1, got, bs[target].name)
	}
	// Migration: 20 new source ports, one connection ID, one backend.
	for i := range 20 {
		m := newUDPClient(t, r.udp)
		if got := mustAsk(t, m, shortPacket(cid.Bytes(), i+1)); got != bs[target].name {
			t.Fatalf("after migration %d the flow reached %s, want %s", i, got, bs[target].name)
		}
	}
	if n := value(r.metrics.quicRouted); n < 20 {
		t.Fatalf("cdn_l4_quic_cid_routed_total = %v, want ≥ 20", n)
	}
	// A failed server's connection IDs fall back to the hash.
	r.backend(bs[target].name).lb.SetHealthy(false)
	for i := range 10 {
		m := newUDPClient(t, r.udp)
		if got := mustAsk(t, m, shortPacket(cid.Bytes(), 100+i)); got == bs[target].name {
			t.Fatal("packet reached the failed backend")
		}
	}
}
