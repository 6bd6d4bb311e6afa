package edge

import (
	"sync"

	"github.com/selfcdn/cdn/cache"
)

// flightGroup collapses concurrent misses for one key into one upstream
// request (invariant 4). Unlike nginx's proxy_cache_lock there is no
// polling: waiters block on the flight's ready channel and then read the
// body as it arrives.
type flightGroup struct {
	mu sync.Mutex // guards m
	m  map[string]*flight
}

// flight is one upstream request that several clients wait on.
type flight struct {
	ready chan struct{} // closed once res is set
	res   flightResult

	mu   sync.Mutex // guards refs and last
	refs int        // joiners still using the result, plus the pump
	last func()     // run when refs drops to zero (releases a disk file)
}

// acquire adds a user of the flight's result.
func (f *flight) acquire() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

// release drops a user; the last one runs f.last.
func (f *flight) release() {
	f.mu.Lock()
	f.refs--
	var last func()
	if f.refs == 0 {
		last, f.last = f.last, nil
	}
	f.mu.Unlock()
	if last != nil {
		last()
	}
}

// onLast sets what runs when the last user releases the flight.
func (f *flight) onLast(fn func()) {
	f.mu.Lock()
	f.last = fn
	f.mu.Unlock()
}

type resultKind int

const (
	resObject resultKind = iota // obj (and fill while streaming) may be served to every waiter
	resPass                     // not shareable: each waiter goes upstream alone
	resError                    // upstream failed: status says how
)

type flightResult struct {
	kind resultKind
	// obj holds the head to serve; its body is complete, or fill streams it.
	obj  *cache.Object
	fill *fill
	// size is the body size, -1 while unknown.
	size int64
	// stored says the object was (or is being) stored.
	stored bool
	// fwdStatus is the upstream's status, for Cache-Status.
	fwdStatus int
	// varyValues are the leader's values of the Vary'd fields; a waiter
	// whose values differ cannot use obj.
	varyFields, varyValues []string
	// status is the HTTP status to answer with for resError.
	status int
	err    error
}

// join returns the flight for key, creating it if needed; leader is true
// for the caller that must perform it.
func (g *flightGroup) join(key string) (f *flight, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	if f, ok := g.m[key]; ok {
		f.acquire()
		return f, false
	}
	f = &flight{ready: make(chan struct{}), refs: 1}
	g.m[key] = f
	return f, true
}

// forget removes f if it is still the flight for key.
func (g *flightGroup) forget(key string, f *flight) {
	g.mu.Lock()
	if g.m[key] == f {
		delete(g.m, key)
	}
	g.mu.Unlock()
}

// publish sets the result and wakes the waiters.
func (f *flight) publish(r flightResult) {
	f.res = r
	close(f.ready)
}
