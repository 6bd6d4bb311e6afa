package httpcache

import (
	"net/http"
	"strings"
)

// hopByHop lists the fields that describe one connection and are never
// forwarded or stored (RFC 9110 §7.6.1, plus the obsolete Keep-Alive and
// Proxy-Connection and the per-hop proxy authentication fields of §11.7).
var hopByHop = [...]string{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
	"Proxy-Authenticate",
	"Proxy-Authorization",
}

// RemoveHopByHop removes hop-by-hop fields from h in place: the fields named
// by Connection, then Connection itself, Keep-Alive, Proxy-Connection, TE,
// Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate and
// Proxy-Authorization (RFC 9110 §7.6.1).
func RemoveHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for v != "" {
			var f string
			if i := strings.IndexByte(v, ','); i >= 0 {
				f, v = v[:i], v[i+1:]
			} else {
				f, v = v, ""
			}
			if f = trimOWS(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, f := range hopByHop {
		delete(h, f)
	}
}

// isHopByHop reports whether the canonical field name f is always
// hop-by-hop.
func isHopByHop(f string) bool {
	for _, x := range hopByHop {
		if x == f {
			return true
		}
	}
	return false
}

// connectionListed returns the canonical names listed in h's Connection
// field.
func connectionListed(h http.Header) map[string]bool {
	var m map[string]bool
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = trimOWS(f); f != "" {
				if m == nil {
					m = make(map[string]bool)
				}
				m[http.CanonicalHeaderKey(f)] = true
			}
		}
	}
	return m
}
