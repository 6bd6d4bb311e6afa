package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// NotModifiedResult says what a 304 (Not Modified) response means for the
// stored response it answers (RFC 9111 §4.3.3, §4.3.4).
type NotModifiedResult uint8

const (
	// NotModifiedContradicts: the 304's validators do not match the stored
	// response, so it must not update it. The cache repeats the request
	// without conditions (§4.3.3); it is never an error for the client.
	// It is the zero value, the safe default.
	NotModifiedContradicts NotModifiedResult = iota
	// NotModifiedSelects: the 304 selects the stored response, which is
	// updated with the 304's fields (NotModifiedUpdates) and served.
	NotModifiedSelects
)

func (r NotModifiedResult) String() string {
	if r == NotModifiedSelects {
		return "selects"
	}
	return "contradicts"
}

// SelectNotModified decides whether a 304 with header nm selects the stored
// response with header stored (RFC 9111 §4.3.4). sentForStored says that
// the request the 304 answers was the cache's own conditional request for
// this one stored response (ConditionalRequest with its validators), as
// opposed to a client's conditional passed through.
//
//   - An entity-tag in the 304 decides when the stored response has one:
//     the same opaque-tag selects, unless the 304's tag is strong and the
//     stored one weak (§4.3.4 strong validators must match strongly; weak
//     ones compare weakly). A 304 entity-tag that cannot be compared with
//     a stored one (none stored, or unparseable) contradicts, unless a
//     Last-Modified in both decides instead.
//   - Else a Last-Modified in both decides: equal selects.
//   - A 304 that carries no validator the stored response also has (none
//     at all, or only a Last-Modified when none is stored) selects when
//     sentForStored: the cache sent that conditional for that stored
//     response, and many origins answer it with a bare 304. Otherwise it
//     selects only a stored response without validators (§4.3.4's last
//     case).
func SelectNotModified(stored, nm http.Header, sentForStored bool) NotModifiedResult {
	sTag, sLM := Validators(stored)
	nTag, nLM := Validators(nm)
	if nTag != "" {
		n, ok1 := ParseETag(nTag)
		s, ok2 := ParseETag(sTag)
		switch {
		case !ok1:
			return NotModifiedContradicts
		case ok2:
			if n.Opaque != s.Opaque || (!n.Weak && s.Weak) {
				return NotModifiedContradicts
			}
			return NotModifiedSelects
		}
		// No stored entity-tag to compare with: only a matching
		// Last-Modified can select.
		n2, ok3 := ParseHTTPDate(nLM)
		s2, ok4 := ParseHTTPDate(sLM)
		if ok3 && ok4 && n2.Equal(s2) {
			return NotModifiedSelects
		}
		return NotModifiedContradicts
	}
	if nLM != "" {
		n, ok1 := ParseHTTPDate(nLM)
		if !ok1 {
			return NotModifiedContradicts
		}
		if s, ok2 := ParseHTTPDate(sLM); ok2 {
			if n.Equal(s) {
				return NotModifiedSelects
			}
			return NotModifiedContradicts
		}
		if sentForStored {
			return NotModifiedSelects
		}
		return NotModifiedContradicts
	}
	if sentForStored || (sTag == "" && sLM == "") {
		return NotModifiedSelects
	}
	return NotModifiedContradicts
}

// notUpdated are the fields a 304 never changes in the stored header: the
// stored content's own framing and coding (RFC 9111 §3.2), and Set-Cookie,
// which a shared cache never stores (see StoredHeader). Hop-by-hop fields
// (isHopByHop, and those Connection lists) are excluded too (§3.1).
var notUpdated = [...]string{"Content-Length", "Content-Encoding", "Content-Range", "Set-Cookie", "Proxy-Authentication-Info"}

// NotModifiedUpdates returns the fields of a 304's header nm that update
// the stored response (RFC 9111 §3.2, §4.3.4): every field except the
// hop-by-hop ones (Connection and what it lists, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, the per-hop
// proxy authentication fields; §3.1), Content-Length, Content-Encoding and
// Content-Range, which describe the stored bytes rather than the
// representation, and Set-Cookie. nm is not modified.
func NotModifiedUpdates(nm http.Header) http.Header {
	out := make(http.Header, len(nm))
	listed := connectionListed(nm)
	for k, v := range nm {
		if isHopByHop(k) || listed[k] || skipOnUpdate(k) || len(v) == 0 {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}

func skipOnUpdate(f string) bool {
	for _, x := range notUpdated {
		if x == f {
			return true
		}
	}
	return false
}

// clientNotModified are the fields of a 304 sent to an end client: those
// RFC 9110 §15.4.5 says a server sends, and Last-Modified, which it allows
// for guiding cache updates.
var clientNotModified = [...]string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Last-Modified", "Vary"}

// NotModifiedHeader returns the header of a 304 (Not Modified) built from
// the selected stored response's header. toCache says that the request
// comes from another cache (see RequestFromCache), such as an edge asking
// its shield: then the 304 carries every field that would update the
// receiving cache's stored response (NotModifiedUpdates of stored; RFC 9111
// §4.3.4, §3.2), so that new header values reach the next tier. For an end
// client it carries only the fields of RFC 9110 §15.4.5 (Cache-Control,
// Content-Location, Date, ETag, Expires, Vary) and Last-Modified. The
// caller adds what it generates per response (Age, Cache-Status, Via).
// stored is not modified.
func NotModifiedHeader(stored http.Header, toCache bool) http.Header {
	if toCache {
		out := NotModifiedUpdates(stored)
		delete(out, "Age") // the sender's current age, set by the caller
		return out
	}
	out := make(http.Header, len(clientNotModified))
	for _, f := range clientNotModified {
		if v := stored[f]; len(v) > 0 {
			out[f] = append([]string(nil), v...)
		}
	}
	return out
}

// RequestFromCache reports whether a request comes from another cache of
// this CDN, whose 304s must then carry every updating field
// (NotModifiedHeader). fromPeer is the caller's own knowledge (the
// connection comes from a node of the cluster). Otherwise the request's
// CDN-Loop field (RFC 8586) is searched for cdnID, this CDN's identifier,
// compared case-insensitively; an empty cdnID never matches. CDN-Loop can
// be forged by clients; that is harmless here, because a 304 with more of
// the stored response's own fields tells a client nothing a 200 would not.
func RequestFromCache(req http.Header, cdnID string, fromPeer bool) bool {
	if fromPeer {
		return true
	}
	if cdnID == "" {
		return false
	}
	for _, line := range req["Cdn-Loop"] {
		for _, m := range strings.Split(line, ",") {
			id, _, _ := strings.Cut(m, ";")
			if equalFoldASCII(trimOWS(id), cdnID) {
				return true
			}
		}
	}
	return false
}

// ModificationTime returns the time against which a client's
// If-Modified-Since is evaluated for a stored response (RFC 9111 §4.3.2):
// its Last-Modified, else its Date, else responseTime, when the cache
// received it. fromLastModified reports that Last-Modified was used.
func ModificationTime(stored http.Header, responseTime time.Time) (t time.Time, fromLastModified bool) {
	if lm, ok := headerDate(stored, "Last-Modified"); ok {
		return lm, true
	}
	if d, ok := headerDate(stored, "Date"); ok {
		return d, false
	}
	return responseTime.UTC().Truncate(time.Second), false
}

// CheckStoredPreconditions is CheckPreconditions for a fresh stored
// response answered by the cache (RFC 9111 §4.3.2): the entity-tag is the
// stored one, and If-Modified-Since is compared with ModificationTime, so a
// stored response without Last-Modified is compared by its Date (or the
// time it was received). If-Unmodified-Since is evaluated only against a
// real Last-Modified, as CheckPreconditions does.
func CheckStoredPreconditions(method string, req, stored http.Header, responseTime time.Time) int {
	etag, _ := Validators(stored)
	mt, fromLM := ModificationTime(stored, responseTime)
	if fromLM {
		return CheckPreconditions(method, req, etag, mt)
	}
	if r := CheckPreconditions(method, req, etag, time.Time{}); r != 0 {
		return r
	}
	safe := method == http.MethodGet || method == http.MethodHead
	if v := req["If-Modified-Since"]; safe && len(req["If-None-Match"]) == 0 && len(v) == 1 {
		if t, ok := ParseHTTPDate(v[0]); ok && !mt.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}
