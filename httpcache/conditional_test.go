package httpcache

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestETagComparison(t *testing.T) {
	// The table of RFC 9110 §8.8.3.2.
	tests := []struct {
		a, b          string
		strong, weakM bool
	}{
		{`W/"1"`, `W/"1"`, false, true},
		{`W/"1"`, `W/"2"`, false, false},
		{`W/"1"`, `"1"`, false, true},
		{`"1"`, `"1"`, true, true},
		{`"1"`, `xyz`, false, false},
	}
	for _, tt := range tests {
		t.Run("RFC9110-8.8.3.2-"+tt.a+"-vs-"+tt.b, func(t *testing.T) {
			if got := StrongMatch(tt.a, tt.b); got != tt.strong {
				t.Errorf("StrongMatch = %v, want %v", got, tt.strong)
			}
			if got := WeakMatch(tt.a, tt.b); got != tt.weakM {
				t.Errorf("WeakMatch = %v, want %v", got, tt.weakM)
			}
		})
	}
}

func TestParseETag(t *testing.T) {
	tests := []struct {
		in   string
		want ETag
		ok   bool
	}{
		{`"xyzzy"`, ETag{Opaque: "xyzzy"}, true},
		{`W/"xyzzy"`, ETag{Opaque: "xyzzy", Weak: true}, true},
		{`""`, ETag{}, true},
		{` "a,b" `, ETag{Opaque: "a,b"}, true},
		{`xyzzy`, ETag{}, false},
		{`w/"x"`, ETag{}, false},
		{`"x`, ETag{}, false},
		{`"x"y`, ETag{}, false},
		{"\"a b\"", ETag{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseETag(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RFC9110-8.8.3 ParseETag(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if s := (ETag{Opaque: "x", Weak: true}).String(); s != `W/"x"` {
		t.Errorf("String = %q", s)
	}
}

func TestETagListMatch(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		etag   string
		strong bool
		want   bool
	}{
		{"RFC9110-13.1.1-star", []string{"*"}, `"a"`, true, true},
		{"RFC9110-13.1.1-list-strong", []string{`"xyzzy", "r2d2xxxx", "c3piozzzz"`}, `"r2d2xxxx"`, true, true},
		{"RFC9110-13.1.1-weak-never-strong-match", []string{`W/"xyzzy"`}, `"xyzzy"`, true, false},
		{"RFC9110-13.1.2-weak-comparison", []string{`W/"xyzzy", W/"r2d2xxxx"`}, `"r2d2xxxx"`, false, true},
		{"RFC9110-13.1.2-multiple-lines", []string{`"a"`, `"b"`}, `"b"`, false, true},
		{"RFC9110-13.1.2-no-match", []string{`"a", "b"`}, `"c"`, false, false},
		{"RFC9110-13.1.2-no-current-etag", []string{`"a"`}, "", false, false},
		{"RFC9110-13.1.2-comma-inside-tag", []string{`"a,b"`}, `"a,b"`, false, true},
		{"RFC9110-13.1.2-malformed-stops", []string{`junk, "a"`}, `"a"`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ETagListMatch(tt.lines, tt.etag, tt.strong); got != tt.want {
				t.Fatalf("ETagListMatch = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckPreconditions(t *testing.T) {
	lm := t0.Add(-time.Hour)
	get, put := http.MethodGet, http.MethodPut
	tests := []struct {
		name   string
		method string
		req    http.Header
		etag   string
		lm     time.Time
		want   int
	}{
		{"RFC9110-13.2.2-none", get, hdr(), `"a"`, lm, 0},
		{"RFC9110-13.1.1-if-match-matches", put, hdr("If-Match", `"a"`), `"a"`, lm, 0},
		{"RFC9110-13.1.1-if-match-fails", put, hdr("If-Match", `"b"`), `"a"`, lm, 412},
		{"RFC9110-13.1.1-if-match-weak-fails", get, hdr("If-Match", `W/"a"`), `W/"a"`, lm, 412},
		{"RFC9110-13.1.1-if-match-star", put, hdr("If-Match", "*"), `"a"`, lm, 0},
		{"RFC9110-13.1.4-if-unmodified-since-fails", put, hdr("If-Unmodified-Since", date(-2*time.Hour)), `"a"`, lm, 412},
		{"RFC9110-13.1.4-if-unmodified-since-passes", put, hdr("If-Unmodified-Since", date(-time.Hour)), `"a"`, lm, 0},
		{"RFC9110-13.2.2-if-match-overrides-if-unmodified-since", put, hdr("If-Match", `"a"`, "If-Unmodified-Since", date(-2*time.Hour)), `"a"`, lm, 0},
		{"RFC9110-13.1.2-if-none-match-get-304", get, hdr("If-None-Match", `W/"a"`), `"a"`, lm, 304},
		{"RFC9110-13.1.2-if-none-match-head-304", http.MethodHead, hdr("If-None-Match", `"a"`), `"a"`, lm, 304},
		{"RFC9110-13.1.2-if-none-match-put-412", put, hdr("If-None-Match", "*"), `"a"`, lm, 412},
		{"RFC9110-13.1.2-if-none-match-no-match", get, hdr("If-None-Match", `"b"`), `"a"`, lm, 0},
		{"RFC9110-13.1.3-if-modified-since-not-modified", get, hdr("If-Modified-Since", date(-time.Hour)), `"a"`, lm, 304},
		{"RFC9110-13.1.3-if-modified-since-modified", get, hdr("If-Modified-Since", date(-2*time.Hour)), `"a"`, lm, 0},
		{"RFC9110-13.1.3-if-modified-since-ignored-with-if-none-match", get, hdr("If-None-Match", `"b"`, "If-Modified-Since", date(0)), `"a"`, lm, 0},
		{"RFC9110-13.1.3-if-modified-since-ignored-for-put", put, hdr("If-Modified-Since", date(0)), `"a"`, lm, 0},
		{"RFC9110-13.1.3-if-modified-since-invalid-ignored", get, hdr("If-Modified-Since", "yesterday"), `"a"`, lm, 0},
		{"RFC9110-13.1.3-if-modified-since-without-last-modified", get, hdr("If-Modified-Since", date(0)), `"a"`, time.Time{}, 0},
		{"RFC9110-13.1.3-subsecond-last-modified", get, hdr("If-Modified-Since", date(-time.Hour)), `"a"`, lm.Add(500 * time.Millisecond), 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckPreconditions(tt.method, tt.req, tt.etag, tt.lm); got != tt.want {
				t.Fatalf("CheckPreconditions = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestConditionalRequest(t *testing.T) {
	tests := []struct {
		name   string
		stored http.Header
		want   http.Header
	}{
		{"RFC9111-4.3.1-etag-and-last-modified", hdr("ETag", `"v1"`, "Last-Modified", date(-time.Hour)),
			hdr("Accept", "*/*", "If-None-Match", `"v1"`, "If-Modified-Since", date(-time.Hour))},
		{"RFC9111-4.3.1-weak-etag", hdr("ETag", `W/"v1"`), hdr("Accept", "*/*", "If-None-Match", `W/"v1"`)},
		{"RFC9111-4.3.1-last-modified-only", hdr("Last-Modified", date(-time.Hour)), hdr("Accept", "*/*", "If-Modified-Since", date(-time.Hour))},
		{"RFC9111-4.3.1-no-validators", hdr(), hdr("Accept", "*/*")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := hdr("Accept", "*/*", "If-None-Match", `"client"`, "If-Match", `"x"`, "If-Range", `"x"`, "If-Modified-Since", date(0))
			ConditionalRequest(tt.stored, dst)
			if !reflect.DeepEqual(dst, tt.want) {
				t.Fatalf("got %v, want %v", dst, tt.want)
			}
		})
	}
}

func TestNotModifiedMatches(t *testing.T) {
	lm := date(-time.Hour)
	tests := []struct {
		name   string
		stored http.Header
		nm     http.Header
		want   bool
	}{
		{"RFC9111-4.3.4-strong-etag-match", hdr("ETag", `"a"`), hdr("ETag", `"a"`), true},
		{"RFC9111-4.3.4-strong-etag-mismatch", hdr("ETag", `"a"`), hdr("ETag", `"b"`), false},
		{"RFC9111-4.3.4-strong-in-304-weak-stored", hdr("ETag", `W/"a"`), hdr("ETag", `"a"`), false},
		{"RFC9111-4.3.4-weak-etag-match", hdr("ETag", `"a"`), hdr("ETag", `W/"a"`), true},
		{"RFC9111-4.3.4-etag-beats-last-modified", hdr("ETag", `"a"`, "Last-Modified", lm), hdr("ETag", `"b"`, "Last-Modified", lm), false},
		{"RFC9111-4.3.4-last-modified-match", hdr("Last-Modified", lm), hdr("Last-Modified", lm), true},
		{"RFC9111-4.3.4-last-modified-mismatch", hdr("Last-Modified", lm), hdr("Last-Modified", date(0)), false},
		{"RFC9111-4.3.4-no-validators-both", hdr(), hdr("Date", date(0)), true},
		{"RFC9111-4.3.4-no-validator-in-304-to-own-conditional", hdr("ETag", `"a"`), hdr("Date", date(0)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NotModifiedMatches(tt.stored, tt.nm); got != tt.want {
				t.Fatalf("NotModifiedMatches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMergeNotModified(t *testing.T) {
	stored := hdr("Date", date(-time.Hour), "Cache-Control", "max-age=60", "ETag", `"a"`,
		"Content-Length", "1234", "Content-Encoding", "gzip", "Content-Type", "text/html", "X-Old", "1")
	nm := hdr("Date", date(0), "Cache-Control", `max-age=120, private="X-User"`, "ETag", `"a"`,
		"Content-Length", "0", "Content-Encoding", "br", "Connection", "X-Hop", "X-Hop", "1",
		"Transfer-Encoding", "chunked", "Set-Cookie", "s=1", "X-User", "bob", "X-New", "2")
	want := hdr("Date", date(0), "Cache-Control", `max-age=120, private="X-User"`, "ETag", `"a"`,
		"Content-Length", "1234", "Content-Encoding", "gzip", "Content-Type", "text/html", "X-Old", "1", "X-New", "2")
	storedCopy, nmCopy := stored.Clone(), nm.Clone()
	got := MergeNotModified(stored, nm)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("RFC9111-3.2 MergeNotModified\n got %v\nwant %v", got, want)
	}
	if !reflect.DeepEqual(stored, storedCopy) || !reflect.DeepEqual(nm, nmCopy) {
		t.Fatal("inputs modified")
	}
}

func TestStrongLastModified(t *testing.T) {
	if _, ok := StrongLastModified(hdr("Date", date(0), "Last-Modified", date(-59*sec))); ok {
		t.Error("RFC9110-8.8.2.2: Last-Modified 59s before Date is weak")
	}
	if lm, ok := StrongLastModified(hdr("Date", date(0), "Last-Modified", date(-60*sec))); !ok || !lm.Equal(t0.Add(-60*sec)) {
		t.Error("RFC9110-8.8.2.2: Last-Modified 60s before Date is strong")
	}
}
