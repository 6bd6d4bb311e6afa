package httpcache

import (
	"net/http"
	"net/url"
	"strings"
)

// InvalidatedURIs returns the URIs whose stored responses a cache must
// invalidate after forwarding a request with an unsafe method (anything but
// GET, HEAD, OPTIONS and TRACE) that got a non-error (2xx or 3xx) response
// (RFC 9111 §4.4): the target URI, and the URIs in Location and
// Content-Location resolved against it when they have the same origin
// (scheme, host and port). target must be absolute (scheme and host set, as
// the edge rebuilds it from the request's scheme and Host); the results are
// then absolute too, without fragments and deduplicated; nil when nothing is
// to be invalidated. target is not modified.
func InvalidatedURIs(method string, status int, target *url.URL, resp http.Header) []*url.URL {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return nil
	}
	if target == nil || status < 200 || status > 399 {
		return nil
	}
	t := *target
	t.Fragment, t.RawFragment = "", ""
	out := []*url.URL{&t}
	for _, f := range [...]string{"Location", "Content-Location"} {
		v := trimOWS(resp.Get(f))
		if v == "" {
			continue
		}
		ref, err := url.Parse(v)
		if err != nil {
			continue
		}
		u := t.ResolveReference(ref)
		u.Fragment, u.RawFragment = "", ""
		if !sameOrigin(u, &t) {
			continue
		}
		dup := false
		for _, x := range out {
			if x.String() == u.String() {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, u)
		}
	}
	return out
}

// sameOrigin compares scheme, host and port (RFC 9110 §4.3.1), with default
// ports made explicit and case folded.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}
