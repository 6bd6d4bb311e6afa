package httpcache

import (
	"net/http"
	"time"
)

// t0 is the fixed "now" of the table tests.
var t0 = time.Date(2024, time.March, 10, 12, 0, 0, 0, time.UTC)

// hdr builds a header from name, value pairs; a name may repeat.
func hdr(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// date formats t0+d as an HTTP-date.
func date(d time.Duration) string { return FormatHTTPDate(t0.Add(d)) }

// none is a CacheControl with every directive absent.
func none() CacheControl {
	return CacheControl{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
}

func with(f func(*CacheControl)) CacheControl {
	cc := none()
	f(&cc)
	return cc
}

const sec = time.Second

func durationSecs(n int) time.Duration { return time.Duration(n) * sec }
