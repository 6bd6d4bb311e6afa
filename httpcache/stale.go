package httpcache

import (
	"net/http"
	"time"
)

// Limits of the per-site stale-on-error window (Policy.StaleOnError).
const (
	// DefaultStaleOnError is the window used when Policy.StaleOnError is 0.
	DefaultStaleOnError = time.Hour
	// MaxStaleOnError bounds Policy.StaleOnError (Validate rejects more):
	// a node cut off from its origin stops serving content older than this
	// beyond its lifetime, unless the origin allowed more with
	// stale-if-error.
	MaxStaleOnError = 7 * 24 * time.Hour
)

// StaleOnErrorWindow returns the site's default window for serving stale
// responses when the origin fails (RFC 9111 §4.2.4): DefaultStaleOnError
// for 0, none for a negative value, else StaleOnError capped at
// MaxStaleOnError.
func (p Policy) StaleOnErrorWindow() time.Duration {
	switch {
	case p.StaleOnError < 0:
		return 0
	case p.StaleOnError == 0:
		return DefaultStaleOnError
	}
	return min(p.StaleOnError, MaxStaleOnError)
}

// StaleOnErrorReason says why a stored response may or may not be served
// when upstream fails. Its String is a Cache-Status detail token.
type StaleOnErrorReason uint8

const (
	// StaleForbidden: must-revalidate, proxy-revalidate, s-maxage or
	// no-cache forbids serving it stale (§4.2.4). The zero value.
	StaleForbidden StaleOnErrorReason = iota
	// StaleTooOld: stale beyond every window that applies.
	StaleTooOld
	// StaleNotStale: still fresh; serving it needs no permission.
	StaleNotStale
	// StaleIfErrorResponse: within the response's stale-if-error (RFC 5861 §4).
	StaleIfErrorResponse
	// StaleIfErrorRequest: within the request's stale-if-error (RFC 5861 §4).
	StaleIfErrorRequest
	// StaleOnErrorDefault: within the site's default window (§4.2.4: a
	// cache may serve stale when disconnected from the origin).
	StaleOnErrorDefault
)

func (r StaleOnErrorReason) String() string {
	switch r {
	case StaleTooOld:
		return "stale-too-old"
	case StaleNotStale:
		return "fresh"
	case StaleIfErrorResponse, StaleIfErrorRequest:
		return "stale-if-error"
	case StaleOnErrorDefault:
		return "stale-on-error"
	}
	return "stale-forbidden"
}

// StaleOnError is the decision of CanServeStaleOnError.
type StaleOnError struct {
	Allowed   bool
	Reason    StaleOnErrorReason
	Staleness time.Duration // current_age − freshness_lifetime, at least 0
}

// CanServeStaleOnError decides whether the stored response e may be served
// at now when fetching or validating it failed (connection error, timeout,
// 500, 502, 503, 504; RFC 9111 §4.2.4, RFC 5861 §4). req is the client's
// request header (nil for none) and window the site's default window
// (Policy.StaleOnErrorWindow; 0 for none).
//
// Never when the response has must-revalidate, proxy-revalidate, s-maxage
// (a shared cache's proxy-revalidate, §5.2.2.10) or unqualified no-cache:
// those are the in-protocol directives §4.2.4 says forbid it. Otherwise a
// fresh response is allowed; a stale one when its staleness is within the
// response's stale-if-error, else the request's stale-if-error, else
// window. The caller still decides what a purge or a node out of sync
// with the purge bus rules out.
func CanServeStaleOnError(e *Entry, req http.Header, now time.Time, window time.Duration) StaleOnError {
	rc := e.control()
	age := e.Age(now)
	d := StaleOnError{Staleness: max(0, age-e.Lifetime)}
	if rc.MustRevalidate || rc.ProxyRevalidate || rc.SMaxAge >= 0 || rc.NoCache {
		d.Reason = StaleForbidden
		return d
	}
	d.Allowed = true
	switch {
	case e.Lifetime > age:
		d.Reason = StaleNotStale
	case rc.StaleIfError >= 0 && d.Staleness <= rc.StaleIfError:
		d.Reason = StaleIfErrorResponse
	case requestStaleIfError(req) >= 0 && d.Staleness <= requestStaleIfError(req):
		d.Reason = StaleIfErrorRequest
	case window > 0 && d.Staleness <= window:
		d.Reason = StaleOnErrorDefault
	default:
		d.Allowed, d.Reason = false, StaleTooOld
	}
	return d
}

func requestStaleIfError(req http.Header) time.Duration {
	if v := req["Cache-Control"]; len(v) > 0 {
		return ParseCacheControl(v).StaleIfError
	}
	return -1
}
