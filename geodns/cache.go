package geodns

import (
	"encoding/binary"
	"net/netip"
	"sync"
)

// cacheShards spreads the client cache over independently locked maps so
// that concurrent queries rarely contend.
const cacheShards = 32

// rankCache remembers the PoP ranking per database network (the network
// of the GeoIP database that holds the client, so every address in it has
// the same record). It belongs to
// one snapshot, so a reload starts it empty; health changes do not touch
// it because it holds preference orders, not health-dependent choices.
// Eviction is random (Go map order) once a shard is full: cheap, and fair
// enough for a working set that mostly fits.
type rankCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[netip.Prefix]ranking // guarded by mu
}

func newRankCache(size int) *rankCache {
	c := &rankCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[netip.Prefix]ranking)
	}
	return c
}

func (c *rankCache) shard(key netip.Prefix) *cacheShard {
	// Both halves of the address and the length, mixed by multiplying
	// with the 64-bit golden ratio; the high bits, which depend on every
	// input bit, are folded onto the low ones that pick the shard.
	a := key.Addr().As16()
	h := binary.LittleEndian.Uint64(a[:8])*0x9E3779B97F4A7C15 ^ binary.LittleEndian.Uint64(a[8:]) ^ uint64(key.Bits())
	h *= 0x9E3779B97F4A7C15
	h ^= h >> 32
	h ^= h >> 16
	return &c.shards[h%cacheShards]
}

func (c *rankCache) get(key netip.Prefix) (ranking, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	return e, ok
}

func (c *rankCache) put(key netip.Prefix, e ranking) {
	s := c.shard(key)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[key] = e
	s.mu.Unlock()
}

func (c *rankCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
