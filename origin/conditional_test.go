package origin

import (
	"net/http"
	"testing"
	"time"
)

func TestEvalPreconditions(t *testing.T) {
	const etag = `"abc"`
	lm := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	before := lm.Add(-time.Hour).Format(http.TimeFormat)
	at := lm.Format(http.TimeFormat)
	after := lm.Add(time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name   string
		method string
		header http.Header
		want   precondition
	}{
		{"no conditions", "GET", http.Header{}, proceed},
		// §13.1.1 If-Match, strong comparison.
		{"If-Match equal", "GET", http.Header{"If-Match": {`"abc"`}}, proceed},
		{"If-Match in list", "GET", http.Header{"If-Match": {`"x", "abc"`}}, proceed},
		{"If-Match star", "GET", http.Header{"If-Match": {"*"}}, proceed},
		{"If-Match other", "GET", http.Header{"If-Match": {`"x"`}}, preconditionFailed},
		{"If-Match weak never matches", "GET", http.Header{"If-Match": {`W/"abc"`}}, preconditionFailed},
		// §13.1.4 If-Unmodified-Since.
		{"IUS after", "GET", http.Header{"If-Unmodified-Since": {after}}, proceed},
		{"IUS equal", "GET", http.Header{"If-Unmodified-Since": {at}}, proceed},
		{"IUS before", "GET", http.Header{"If-Unmodified-Since": {before}}, preconditionFailed},
		{"IUS invalid ignored", "GET", http.Header{"If-Unmodified-Since": {"yesterday"}}, proceed},
		// §13.2.2 step 2: IUS only when If-Match is absent.
		{"If-Match wins over IUS", "GET", http.Header{"If-Match": {`"abc"`}, "If-Unmodified-Since": {before}}, proceed},
		// §13.1.2 If-None-Match, weak comparison.
		{"INM equal", "GET", http.Header{"If-None-Match": {`"abc"`}}, notModified},
		{"INM weak equal", "GET", http.Header{"If-None-Match": {`W/"abc"`}}, notModified},
		{"INM star", "HEAD", http.Header{"If-None-Match": {"*"}}, notModified},
		{"INM second line", "GET", http.Header{"If-None-Match": {`"x"`, `"y", "abc"`}}, notModified},
		{"INM other", "GET", http.Header{"If-None-Match": {`"x"`}}, proceed},
		{"INM on other method", "POST", http.Header{"If-None-Match": {`"abc"`}}, preconditionFailed},
		// §13.1.3 If-Modified-Since.
		{"IMS equal", "GET", http.Header{"If-Modified-Since": {at}}, notModified},
		{"IMS after", "GET", http.Header{"If-Modified-Since": {after}}, notModified},
		{"IMS before", "GET", http.Header{"If-Modified-Since": {before}}, proceed},
		{"IMS invalid ignored", "GET", http.Header{"If-Modified-Since": {"soon"}}, proceed},
		{"IMS two lines ignored", "GET", http.Header{"If-Modified-Since": {at, at}}, proceed},
		{"IMS not for POST", "POST", http.Header{"If-Modified-Since": {at}}, proceed},
		// §13.2.2 step 4: IMS only when If-None-Match is absent.
		{"INM miss beats IMS hit", "GET", http.Header{"If-None-Match": {`"x"`}, "If-Modified-Since": {after}}, proceed},
		{"INM hit beats IMS miss", "GET", http.Header{"If-None-Match": {`"abc"`}, "If-Modified-Since": {before}}, notModified},
		// §13.2.2 step 1 before step 3: a failed If-Match is 412 even when
		// If-None-Match would give 304.
		{"If-Match before INM", "GET", http.Header{"If-Match": {`"x"`}, "If-None-Match": {`"abc"`}}, preconditionFailed},
		{"IUS before INM", "GET", http.Header{"If-Unmodified-Since": {before}, "If-None-Match": {`"abc"`}}, preconditionFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evalPreconditions(tc.method, tc.header, etag, lm); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestMatchETags(t *testing.T) {
	tests := []struct {
		field string
		weak  bool
		want  bool
	}{
		{`"abc"`, false, true},
		{`  "x" ,, "abc" `, false, true},
		{`W/"abc"`, false, false}, // RFC 9110 §8.8.3.2: strong needs both strong
		{`W/"abc"`, true, true},
		{`"ab"`, true, false},
		{`abc`, true, false},
		{`"x", garbage, "abc"`, true, false}, // scan stops at the malformed member
		{`"abc`, true, false},
		{`*`, false, true},
		{``, true, false},
	}
	for _, tc := range tests {
		if got := matchETags([]string{tc.field}, `"abc"`, tc.weak); got != tc.want {
			t.Errorf("matchETags(%q, weak=%v) = %v, want %v", tc.field, tc.weak, got, tc.want)
		}
	}
	if matchETags([]string{"*"}, "", true) {
		t.Error(`"*" matched a resource without a current representation`)
	}
}

func TestEvalIfRange(t *testing.T) {
	lm := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		values []string
		want   bool
	}{
		{nil, true},
		{[]string{`"abc"`}, true},
		{[]string{`"abd"`}, false},
		{[]string{`W/"abc"`}, false}, // §13.1.5: weak tags never match
		{[]string{lm.Format(http.TimeFormat)}, true},
		{[]string{lm.Add(time.Second).Format(http.TimeFormat)}, false}, // exact match only
		{[]string{"garbage"}, false},
		{[]string{`"abc"`, `"abc"`}, false},
	}
	for _, tc := range tests {
		if got := evalIfRange(tc.values, `"abc"`, lm); got != tc.want {
			t.Errorf("evalIfRange(%q) = %v, want %v", tc.values, got, tc.want)
		}
	}
}

// TestConditionalOverHTTP checks the responses, not just the decision: a 304
// carries the caching fields and no content (RFC 9110 §15.4.5); a 412 is
// empty.
func TestConditionalOverHTTP(t *testing.T) {
	_, ts := startServer(t, Config{})
	u := ts.URL + "/gen/cond?size=500&cc=max-age=60&cdncc=max-age=10&expires=60&vary=Accept-Language&lm=1700000000"
	first, _ := get(t, u)
	etag := first.Header.Get("ETag")
	lm := first.Header.Get("Last-Modified")

	res, body := get(t, u, "If-None-Match", etag)
	if res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-None-Match: status %d, %d body bytes; want 304 and none", res.StatusCode, len(body))
	}
	for _, k := range []string{"Etag", "Cache-Control", "Cdn-Cache-Control", "Expires", "Vary", "Date", "Last-Modified"} {
		if res.Header.Get(k) == "" {
			t.Errorf("304 lacks %s", k)
		}
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Repr-Digest"} {
		if v, ok := res.Header[k]; ok {
			t.Errorf("304 carries %s: %q", k, v)
		}
	}

	res, _ = get(t, u, "If-Modified-Since", lm)
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("If-Modified-Since = Last-Modified: status %d, want 304", res.StatusCode)
	}
	res, body = get(t, u, "If-Match", `"other"`)
	if res.StatusCode != http.StatusPreconditionFailed || len(body) != 0 || res.Header.Get("Cache-Control") != "" {
		t.Errorf("If-Match other: status %d, %d body bytes, Cache-Control %q; want a bare 412",
			res.StatusCode, len(body), res.Header.Get("Cache-Control"))
	}
	res, body = get(t, u, "If-Match", etag)
	if res.StatusCode != http.StatusOK || len(body) != 500 {
		t.Errorf("If-Match current: status %d, %d bytes", res.StatusCode, len(body))
	}
	res, _ = get(t, u, "If-None-Match", `"stale"`, "If-Modified-Since", lm)
	if res.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match miss with If-Modified-Since hit: status %d, want 200 (§13.2.2)", res.StatusCode)
	}
}
