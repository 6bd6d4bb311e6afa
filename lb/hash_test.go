package lb

import (
	"net/netip"
	"strings"
	"testing"
)

// XXH64 reference values (seed 0) from the xxHash project's test vectors;
// every process must compute exactly these for keys to map alike.
func TestHashStringXXH64Vectors(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999},
		{"a", 0xd24ec4f1a98c6e5b},
		{"abc", 0x44bc2cf5ad770999},
		{"Call me Ishmael. Some years ago--never mind how long precisely-", 0x02a2e85470d6fd96},
	}
	for _, tt := range tests {
		if got := HashString(tt.in); got != tt.want {
			t.Errorf("HashString(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
		if got := HashBytes([]byte(tt.in)); got != tt.want {
			t.Errorf("HashBytes(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

// Every input length exercises a different mix of the 32-byte stripes and
// the 8-, 4- and 1-byte tails; the hash of each prefix must differ from the
// others and not depend on what lies beyond the slice.
func TestHashStringLengths(t *testing.T) {
	s := strings.Repeat("0123456789abcdef", 8)
	seen := make(map[uint64]int)
	for n := 0; n <= len(s); n++ {
		h := HashString(s[:n])
		if m, dup := seen[h]; dup {
			t.Fatalf("prefixes of length %d and %d collide", m, n)
		}
		seen[h] = n
		if h != HashBytes([]byte(s[:n])) {
			t.Fatalf("HashBytes differs from HashString at length %d", n)
		}
	}
}

// Flipping one input bit must flip about half of the output bits
// (avalanche), or nearby keys would crowd onto the same backends.
func TestMix64Avalanche(t *testing.T) {
	total, samples := 0, 0
	for x := uint64(1); x < 1<<12; x += 7 {
		for bit := 0; bit < 64; bit += 3 {
			d := Mix64(x) ^ Mix64(x^1<<bit)
			for ; d != 0; d &= d - 1 {
				total++
			}
			samples++
		}
	}
	avg := float64(total) / float64(samples)
	if avg < 30 || avg > 34 {
		t.Fatalf("mean output bits flipped = %.2f, want about 32", avg)
	}
}

func TestHashIP(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	tests := []struct {
		name   string
		x, y   netip.Addr
		v4, v6 int
		same   bool
	}{
		{"mapped equals plain IPv4", a("::ffff:192.0.2.1"), a("192.0.2.1"), 32, 64, true},
		{"different IPv4 hosts", a("192.0.2.1"), a("192.0.2.2"), 32, 64, false},
		{"same /24 when hashing 24 bits", a("192.0.2.1"), a("192.0.2.200"), 24, 64, true},
		{"same IPv6 /64", a("2001:db8::1"), a("2001:db8::ffff:1"), 32, 64, true},
		{"different IPv6 /64", a("2001:db8:0:1::1"), a("2001:db8:0:2::1"), 32, 64, false},
		{"full IPv6 when hashing 128 bits", a("2001:db8::1"), a("2001:db8::2"), 32, 128, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hx, hy := hashIP(tt.x, tt.v4, tt.v6), hashIP(tt.y, tt.v4, tt.v6)
			if (hx == hy) != tt.same {
				t.Fatalf("hashIP(%v)=%#x, hashIP(%v)=%#x, want same=%v", tt.x, hx, tt.y, hy, tt.same)
			}
		})
	}
	if h := hashIP(netip.Addr{}, 32, 64); h != 0 {
		t.Fatalf("hashIP(invalid) = %#x, want 0", h)
	}
}

func TestRequestKeyHash(t *testing.T) {
	var nilReq *Request
	if nilReq.KeyHash() != HashString("") {
		t.Error("nil request must hash like the empty key")
	}
	if got := (&Request{Key: "k"}).KeyHash(); got != HashString("k") {
		t.Errorf("KeyHash = %#x, want HashString(k)", got)
	}
	if got := (&Request{Key: "k", Hash: 42}).KeyHash(); got != 42 {
		t.Errorf("KeyHash with Hash set = %d, want 42", got)
	}
}
