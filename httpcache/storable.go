package httpcache

import "net/http"

// Reasons returned by Storable, usable as a Cache-Status detail (RFC 9211
// §2.8).
const (
	ReasonMethod         = "method"
	ReasonStatus         = "status"
	ReasonNoStore        = "no-store"         // response no-store
	ReasonRequestNoStore = "request-no-store" // request no-store: says nothing of the response
	ReasonMustUnderstand = "must-understand"
	ReasonPrivate        = "private"
	ReasonAuthorization  = "authorization"
	ReasonVaryStar       = "vary-star"
	ReasonSetCookie      = "set-cookie"
	ReasonNoFreshness    = "no-freshness"
)

// HeuristicallyCacheable reports whether status is cacheable by default, so
// that a heuristic freshness lifetime may be used (RFC 9110 §15.1).
func HeuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// Understood reports whether this cache implements the caching semantics of
// status, as must-understand requires (RFC 9111 §5.2.2.3). Partial content is
// not understood: the cache stores complete representations only.
func Understood(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// Storable reports whether a shared cache may store the response to a
// request with the given method (the method sent upstream) and header, and if
// not, why, as one of the Reason constants (RFC 9111 §3, §3.5).
//
// Only GET responses are stored. A response is refused for: a status that is
// not final, 206 or 304 (full representations only); no-store in the request
// (§5.2.1.5, reason request-no-store) or response (§5.2.2.5) unless must-understand and an understood
// status (§5.2.2.3); must-understand with a status not understood;
// unqualified private (§5.2.2.7); a request with Authorization unless
// must-revalidate, public or s-maxage (§3.5); Vary: * (§4.1); Set-Cookie
// unless the policy allows it or the response names it in private= or
// no-cache=; and no usable freshness: neither explicit expiration (§4.2.1)
// nor, for a heuristically cacheable status or a public response, a
// validator, Last-Modified, stale-if-error or Policy.DefaultTTL.
func Storable(method string, req http.Header, status int, resp http.Header, p Policy) (ok bool, reason string) {
	if method != http.MethodGet {
		return false, ReasonMethod
	}
	if status < 200 || status > 599 || status == http.StatusPartialContent || status == http.StatusNotModified {
		return false, ReasonStatus
	}
	if v := req["Cache-Control"]; len(v) > 0 && ParseCacheControl(v).NoStore {
		return false, ReasonRequestNoStore
	}
	cc, fromCDN := Control(resp, p)
	if cc.MustUnderstand {
		if !Understood(status) {
			return false, ReasonMustUnderstand
		}
	} else if cc.NoStore {
		return false, ReasonNoStore
	}
	if cc.Private {
		return false, ReasonPrivate
	}
	if len(req["Authorization"]) > 0 && !cc.MustRevalidate && !cc.Public && cc.SMaxAge < 0 {
		return false, ReasonAuthorization
	}
	if _, star := VaryFields(resp); star {
		return false, ReasonVaryStar
	}
	if len(resp["Set-Cookie"]) > 0 && !p.CacheSetCookie && !excluded(resp, cc, fromCDN)["Set-Cookie"] {
		return false, ReasonSetCookie
	}
	explicit := cc.SMaxAge >= 0 || cc.MaxAge >= 0 || cc.Invalid || (!fromCDN && len(resp["Expires"]) > 0)
	if explicit {
		return true, ""
	}
	if HeuristicallyCacheable(status) || cc.Public {
		if len(resp["Etag"]) > 0 || len(resp["Last-Modified"]) > 0 || cc.StaleIfError >= 0 || p.DefaultTTL > 0 {
			return true, ""
		}
	}
	return false, ReasonNoFreshness
}

// protectedFields are fields the cache itself relies on to compute freshness,
// validate and serve. A qualified no-cache or private naming one of them is
// read as its unqualified form, so that removing the field from the stored
// copy is never needed.
var protectedFields = [...]string{
	"Age", "Cache-Control", "Cdn-Cache-Control", "Content-Encoding",
	"Content-Length", "Content-Type", "Date", "Etag", "Expires",
	"Last-Modified", "Vary",
}

func isProtected(f string) bool {
	for _, x := range protectedFields {
		if x == f {
			return true
		}
	}
	return false
}

// excluded returns the fields a shared cache must not store or reuse
// without revalidation: those named by qualified private= and no-cache= of
// the governing directives and, when CDN-Cache-Control governs, of
// Cache-Control too (§5.2.2.4, §5.2.2.7). Removing a field is always safe.
func excluded(resp http.Header, cc CacheControl, fromCDN bool) map[string]bool {
	var m map[string]bool
	add := func(fs []string) {
		for _, f := range fs {
			if isProtected(f) {
				continue
			}
			if m == nil {
				m = make(map[string]bool)
			}
			m[f] = true
		}
	}
	add(cc.PrivateFields)
	add(cc.NoCacheFields)
	if fromCDN {
		own := ParseCacheControl(resp["Cache-Control"])
		add(own.PrivateFields)
		add(own.NoCacheFields)
	}
	return m
}

// StoredHeader returns a copy of resp's header as it should be stored:
// without hop-by-hop fields and those listed in Connection (RFC 9110
// §7.6.1), without the fields named by qualified private= and no-cache=
// (RFC 9111 §5.2.2.4, §5.2.2.7; removing them is the simplest way never to
// send them without revalidation), and without Set-Cookie, which a shared
// cache never replays to other users (Policy.CacheSetCookie only decides
// whether such responses are stored at all). resp is not modified.
func StoredHeader(resp http.Header, p Policy) http.Header {
	h := resp.Clone()
	if h == nil {
		h = make(http.Header)
	}
	RemoveHopByHop(h)
	cc, fromCDN := Control(resp, p)
	for f := range excluded(resp, cc, fromCDN) {
		delete(h, f)
	}
	delete(h, "Set-Cookie")
	return h
}
