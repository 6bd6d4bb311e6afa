package httpcache

import (
	"net/http"
	"time"
)

// FreshnessLifetime returns a shared cache's freshness lifetime for a
// response (RFC 9111 §4.2.1), taking the first of:
//
//   - s-maxage, then max-age, of the governing directives (CDN-Cache-Control
//     when present, see Control; RFC 9213 §2.1);
//   - zero when max-age or s-maxage is invalid (§4.2.1: treat as stale);
//   - Expires − Date, unless CDN-Cache-Control governs; an Expires that is
//     not a valid HTTP-date (such as "0"; ParseExpires says which forms
//     are tolerated) means already expired (§5.3), and of several Expires
//     lines the first is used (§4.2.1);
//   - a heuristic, only for a status cacheable by default (RFC 9110 §15.1)
//     or a public response (§4.2.2): Policy.HeuristicFraction of
//     (Date − Last-Modified) capped at Policy.MaxHeuristic, else
//     Policy.DefaultTTL.
//
// heuristic reports that the lifetime was not given by the origin. A missing
// or invalid Date is taken as responseTime (RFC 9110 §6.6.1). The result is
// never negative.
func FreshnessLifetime(resp http.Header, status int, responseTime time.Time, p Policy) (lifetime time.Duration, heuristic bool) {
	cc, fromCDN := Control(resp, p)
	return freshnessLifetime(resp, cc, fromCDN, status, responseTime, p)
}

func freshnessLifetime(resp http.Header, cc CacheControl, fromCDN bool, status int, responseTime time.Time, p Policy) (time.Duration, bool) {
	switch {
	case cc.SMaxAge >= 0:
		return cc.SMaxAge, false
	case cc.Invalid:
		return 0, false
	case cc.MaxAge >= 0:
		return cc.MaxAge, false
	}
	date := dateOf(resp, responseTime)
	if exp := resp["Expires"]; !fromCDN && len(exp) > 0 {
		t, ok := ParseExpires(exp[0])
		if !ok {
			return 0, false
		}
		return max(0, t.Sub(date)), false
	}
	if !HeuristicallyCacheable(status) && !cc.Public {
		return 0, false
	}
	if lm, ok := headerDate(resp, "Last-Modified"); ok && !lm.After(date) {
		h := time.Duration(float64(date.Sub(lm)) * p.heuristicFraction())
		return min(max(h, 0), p.maxHeuristic()), true
	}
	if p.DefaultTTL > 0 {
		return p.DefaultTTL, true
	}
	return 0, false
}
