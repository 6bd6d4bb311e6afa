package quiclb

import (
	"bytes"
	"testing"
)

func TestGeneratorRoundTrip(t *testing.T) {
	cfg := Config{ConfigID: 2, ServerIDLen: 2, NonceLen: 8}
	g, err := NewGenerator(cfg, []byte{0xab, 0xcd})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 100 {
		id, err := g.GenerateConnectionID()
		if err != nil {
			t.Fatal(err)
		}
		b := id.Bytes()
		if len(b) != g.ConnectionIDLen() || len(b) != 11 {
			t.Fatalf("length %d", len(b))
		}
		if b[0] != 2<<5|10 {
			t.Fatalf("first octet %#x, want config 2 and self-encoded length 10", b[0])
		}
		sid, ok := cfg.ServerID(b)
		if !ok || !bytes.Equal(sid, []byte{0xab, 0xcd}) {
			t.Fatalf("ServerID(%x) = %x, %v", b, sid, ok)
		}
		if seen[string(b)] {
			t.Fatalf("connection ID %x issued twice", b)
		}
		seen[string(b)] = true
	}
	// Another configuration's IDs are not read as ours.
	other := Config{ConfigID: 3, ServerIDLen: 2, NonceLen: 8}
	id, _ := g.GenerateConnectionID()
	if _, ok := other.ServerID(id.Bytes()); ok {
		t.Fatal("config rotation bits ignored")
	}
	for _, bad := range []Config{{ConfigID: 7, ServerIDLen: 1, NonceLen: 4}, {ServerIDLen: 0, NonceLen: 4}, {ServerIDLen: 15, NonceLen: 18}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := NewGenerator(cfg, []byte{1}); err == nil {
		t.Error("short server ID accepted")
	}
}

func TestDestConnID(t *testing.T) {
	long := append([]byte{0xc0, 0, 0, 0, 1, 4, 1, 2, 3, 4, 8}, make([]byte, 20)...)
	if d, ok := DestConnID(long, 11); !ok || !bytes.Equal(d, []byte{1, 2, 3, 4}) {
		t.Fatalf("long header: %x %v", d, ok)
	}
	short := []byte{0x40, 9, 9, 9, 9, 7}
	if d, ok := DestConnID(short, 4); !ok || !bytes.Equal(d, []byte{9, 9, 9, 9}) {
		t.Fatalf("short header: %x %v", d, ok)
	}
	for _, p := range [][]byte{nil, {0xc0, 0, 0}, {0xc0, 0, 0, 0, 1, 21}, {0x00, 1, 2, 3, 4}, {0x40, 1}} {
		if _, ok := DestConnID(p, 4); ok {
			t.Errorf("DestConnID(%x) accepted", p)
		}
	}
}

func FuzzDestConnID(f *testing.F) {
	f.Add([]byte{0xc0, 0, 0, 0, 1, 4, 1, 2, 3, 4}, 4)
	f.Add([]byte{0x40, 1, 2, 3}, 8)
	f.Fuzz(func(t *testing.T, p []byte, n int) {
		if n < 0 || n > 20 {
			return
		}
		DestConnID(p, n)
	})
}
