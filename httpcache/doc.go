// Package httpcache holds the HTTP caching rules of a shared cache: which
// responses may be stored (RFC 9111 §3), how long they stay fresh (§4.2),
// how old they are (§4.2.3), when a stored response may be reused, served
// stale or must be validated (§4, RFC 5861), how validation and conditional
// requests work (RFC 9110 §13, RFC 9111 §4.3), byte ranges (RFC 9110 §14),
// invalidation after unsafe requests (§4.4), secondary keys from Vary (§4.1),
// targeted cache control (RFC 9213) and the Cache-Status field (RFC 9211).
//
// Everything here is a pure function of header fields and times passed in by
// the caller: the package performs no I/O, keeps no state and never reads the
// wall clock, so the rules can be table-tested against the RFCs' own text and
// reused by any listener or storage tier.
package httpcache
