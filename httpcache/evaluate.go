package httpcache

import (
	"net/http"
	"time"
)

// Decision says how a stored response may be used for a request (RFC 9111
// §4, §4.2.4, §5.2.1; RFC 5861).
type Decision struct {
	Age      time.Duration // current_age (§4.2.3)
	Lifetime time.Duration // freshness_lifetime (§4.2.1)
	TTL      time.Duration // Lifetime − Age; negative when stale

	// Fresh: the stored response may be sent without contacting upstream,
	// once the request's max-age, min-fresh and max-stale are applied.
	Fresh bool
	// MustValidate: the stored response may not be sent before it is
	// validated upstream (it is stale and no stale serving applies, or a
	// no-cache or max-age=0 demands validation). Exactly one of Fresh,
	// StaleWhileRevalidate and MustValidate is true.
	MustValidate bool
	// StaleWhileRevalidate: stale, but within the response's
	// stale-while-revalidate window (RFC 5861 §3): send it and revalidate in
	// the background.
	StaleWhileRevalidate bool
	// StaleIfError: the stored response may be sent if validating or
	// fetching fails or yields 500, 502, 503 or 504 (RFC 5861 §4), by the
	// response's or the request's stale-if-error. Never set under
	// must-revalidate, proxy-revalidate, s-maxage or no-cache (§4.2.4).
	StaleIfError bool
	// OnlyIfCached: the request had only-if-cached (§5.2.1.7): if the cache
	// cannot answer from storage it answers 504 (Gateway Timeout).
	OnlyIfCached bool
}

// Evaluate decides how the stored response e may be used for a request with
// header req at now.
//
// Freshness is freshness_lifetime > current_age (§4.2). The request may
// narrow it: max-age requires Age ≤ max-age and max-age=0 always validates
// (§5.2.1.1), min-fresh requires TTL ≥ min-fresh (§5.2.1.3), no-cache (or
// Pragma: no-cache when the request has no Cache-Control, §5.4) always
// validates (§5.2.1.4). It may widen it: max-stale accepts a stale response
// (§5.2.1.2) unless the response has must-revalidate, proxy-revalidate,
// s-maxage or no-cache (§4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10). A response
// no-cache always validates (§5.2.2.4).
//
// Stale serving (§4.2.4): must-revalidate, proxy-revalidate, s-maxage
// (which implies proxy-revalidate for a shared cache, §5.2.2.10) and
// no-cache forbid stale-if-error, the response's and the request's alike,
// and max-stale. The response's own stale-while-revalidate (RFC 5861 §3) is
// honoured with s-maxage, the widespread "s-maxage=N,
// stale-while-revalidate=M" idiom, in which the origin states the
// permission explicitly, but never with must-revalidate, proxy-revalidate
// or no-cache, nor when the request demands validation or limits age.
// CanServeStaleOnError adds the site's default window on errors.
func Evaluate(req http.Header, e *Entry, now time.Time) Decision {
	age := e.Age(now)
	d := Decision{Age: age, Lifetime: e.Lifetime, TTL: e.Lifetime - age}
	rc := e.control()

	var qc CacheControl
	if v := req["Cache-Control"]; len(v) > 0 {
		qc = ParseCacheControl(v)
	} else {
		qc = emptyControl()
		qc.NoCache = hasToken(req["Pragma"], "no-cache")
	}
	d.OnlyIfCached = qc.OnlyIfCached

	fresh := e.Lifetime > age
	staleness := max(0, age-e.Lifetime)
	revalidate := rc.MustRevalidate || rc.ProxyRevalidate || rc.SMaxAge >= 0 || rc.NoCache

	forceValidate := qc.NoCache || qc.MaxAge == 0 || rc.NoCache
	withinRequest := (qc.MaxAge < 0 || age <= qc.MaxAge) && (qc.MinFresh < 0 || d.TTL >= qc.MinFresh)

	usable := fresh
	if !fresh && !revalidate && (qc.MaxStaleAny || (qc.MaxStale >= 0 && staleness <= qc.MaxStale)) {
		usable = true
	}
	d.Fresh = usable && withinRequest && !forceValidate

	// must-revalidate and proxy-revalidate forbid serving stale at all
	// (§4.2.4, §5.2.2.2, §5.2.2.8); s-maxage's implied proxy-revalidate
	// yields to an explicit stale-while-revalidate in the same response.
	forbidSWR := rc.MustRevalidate || rc.ProxyRevalidate
	if !d.Fresh && !fresh && !forceValidate && withinRequest && !forbidSWR &&
		rc.StaleWhileRevalidate >= 0 && staleness <= rc.StaleWhileRevalidate {
		d.StaleWhileRevalidate = true
	}
	d.MustValidate = !d.Fresh && !d.StaleWhileRevalidate

	switch {
	case revalidate:
		// §4.2.4: never stale on error under must-revalidate,
		// proxy-revalidate, s-maxage or no-cache, whoever asks.
	case rc.StaleIfError >= 0 && staleness <= rc.StaleIfError:
		d.StaleIfError = true
	case qc.StaleIfError >= 0 && staleness <= qc.StaleIfError:
		d.StaleIfError = true
	}
	return d
}
