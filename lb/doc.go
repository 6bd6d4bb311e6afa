// Package lb picks a backend for a request: shields for a cache key at the
// edge, origin servers at a shield, PoPs in GeoDNS. It holds the selection
// policies (one small type per policy behind the one-method Selector
// interface), backends with their live state, and active and passive health
// checks, tied together by Pool.
//
// Hashing policies (Maglev, Rendezvous, IPHash, BoundedLoad) are
// deterministic across processes: every edge computes the same backend and
// the same failover order for a key. See README.md for when to use which
// policy, the configuration keys and the metrics.
package lb
