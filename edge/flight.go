package edge

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/httpcache"
)

// flightGroup collapses concurrent misses for one key into one upstream
// request (invariant 4). There is no polling: waiters block on the
// flight's ready channel and then read the body as it arrives.
type flightGroup struct {
	mu sync.Mutex // guards m
	m  map[string]*flight
}

// flight is one upstream fetch and everything that depends on it. It owns
// the upstream response: lead, the one goroutine that performs it, closes
// the upstream body when the pump ends. Clients hold references; when the
// last client is gone and nothing worth finishing is being stored, the
// fetch is cancelled, and when the pump is done too the fill's disk entry
// is released.
type flight struct {
	ready chan struct{} // closed once res is set
	res   flightResult

	ctx    context.Context // the fetch's context: node lifetime, FetchTimeout
	cancel context.CancelFunc

	// early carries informational (1xx) responses from upstream to the
	// leader, the one client waiting in front of this fetch's request
	// (RFC 9110 §15.2: forwarded, never stored). Dropped when full.
	early chan informational

	mu      sync.Mutex // guards users, pumping, dropped
	users   int        // clients (and background revalidations) holding the flight
	pumping bool       // lead is still running
	dropped bool       // the fetch was cancelled for want of users
}

func newFlight(parent context.Context, s *Proxy) *flight {
	f := &flight{ready: make(chan struct{}), users: 1, pumping: true, early: make(chan informational, 4)}
	ctx, cancel := context.WithTimeout(parent, s.cfg.FetchTimeout)
	f.ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == http.StatusContinue || code == http.StatusSwitchingProtocols {
				return nil // hop by hop: request bodies and upgrades
			}
			select {
			case f.early <- informational{code, h}:
			default:
			}
			return nil
		},
	})
	f.cancel = cancel
	return f
}

// informational is a 1xx response: 102 Processing, 103 Early Hints.
type informational struct {
	code   int
	header textproto.MIMEHeader
}

// writeInformational forwards a 1xx response to a client without letting
// its fields leak into the final response's header.
func writeInformational(w http.ResponseWriter, in informational) {
	h := w.Header()
	saved := h.Clone()
	clear(h)
	hdr := http.Header(in.header).Clone()
	httpcache.RemoveHopByHop(hdr)
	for k, vs := range hdr {
		h[k] = vs
	}
	w.WriteHeader(in.code)
	clear(h)
	for k, vs := range saved {
		h[k] = vs
	}
}

// resultKind says how waiters may use a flight's result.
type resultKind int

const (
	// resShared: the response may be served to every waiter; its body is
	// complete (obj.Body) or arrives through fill.
	resShared resultKind = iota
	// resPass: not shareable. Only the leader reads fill; other waiters
	// go upstream alone.
	resPass
	// resError: the upstream failed; status says how to answer.
	resError
)

// flightResult is the typed outcome of a flight.
type flightResult struct {
	kind resultKind
	// obj holds the head to serve; its body is complete, or fill streams it.
	obj  *cache.Object
	fill *cache.Fill
	// size is the body size, -1 while unknown.
	size int64
	// stored says the object was (or is being) stored.
	stored bool
	// fwdStatus is the upstream's status, for Cache-Status.
	fwdStatus int
	// varyFields and varyValues are the leader's values of the Vary'd
	// fields; a waiter whose values differ cannot use obj.
	varyFields, varyValues []string
	// status is the HTTP status to answer with for resError.
	status int
	err    error
}

// join returns the flight for key, creating it if needed; leader is true
// for the caller that must perform it.
func (g *flightGroup) join(key string, mk func() *flight) (f *flight, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	if f, ok := g.m[key]; ok && f.acquire() {
		return f, false
	}
	f = mk()
	g.m[key] = f
	return f, true
}

// forget removes f if it is still the flight for key: later requests
// start their own.
func (g *flightGroup) forget(key string, f *flight) {
	g.mu.Lock()
	if g.m[key] == f {
		delete(g.m, key)
	}
	g.mu.Unlock()
}

// acquire adds a user. It fails once every user has left and the fetch
// was cancelled for it, or once the flight is over. A flight whose users
// have all gone while its body is still being stored may be joined: a
// request arriving before the body is committed reads it as it arrives
// instead of fetching it a second time.
func (f *flight) acquire() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users == 0 && (!f.pumping || f.dropped) {
		return false
	}
	f.users++
	return true
}

// release drops a user. The last one cancels the fetch unless its body is
// still being stored, and releases the fill once the pump is done too.
func (f *flight) release() {
	f.mu.Lock()
	f.users--
	last := f.users == 0
	pumping := f.pumping
	drop := last && pumping && !f.worthFinishing()
	if drop {
		f.dropped = true // decided under mu, so no acquire joins a cancelled fetch
	}
	f.mu.Unlock()
	if !last {
		return
	}
	if drop {
		f.cancel()
	}
	if !pumping {
		f.releaseFill()
	}
}

// worthFinishing reports whether the fetch should go on without readers:
// its response is in and its body is being stored.
func (f *flight) worthFinishing() bool {
	select {
	case <-f.ready:
	default:
		return false // no response yet: nothing is being stored
	}
	return f.res.kind == resShared && f.res.fill != nil && f.res.fill.Storing()
}

// stopped is called when the body stops being stored mid-way: without
// users the fetch has no reason to go on.
func (f *flight) stopped() {
	f.mu.Lock()
	idle := f.users == 0
	if idle {
		f.dropped = true
	}
	f.mu.Unlock()
	if idle {
		f.cancel()
	}
}

// pumpDone marks lead finished; with no user left the fill is released.
func (f *flight) pumpDone() {
	f.mu.Lock()
	f.pumping = false
	idle := f.users == 0
	f.mu.Unlock()
	f.cancel() // the fetch's resources (its timer)
	if idle {
		f.releaseFill()
	}
}

func (f *flight) releaseFill() {
	select {
	case <-f.ready:
		if f.res.fill != nil {
			f.res.fill.Release()
		}
	default:
	}
}

// publish sets the result and wakes the waiters.
func (f *flight) publish(r flightResult) {
	f.res = r
	close(f.ready)
}
