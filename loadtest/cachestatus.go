package loadtest

import (
	"strconv"
	"strings"
)

// CacheStatus is one member of a Cache-Status response field (RFC 9211):
// what one cache on the response's path did with the request.
type CacheStatus struct {
	// Cache names the cache (§2).
	Cache string
	// Hit: the response was served from this cache (§2.1).
	Hit bool
	// Fwd says why the request went forward: bypass, method, uri-miss,
	// vary-miss, miss, request, stale or partial (§2.2). Empty when absent.
	Fwd string
	// FwdStatus is the status the next hop returned (§2.3); 0 when absent.
	FwdStatus int
	// TTL is the response's remaining freshness in seconds, negative when
	// stale (§2.4); HasTTL says whether it was present.
	TTL    int64
	HasTTL bool
	// Stored: the cache stored the forwarded response (§2.5).
	Stored bool
	// Collapsed: the request was collapsed with another (§2.6).
	Collapsed bool
}

// ParseCacheStatus parses a Cache-Status field value and returns its last
// member, which is the cache nearest the client (RFC 9211 §2: caches append
// their member to the list). Several field lines should be joined with ", "
// first. ok is false when v holds no member. Parsing is lenient, as a load
// generator's must be: unknown parameters are skipped and a malformed
// parameter does not hide the ones after it.
func ParseCacheStatus(v string) (cs CacheStatus, ok bool) {
	members := splitList(v)
	for i := len(members) - 1; i >= 0; i-- {
		if m := strings.TrimSpace(members[i]); m != "" {
			return parseMember(m), true
		}
	}
	return CacheStatus{}, false
}

// splitList splits an RFC 8941 list on commas outside quoted strings.
func splitList(v string) []string { return splitOutsideQuotes(v, ',') }

// splitParams splits a list member on semicolons outside quoted strings.
func splitParams(m string) []string { return splitOutsideQuotes(m, ';') }

// splitOutsideQuotes splits s on sep where sep is not inside an RFC 8941
// quoted string (backslash escapes honoured).
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	inQuote, esc := false, false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inQuote && c == '\\':
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == sep && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func parseMember(m string) CacheStatus {
	parts := splitParams(m)
	cs := CacheStatus{Cache: unquote(strings.TrimSpace(parts[0]))}
	for _, p := range parts[1:] {
		key, val, hasVal := strings.Cut(strings.TrimSpace(p), "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		// A bare key is Boolean true (RFC 8941 §3.1.2); "?0" is false.
		boolean := !hasVal || val == "?1"
		switch key {
		case "hit":
			cs.Hit = boolean
		case "fwd":
			cs.Fwd = strings.ToLower(unquote(val))
		case "fwd-status":
			if n, err := strconv.Atoi(val); err == nil && n >= 100 && n <= 999 {
				cs.FwdStatus = n
			}
		case "ttl":
			if n, err := strconv.ParseInt(val, 10, 64); err == nil {
				cs.TTL, cs.HasTTL = n, true
			}
		case "stored":
			cs.Stored = boolean
		case "collapsed":
			cs.Collapsed = boolean
		}
	}
	return cs
}

// unquote returns an sf-string's content, or s itself if it is a token.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	var b strings.Builder
	esc := false
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && !esc {
			esc = true
			continue
		}
		esc = false
		b.WriteByte(s[i])
	}
	return b.String()
}

// Cache outcome classes counted in reports.
const (
	outcomeHit         = "hit"
	outcomeStaleHit    = "stale_hit"
	outcomeMiss        = "miss"
	outcomeRevalidated = "revalidated"
	outcomeBypass      = "bypass"
	outcomeOther       = "other"
)

// outcome classifies a member: a hit (stale if its TTL is negative), a miss
// (fwd=miss, uri-miss or vary-miss), a revalidation (fwd=stale), a bypass
// (fwd=bypass, method or request) or other.
func (cs CacheStatus) outcome() string {
	switch {
	case cs.Hit && cs.HasTTL && cs.TTL < 0:
		return outcomeStaleHit
	case cs.Hit:
		return outcomeHit
	}
	switch cs.Fwd {
	case "miss", "uri-miss", "vary-miss":
		return outcomeMiss
	case "stale":
		return outcomeRevalidated
	case "bypass", "method", "request":
		return outcomeBypass
	}
	return outcomeOther
}
