package httpcache

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
)

// Policy holds the caching knobs a site can set. The zero value is a sensible
// shared-cache default: 10% heuristic freshness capped at 24h, Set-Cookie
// responses not stored, CDN-Cache-Control honoured, no default TTL, stale
// responses served for up to 1h when the origin fails and no directive
// forbids it.
type Policy struct {
	// HeuristicFraction is the share of (Date − Last-Modified) used as the
	// heuristic freshness lifetime (RFC 9111 §4.2.2). If 0, 0.1 is used.
	HeuristicFraction float64
	// MaxHeuristic caps the heuristic freshness lifetime. If 0, 24h is used.
	MaxHeuristic time.Duration
	// CacheSetCookie, when false, keeps responses carrying Set-Cookie out of
	// the cache. When true they are stored with Set-Cookie removed from the
	// stored copy.
	CacheSetCookie bool
	// IgnoreCDNCacheControl makes the cache ignore CDN-Cache-Control
	// (RFC 9213) and obey Cache-Control and Expires only.
	IgnoreCDNCacheControl bool
	// DefaultTTL is the freshness lifetime given to responses that may be
	// cached heuristically (RFC 9110 §15.1 statuses, or public) but carry no
	// explicit expiration and no Last-Modified. If 0, such responses get no
	// freshness and are stored only if they carry a validator.
	DefaultTTL time.Duration
	// StaleOnError is the site's default window for serving a stale
	// response when the origin fails (RFC 9111 §4.2.4), on top of any
	// stale-if-error: see CanServeStaleOnError. If 0, DefaultStaleOnError
	// (1h) is used; a negative value turns it off; at most
	// MaxStaleOnError (7 days).
	StaleOnError time.Duration
}

// Default values used when the corresponding Policy field is zero.
const (
	DefaultHeuristicFraction = 0.1
	DefaultMaxHeuristic      = 24 * time.Hour
)

// Validate reports every invalid field of p, naming it.
func (p Policy) Validate() error {
	var errs []error
	if math.IsNaN(p.HeuristicFraction) || p.HeuristicFraction < 0 || p.HeuristicFraction > 1 {
		errs = append(errs, fmt.Errorf("HeuristicFraction: %v is not within [0, 1]", p.HeuristicFraction))
	}
	if p.MaxHeuristic < 0 {
		errs = append(errs, fmt.Errorf("MaxHeuristic: %v is negative", p.MaxHeuristic))
	}
	if p.DefaultTTL < 0 {
		errs = append(errs, fmt.Errorf("DefaultTTL: %v is negative", p.DefaultTTL))
	}
	if p.StaleOnError > MaxStaleOnError {
		errs = append(errs, fmt.Errorf("StaleOnError: %v is above the maximum %v", p.StaleOnError, MaxStaleOnError))
	}
	return errors.Join(errs...)
}

func (p Policy) heuristicFraction() float64 {
	if p.HeuristicFraction <= 0 || math.IsNaN(p.HeuristicFraction) {
		return DefaultHeuristicFraction
	}
	if p.HeuristicFraction > 1 {
		return 1
	}
	return p.HeuristicFraction
}

func (p Policy) maxHeuristic() time.Duration {
	if p.MaxHeuristic <= 0 {
		return DefaultMaxHeuristic
	}
	return p.MaxHeuristic
}

// Control returns the cache directives that govern this cache for a
// response: CDN-Cache-Control when it is present with a non-blank value and
// the policy does not ignore it (RFC 9213 §2.1: then Cache-Control and
// Expires are ignored), else Cache-Control. fromCDN reports which one. A
// qualified no-cache or private naming a field the cache needs (Date, ETag,
// Cache-Control, Content-Type...) is returned as its unqualified form.
//
// CDN-Cache-Control is a Structured Fields Dictionary (RFC 9213 §2.1) and
// is read with ParseCDNCacheControl: a field that does not parse as one, or
// whose max-age or s-maxage is not a non-negative Integer, is ignored as a
// whole and Cache-Control and Expires govern.
func Control(resp http.Header, p Policy) (cc CacheControl, fromCDN bool) {
	if !p.IgnoreCDNCacheControl {
		if v := resp.Values("Cdn-Cache-Control"); notBlank(v) {
			if cc, ok := ParseCDNCacheControl(v); ok {
				cc.upgradeProtected()
				return cc, true
			}
		}
	}
	cc = ParseCacheControl(resp.Values("Cache-Control"))
	cc.upgradeProtected()
	return cc, false
}

// upgradeProtected reads a qualified no-cache or private that names a field
// the cache relies on (Date, ETag, Cache-Control...) as the unqualified,
// more restrictive directive: the cache cannot drop such a field from its
// stored copy, so it revalidates every reuse (no-cache) or does not store
// (private) instead (RFC 9111 §4.2.1: "the most restrictive directive").
func (cc *CacheControl) upgradeProtected() {
	for _, f := range cc.NoCacheFields {
		if isProtected(f) {
			cc.NoCache = true
		}
	}
	for _, f := range cc.PrivateFields {
		if isProtected(f) {
			cc.Private = true
		}
	}
}

// notBlank reports whether any line holds something besides whitespace and
// commas.
func notBlank(lines []string) bool {
	for _, l := range lines {
		for i := 0; i < len(l); i++ {
			if !isOWS(l[i]) && l[i] != ',' {
				return true
			}
		}
	}
	return false
}
