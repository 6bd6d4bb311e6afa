package httpcache

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestSelectNotModified(t *testing.T) {
	lm, lm2 := date(-time.Hour), date(-2*time.Hour)
	tests := []struct {
		name          string
		stored, nm    http.Header
		sentForStored bool
		want          NotModifiedResult
	}{
		{"RFC9111-4.3.4-strong-etag-selects", hdr("ETag", `"a"`), hdr("ETag", `"a"`), true, NotModifiedSelects},
		{"RFC9111-4.3.4-strong-etag-contradicts", hdr("ETag", `"a"`), hdr("ETag", `"b"`), true, NotModifiedContradicts},
		{"RFC9111-4.3.4-strong-304-weak-stored-contradicts", hdr("ETag", `W/"a"`), hdr("ETag", `"a"`), true, NotModifiedContradicts},
		{"RFC9111-4.3.4-weak-304-strong-stored-selects", hdr("ETag", `"a"`), hdr("ETag", `W/"a"`), true, NotModifiedSelects},
		{"RFC9111-4.3.4-weak-both-selects", hdr("ETag", `W/"a"`), hdr("ETag", `W/"a"`), false, NotModifiedSelects},
		{"RFC9111-4.3.4-etag-decides-over-last-modified", hdr("ETag", `"a"`, "Last-Modified", lm), hdr("ETag", `"b"`, "Last-Modified", lm), true, NotModifiedContradicts},
		{"RFC9111-4.3.4-unparseable-etag-contradicts", hdr("ETag", `"a"`), hdr("ETag", `a`), true, NotModifiedContradicts},
		{"RFC9111-4.3.4-etag-not-stored-contradicts", hdr("Last-Modified", lm), hdr("ETag", `"a"`), true, NotModifiedContradicts},
		{"RFC9111-4.3.4-etag-not-stored-last-modified-selects", hdr("Last-Modified", lm), hdr("ETag", `"a"`, "Last-Modified", lm), true, NotModifiedSelects},
		{"RFC9111-4.3.4-last-modified-selects", hdr("Last-Modified", lm), hdr("Last-Modified", lm), false, NotModifiedSelects},
		{"RFC9111-4.3.4-last-modified-contradicts", hdr("Last-Modified", lm), hdr("Last-Modified", lm2), true, NotModifiedContradicts},
		{"RFC9111-4.3.4-last-modified-not-stored-own-conditional", hdr("ETag", `"a"`), hdr("Last-Modified", lm), true, NotModifiedSelects},
		{"RFC9111-4.3.4-last-modified-not-stored-client-conditional", hdr("ETag", `"a"`), hdr("Last-Modified", lm), false, NotModifiedContradicts},
		{"RFC9111-4.3.4-bare-304-own-conditional-etag", hdr("ETag", `"a"`), hdr("Date", date(0)), true, NotModifiedSelects},
		{"RFC9111-4.3.4-bare-304-own-conditional-last-modified", hdr("Last-Modified", lm), hdr(), true, NotModifiedSelects},
		{"RFC9111-4.3.4-bare-304-client-conditional", hdr("ETag", `"a"`), hdr("Date", date(0)), false, NotModifiedContradicts},
		{"RFC9111-4.3.4-bare-304-no-stored-validators", hdr(), hdr(), false, NotModifiedSelects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SelectNotModified(tt.stored, tt.nm, tt.sentForStored); got != tt.want {
				t.Fatalf("SelectNotModified = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNotModifiedUpdates(t *testing.T) {
	nm := hdr("Date", date(0), "Cache-Control", "max-age=120", "ETag", `"a"`, "X-New", "2",
		"Content-Length", "0", "Content-Encoding", "br", "Content-Range", "bytes 0-1/2",
		"Transfer-Encoding", "chunked", "Connection", "close, X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5",
		"Te", "trailers", "Upgrade", "h2c", "Proxy-Authenticate", "Basic", "Set-Cookie", "s=1", "Content-Type", "text/plain")
	want := hdr("Date", date(0), "Cache-Control", "max-age=120", "ETag", `"a"`, "X-New", "2", "Content-Type", "text/plain")
	if got := NotModifiedUpdates(nm); !reflect.DeepEqual(got, want) {
		t.Fatalf("RFC9111-3.2 NotModifiedUpdates\n got %v\nwant %v", got, want)
	}
}

func TestMergeNotModifiedAgeAndDate(t *testing.T) {
	stored := hdr("Date", date(-time.Hour), "Age", "300", "ETag", `"a"`, "Cache-Control", "max-age=60")
	got := MergeNotModified(stored, hdr("ETag", `"a"`, "Cache-Control", "max-age=600"))
	if _, ok := got["Age"]; ok {
		t.Errorf("RFC9111-4.2.3: the stored Age survived a 304 without Age: %v", got)
	}
	if _, ok := got["Date"]; ok {
		t.Errorf("RFC9110-6.6.1: the stored Date survived a 304 without Date: %v", got)
	}
	if got.Get("Cache-Control") != "max-age=600" {
		t.Errorf("RFC9111-4.3.4: Cache-Control not updated: %v", got)
	}
	got = MergeNotModified(stored, hdr("Date", date(0), "Age", "5"))
	if got.Get("Age") != "5" || got.Get("Date") != date(0) {
		t.Errorf("RFC9111-4.3.4: Age and Date of the 304 not taken: %v", got)
	}
}

func TestNotModifiedHeader(t *testing.T) {
	stored := hdr("Date", date(0), "Age", "10", "Cache-Control", "max-age=60", "ETag", `"a"`, "Last-Modified", date(-time.Hour),
		"Expires", date(time.Minute), "Vary", "Accept-Encoding", "Content-Type", "text/html", "Content-Length", "1234",
		"Content-Encoding", "gzip", "X-Custom", "v2", "Surrogate-Key", "k")
	toClient := hdr("Date", date(0), "Cache-Control", "max-age=60", "ETag", `"a"`, "Last-Modified", date(-time.Hour),
		"Expires", date(time.Minute), "Vary", "Accept-Encoding")
	if got := NotModifiedHeader(stored, false); !reflect.DeepEqual(got, toClient) {
		t.Errorf("RFC9110-15.4.5 to a client\n got %v\nwant %v", got, toClient)
	}
	toCache := hdr("Date", date(0), "Cache-Control", "max-age=60", "ETag", `"a"`, "Last-Modified", date(-time.Hour),
		"Expires", date(time.Minute), "Vary", "Accept-Encoding", "Content-Type", "text/html", "X-Custom", "v2", "Surrogate-Key", "k")
	if got := NotModifiedHeader(stored, true); !reflect.DeepEqual(got, toCache) {
		t.Errorf("RFC9111-4.3.4 to another cache\n got %v\nwant %v", got, toCache)
	}
	// Two tiers: what the shield sends updates the edge's copy as the
	// origin's 304 updated the shield's.
	edge := hdr("Date", date(-time.Hour), "Cache-Control", "max-age=1", "ETag", `"a"`, "Content-Length", "1234", "X-Custom", "v1")
	merged := MergeNotModified(edge, NotModifiedHeader(stored, true))
	if merged.Get("X-Custom") != "v2" || merged.Get("Cache-Control") != "max-age=60" || merged.Get("Content-Length") != "1234" {
		t.Errorf("RFC9111-4.3.4 chain: edge copy after the shield's 304: %v", merged)
	}
}

func TestRequestFromCache(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  http.Header
		id   string
		peer bool
		want bool
	}{
		{"RFC8586-2-own-id", hdr("CDN-Loop", "selfcdn"), "selfcdn", false, true},
		{"RFC8586-2-id-with-parameters-among-others", hdr("CDN-Loop", "foo123.foocdn.example, SelfCDN; v=1"), "selfcdn", false, true},
		{"RFC8586-2-several-lines", hdr("CDN-Loop", "other", "CDN-Loop", "selfcdn"), "selfcdn", false, true},
		{"RFC8586-2-other-cdn", hdr("CDN-Loop", "othercdn"), "selfcdn", false, false},
		{"RFC8586-2-absent", hdr(), "selfcdn", false, false},
		{"RFC8586-2-empty-id-never-matches", hdr("CDN-Loop", ""), "", false, false},
		{"RFC9111-4.3.4-peer-flag", hdr(), "selfcdn", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RequestFromCache(tc.req, tc.id, tc.peer); got != tc.want {
				t.Fatalf("RequestFromCache = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckStoredPreconditions(t *testing.T) {
	recv := t0.Add(-30 * time.Second)
	for _, tc := range []struct {
		name   string
		req    http.Header
		stored http.Header
		want   int
	}{
		{"RFC9111-4.3.2-ims-against-date-not-modified", hdr("If-Modified-Since", date(0)), hdr("Date", date(-time.Minute)), http.StatusNotModified},
		{"RFC9111-4.3.2-ims-against-date-equal", hdr("If-Modified-Since", date(0)), hdr("Date", date(0)), http.StatusNotModified},
		{"RFC9111-4.3.2-ims-against-date-modified", hdr("If-Modified-Since", date(-time.Hour)), hdr("Date", date(0)), 0},
		{"RFC9111-4.3.2-ims-against-receipt-time", hdr("If-Modified-Since", date(0)), hdr(), http.StatusNotModified},
		{"RFC9111-4.3.2-ims-before-receipt-time", hdr("If-Modified-Since", date(-time.Hour)), hdr(), 0},
		{"RFC9111-4.3.2-last-modified-preferred", hdr("If-Modified-Since", date(-time.Hour)), hdr("Date", date(0), "Last-Modified", date(-2*time.Hour)), http.StatusNotModified},
		{"RFC9110-13.1.3-if-none-match-takes-precedence", hdr("If-None-Match", `"b"`, "If-Modified-Since", date(0)), hdr("Date", date(-time.Minute), "ETag", `"a"`), 0},
		{"RFC9110-13.1.2-if-none-match-matches", hdr("If-None-Match", `"a"`), hdr("Date", date(0), "ETag", `"a"`), http.StatusNotModified},
		{"RFC9110-13.1.3-invalid-date-ignored", hdr("If-Modified-Since", "yesterday"), hdr("Date", date(-time.Minute)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckStoredPreconditions(http.MethodGet, tc.req, tc.stored, recv); got != tc.want {
				t.Fatalf("CheckStoredPreconditions = %d, want %d", got, tc.want)
			}
		})
	}
	if got := CheckStoredPreconditions(http.MethodPost, hdr("If-Modified-Since", date(0)), hdr("Date", date(-time.Minute)), recv); got != 0 {
		t.Fatalf("RFC9110-13.1.3: If-Modified-Since on POST = %d, want 0", got)
	}
}
