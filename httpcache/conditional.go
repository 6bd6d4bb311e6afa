package httpcache

import (
	"net/http"
	"time"
)

// Validators returns the stored response's entity-tag and Last-Modified
// field values ("" when absent), as used to validate it (RFC 9110 §8.8).
func Validators(stored http.Header) (etag, lastModified string) {
	if v := stored["Etag"]; len(v) > 0 {
		etag = v[0]
	}
	if v := stored["Last-Modified"]; len(v) > 0 {
		lastModified = v[0]
	}
	return etag, lastModified
}

// StrongLastModified returns the stored response's Last-Modified when it can
// serve as a strong validator: the response has a Date at least 60 seconds
// after it (RFC 9110 §8.8.2.2).
func StrongLastModified(stored http.Header) (time.Time, bool) {
	lm, ok1 := headerDate(stored, "Last-Modified")
	date, ok2 := headerDate(stored, "Date")
	if !ok1 || !ok2 || date.Sub(lm) < 60*time.Second {
		return time.Time{}, false
	}
	return lm, true
}

// conditionalFields are the precondition fields of RFC 9110 §13.1.
var conditionalFields = [...]string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"}

// ConditionalRequest prepares dst, the header of a request to upstream, to
// validate the stored response (RFC 9111 §4.3.1): any preconditions already
// in dst (the client's) are removed, then If-None-Match carries the stored
// entity-tag and If-Modified-Since the stored Last-Modified, each when
// present (both are sent: an origin that ignores one may honour the other,
// and RFC 9110 §13.1.3 makes If-None-Match take precedence). Range is left
// to the caller.
func ConditionalRequest(stored http.Header, dst http.Header) {
	for _, f := range conditionalFields {
		delete(dst, f)
	}
	etag, lm := Validators(stored)
	if _, ok := ParseETag(etag); ok {
		dst["If-None-Match"] = []string{trimOWS(etag)}
	}
	if _, ok := ParseHTTPDate(lm); ok {
		dst["If-Modified-Since"] = []string{trimOWS(lm)}
	}
}

// MergeNotModified returns the stored header updated with a 304 (Not
// Modified) response's header (RFC 9111 §4.3.4, §3.2): each field of
// NotModifiedUpdates(notModified) replaces the stored field of that name.
// Age and Date describe the message they came in, so the stored ones are
// dropped when the 304 has none (the caller then sets Date to the time of
// receipt, as Entry.Revalidated does, RFC 9110 §6.6.1). Fields named by
// qualified private= or no-cache= in the result are then removed, as
// StoredHeader does. Neither input is modified.
func MergeNotModified(stored, notModified http.Header) http.Header {
	h := stored.Clone()
	if h == nil {
		h = make(http.Header, len(notModified))
	}
	delete(h, "Age")
	if _, ok := headerDate(notModified, "Date"); !ok {
		delete(h, "Date")
	}
	for k, v := range NotModifiedUpdates(notModified) {
		h[k] = v
	}
	cc, fromCDN := Control(h, Policy{})
	for f := range excluded(h, cc, fromCDN) {
		delete(h, f)
	}
	return h
}

// NotModifiedMatches reports whether a 304 answering the cache's own
// conditional request for the stored response selects it for update:
// SelectNotModified(stored, notModified, true) == NotModifiedSelects. A
// 304 without validators selects it; one whose validators contradict the
// stored ones does not, and the cache then refetches unconditionally.
func NotModifiedMatches(stored, notModified http.Header) bool {
	return SelectNotModified(stored, notModified, true) == NotModifiedSelects
}

// CheckPreconditions evaluates a client's preconditions against the selected
// representation, whose entity-tag field value is etag ("" if none) and whose
// last modification time is lastModified (zero if unknown), in the order of
// RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since; then If-None-Match,
// else (GET and HEAD only) If-Modified-Since. It returns 0 to proceed, 304
// (Not Modified) or 412 (Precondition Failed). If-Range is left to
// IfRangeMatches. The caller applies it only when the response would
// otherwise be 2xx (§13.2.1).
func CheckPreconditions(method string, req http.Header, etag string, lastModified time.Time) int {
	safe := method == http.MethodGet || method == http.MethodHead
	lastModified = lastModified.Truncate(time.Second)
	if v := req["If-Match"]; len(v) > 0 {
		if !ETagListMatch(v, etag, true) {
			return http.StatusPreconditionFailed
		}
	} else if v := req["If-Unmodified-Since"]; len(v) == 1 && !lastModified.IsZero() {
		if t, ok := ParseHTTPDate(v[0]); ok && lastModified.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if v := req["If-None-Match"]; len(v) > 0 {
		if ETagListMatch(v, etag, false) {
			if safe {
				return http.StatusNotModified
			}
			return http.StatusPreconditionFailed
		}
	} else if v := req["If-Modified-Since"]; safe && len(v) == 1 && !lastModified.IsZero() {
		if t, ok := ParseHTTPDate(v[0]); ok && !lastModified.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}
