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

// TestRankCacheSpreads: consecutive /24s, a handful of IPv6 /48s and
// IPv4-mapped networks fill every shard about evenly.
func TestRankCacheSpreads(t *testing.T) {
	c := newRankCache(1 << 20)
	var keys []netip.Prefix
	for i := range 3200 {
		keys = append(keys, netip.PrefixFrom(netip.AddrFrom4([4]byte{81, byte(i >> 8), byte(i), 0}), 24))
	}
	for i := range 320 {
		keys = append(keys, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}), 48))
		keys = append(keys, netip.PrefixFrom(netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 13: byte(i)}), 120))
	}
	for _, k := range keys {
		c.put(k, ranking{0})
	}
	fair := len(keys) / cacheShards
	for i := range c.shards {
		if n := len(c.shards[i].m); n < fair/2 || n > fair*2 {
			t.Errorf("shard %d holds %d of %d entries (fair: %d)", i, n, len(keys), fair)
		}
	}
}
