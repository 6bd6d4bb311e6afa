package geodns

import (
	"net/netip"
	"sync"
)

// cacheShards spreads the client cache over independently locked maps so
// that concurrent queries rarely contend.
const cacheShards = 32

// rankCache remembers the PoP ranking per client network. It belongs to
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
	m  map[netip.Prefix]cacheEntry // guarded by mu
}

type cacheEntry struct {
	rank ranking
	bits uint8 // prefix length of the database network that decided
}

func newRankCache(size int) *rankCache {
	c := &rankCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[netip.Prefix]cacheEntry)
	}
	return c
}

func (c *rankCache) shard(key netip.Prefix) *cacheShard {
	a := key.Addr().As16()
	// The last significant bytes of the network vary most between clients.
	var h uint32
	if key.Addr().Is4() {
		h = uint32(a[13])*31 + uint32(a[14])
	} else {
		h = uint32(a[5])*31 + uint32(a[6])
	}
	return &c.shards[h%cacheShards]
}

func (c *rankCache) get(key netip.Prefix) (cacheEntry, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	return e, ok
}

func (c *rankCache) put(key netip.Prefix, e cacheEntry) {
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
