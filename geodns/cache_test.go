package geodns

import (
	"net/netip"
	"testing"
)

func TestRankCacheBounded(t *testing.T) {
	c := newRankCache(64)
	for i := range 1000 {
		key := cacheKey(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 7}), 32))
		c.put(key, cacheEntry{rank: ranking{1}, bits: 24})
		if e, ok := c.get(key); !ok || e.bits != 24 {
			t.Fatalf("entry %d not found right after put", i)
		}
	}
	if n := c.len(); n > 64 {
		t.Errorf("%d entries, bound 64", n)
	}
}

func TestCacheKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"81.2.69.142/32", "81.2.69.0/24"},
		{"81.2.69.0/24", "81.2.69.0/24"},
		{"81.2.0.0/16", "81.2.0.0/16"},
		{"2001:db8:1:2:3::1/128", "2001:db8:1::/56"},
		{"2001:db8::/32", "2001:db8::/32"},
	}
	for _, tc := range tests {
		if got := cacheKey(netip.MustParsePrefix(tc.in)); got != netip.MustParsePrefix(tc.want) {
			t.Errorf("cacheKey(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
