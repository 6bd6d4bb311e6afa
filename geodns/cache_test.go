package geodns

import (
	"net/netip"
	"testing"
)

func TestRankCacheBounded(t *testing.T) {
	c := newRankCache(64)
	for i := range 1000 {
		key := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		c.put(key, ranking{uint16(i)})
		if r, ok := c.get(key); !ok || r[0] != uint16(i) {
			t.Fatalf("entry %d not found right after put", i)
		}
	}
	if n := c.len(); n > 64 {
		t.Errorf("%d entries, bound 64", n)
	}
}

// TestRankCacheKeysByNetwork: networks that share an address but not a
// length are different entries.
func TestRankCacheKeysByNetwork(t *testing.T) {
	c := newRankCache(1024)
	a := netip.MustParsePrefix("81.2.69.142/31")
	b := netip.MustParsePrefix("81.2.69.0/24")
	c.put(a, ranking{0})
	if _, ok := c.get(b); ok {
		t.Fatalf("%s found under %s", b, a)
	}
	c.put(b, ranking{1})
	if r, _ := c.get(a); r[0] != 0 {
		t.Errorf("%s = %v", a, r)
	}
}
