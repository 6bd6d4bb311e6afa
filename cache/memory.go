package cache

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// objectOverhead is what an object costs in memory beyond its body: the
// struct, the key and the header map, estimated.
const objectOverhead = 512

// Memory is the memory tier: a ristretto cache whose cost is bytes, so
// the budget bounds what objects use. Ristretto's admission policy
// (TinyLFU) keeps one-hit wonders from evicting hot objects.
//
// Ristretto applies a Set of a new key asynchronously and may drop it;
// that is safe here because a dropped Set is only a later miss, replacing
// an existing key is immediate, and Del is immediate. Purges do not rely on
// Del reaching every copy: the Store checks each object against its
// Invalidations before serving it.
type Memory struct {
	c         *ristretto.Cache[string, *Object]
	maxObject int64
	onEvict   func(o *Object)
	// live counts stored values: +1 for every Set ristretto takes, -1
	// for every value leaving it (evicted, expired, deleted, replaced or
	// rejected by admission), which ristretto reports exactly once each.
	live atomic.Int64
}

// MemoryConfig sizes a Memory tier.
type MemoryConfig struct {
	// Budget is the most bytes the tier holds. Required.
	Budget int64
	// MaxObject is the largest body kept; larger bodies are refused.
	// 0 means Budget/8.
	MaxObject int64
	// OnEvict, if non-nil, is called from ristretto's goroutine when an
	// object is evicted for room (not when deleted). It must not block.
	OnEvict func(o *Object)
}

// NewMemory returns a memory tier.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.Budget <= 0 {
		return nil, fmt.Errorf("memory tier: budget must be positive, got %d", cfg.Budget)
	}
	if cfg.MaxObject <= 0 {
		cfg.MaxObject = cfg.Budget / 8
	}
	// Ristretto wants ~10 counters per item it may hold; assume objects of
	// 4 KiB on average and stay within sane bounds.
	counters := cfg.Budget / 4096 * 10
	counters = max(counters, 100_000)
	counters = min(counters, 50_000_000)
	m := &Memory{maxObject: cfg.MaxObject, onEvict: cfg.OnEvict}
	rc, err := ristretto.NewCache(&ristretto.Config[string, *Object]{
		NumCounters:        counters,
		MaxCost:            cfg.Budget,
		BufferItems:        64,
		IgnoreInternalCost: true,
		Metrics:            true, // striped counters: hits and misses for the status page
		OnExit: func(o *Object) {
			if o != nil { // a Del of an absent key reports the zero value
				m.live.Add(-1)
			}
		},
		OnEvict: func(it *ristretto.Item[*Object]) {
			if m.onEvict != nil && it.Value != nil {
				m.onEvict(it.Value)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("memory tier: %w", err)
	}
	m.c = rc
	return m, nil
}

// Get returns the object stored under key.
func (m *Memory) Get(key string) (*Object, bool) {
	o, ok := m.c.Get(key)
	if !ok || o == nil || o.Key != key {
		return nil, false
	}
	return o, true
}

// Set stores o; it reports false if o is too large or was not admitted.
func (m *Memory) Set(o *Object) bool {
	if o.Size() > m.maxObject {
		m.c.Del(o.Key)
		return false
	}
	if !m.c.Set(o.Key, o, Cost(o)) {
		return false
	}
	m.live.Add(1)
	return true
}

// Len returns the number of objects in the tier. Values ristretto has
// not yet admitted or rejected count until it decides.
func (m *Memory) Len() int64 { return max(m.live.Load(), 0) }

// Lookups returns how many Gets found an object and how many did not.
func (m *Memory) Lookups() (hits, misses uint64) {
	return m.c.Metrics.Hits(), m.c.Metrics.Misses()
}

// Del removes key at once.
func (m *Memory) Del(key string) { m.c.Del(key) }

// Fits reports whether an object of size bytes may enter this tier.
func (m *Memory) Fits(size int64) bool { return size <= m.maxObject }

// Wait blocks until buffered Sets are applied (tests and benchmarks).
func (m *Memory) Wait() { m.c.Wait() }

// Used returns the bytes currently charged to the tier.
func (m *Memory) Used() int64 { return m.c.MaxCost() - m.c.RemainingCost() }

// Close stops the tier's goroutines.
func (m *Memory) Close() { m.c.Close() }

// Cost is what o is charged in the memory tier.
func Cost(o *Object) int64 {
	c := int64(objectOverhead + len(o.Key) + len(o.Primary))
	if _, inMemory := o.Body.(Bytes); inMemory {
		c += o.Size()
	}
	if h := o.Head(); h != nil {
		for k, vs := range h.Header {
			c += int64(len(k))
			for _, v := range vs {
				c += int64(len(v)) + 16
			}
		}
	}
	return c
}

// SetTTL stores o and drops it after ttl (markers, whose usefulness is
// bounded in time).
func (m *Memory) SetTTL(o *Object, ttl time.Duration) bool {
	if !m.c.SetWithTTL(o.Key, o, Cost(o), ttl) {
		return false
	}
	m.live.Add(1)
	return true
}
