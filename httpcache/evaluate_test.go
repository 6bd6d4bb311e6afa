package httpcache

import (
	"net/http"
	"testing"
	"time"
)

// entry stores a 200 received at t0 with the given Cache-Control (and no Age),
// so that its age at t0+d is d.
func entry(cacheControl string) *Entry {
	return NewEntry(200, hdr("Date", date(0), "Cache-Control", cacheControl, "ETag", `"v"`), t0, t0, Policy{})
}

func TestEvaluate(t *testing.T) {
	type want struct{ fresh, validate, swr, sie, onlyIfCached bool }
	tests := []struct {
		name string
		req  http.Header
		cc   string
		at   time.Duration
		want want
	}{
		{"RFC9111-4.2-fresh", nil, "max-age=60", 30 * sec, want{fresh: true}},
		{"RFC9111-4.2-stale-at-lifetime", nil, "max-age=60", 60 * sec, want{validate: true}},
		{"RFC9111-4.2-stale", nil, "max-age=60", 90 * sec, want{validate: true}},
		{"RFC9111-5.2.2.4-response-no-cache-validates-when-fresh", nil, "max-age=60, no-cache", 0, want{validate: true}},
		{"RFC9111-5.2.1.4-request-no-cache", hdr("Cache-Control", "no-cache"), "max-age=60", 0, want{validate: true}},
		{"RFC9111-5.4-pragma-no-cache", hdr("Pragma", "no-cache"), "max-age=60", 0, want{validate: true}},
		{"RFC9111-5.4-pragma-ignored-with-cache-control", hdr("Pragma", "no-cache", "Cache-Control", "max-stale"), "max-age=60", 0, want{fresh: true}},
		{"RFC9111-5.2.1.1-request-max-age-zero", hdr("Cache-Control", "max-age=0"), "max-age=60", 0, want{validate: true}},
		{"RFC9111-5.2.1.1-request-max-age-satisfied", hdr("Cache-Control", "max-age=30"), "max-age=60", 20 * sec, want{fresh: true}},
		{"RFC9111-5.2.1.1-request-max-age-exceeded", hdr("Cache-Control", "max-age=10"), "max-age=60", 20 * sec, want{validate: true}},
		{"RFC9111-5.2.1.3-min-fresh-satisfied", hdr("Cache-Control", "min-fresh=30"), "max-age=60", 30 * sec, want{fresh: true}},
		{"RFC9111-5.2.1.3-min-fresh-not-satisfied", hdr("Cache-Control", "min-fresh=31"), "max-age=60", 30 * sec, want{validate: true}},
		{"RFC9111-5.2.1.2-max-stale-any", hdr("Cache-Control", "max-stale"), "max-age=60", time.Hour, want{fresh: true}},
		{"RFC9111-5.2.1.2-max-stale-within", hdr("Cache-Control", "max-stale=30"), "max-age=60", 90 * sec, want{fresh: true}},
		{"RFC9111-5.2.1.2-max-stale-beyond", hdr("Cache-Control", "max-stale=30"), "max-age=60", 91 * sec, want{validate: true}},
		{"RFC9111-5.2.2.2-must-revalidate-beats-max-stale", hdr("Cache-Control", "max-stale"), "max-age=60, must-revalidate", 90 * sec, want{validate: true}},
		{"RFC9111-5.2.2.8-proxy-revalidate-beats-max-stale", hdr("Cache-Control", "max-stale"), "max-age=60, proxy-revalidate", 90 * sec, want{validate: true}},
		{"RFC9111-5.2.2.10-s-maxage-implies-proxy-revalidate", hdr("Cache-Control", "max-stale"), "s-maxage=60", 90 * sec, want{validate: true}},
		{"RFC9111-5.2.2.4-no-cache-beats-max-stale", hdr("Cache-Control", "max-stale"), "max-age=60, no-cache", 90 * sec, want{validate: true}},
		{"RFC5861-3-swr-within-window", nil, "max-age=60, stale-while-revalidate=30", 90 * sec, want{swr: true}},
		{"RFC5861-3-swr-beyond-window", nil, "max-age=60, stale-while-revalidate=30", 91 * sec, want{validate: true}},
		{"RFC5861-3-swr-not-when-fresh", nil, "max-age=60, stale-while-revalidate=30", 10 * sec, want{fresh: true}},
		{"RFC5861-3-swr-with-s-maxage-honoured", nil, "s-maxage=60, stale-while-revalidate=30", 70 * sec, want{swr: true}},
		{"RFC9111-4.2.4-swr-not-with-must-revalidate", nil, "max-age=60, must-revalidate, stale-while-revalidate=30", 70 * sec, want{validate: true}},
		{"RFC9111-4.2.4-swr-not-with-proxy-revalidate", nil, "max-age=60, proxy-revalidate, stale-while-revalidate=30", 70 * sec, want{validate: true}},
		{"RFC5861-3-swr-not-with-no-cache", nil, "max-age=60, no-cache, stale-while-revalidate=30", 70 * sec, want{validate: true}},
		{"RFC5861-3-swr-not-when-request-no-cache", hdr("Cache-Control", "no-cache"), "max-age=60, stale-while-revalidate=30", 70 * sec, want{validate: true}},
		{"RFC5861-3-swr-not-beyond-request-max-age", hdr("Cache-Control", "max-age=65"), "max-age=60, stale-while-revalidate=30", 70 * sec, want{validate: true}},
		{"RFC5861-4-response-sie", nil, "max-age=60, stale-if-error=60", 120 * sec, want{validate: true, sie: true}},
		{"RFC5861-4-response-sie-expired", nil, "max-age=60, stale-if-error=60", 121 * sec, want{validate: true}},
		{"RFC9111-4.2.4-response-sie-not-with-must-revalidate", nil, "max-age=60, must-revalidate, stale-if-error=60", 90 * sec, want{validate: true}},
		{"RFC9111-4.2.4-response-sie-not-with-proxy-revalidate", nil, "max-age=60, proxy-revalidate, stale-if-error=60", 90 * sec, want{validate: true}},
		{"RFC9111-4.2.4-response-sie-not-with-s-maxage", nil, "s-maxage=60, stale-if-error=60", 90 * sec, want{validate: true}},
		{"RFC9111-4.2.4-response-sie-not-with-no-cache", nil, "max-age=60, no-cache, stale-if-error=60", 90 * sec, want{validate: true}},
		{"RFC5861-4-request-sie", hdr("Cache-Control", "stale-if-error=60"), "max-age=60", 90 * sec, want{validate: true, sie: true}},
		{"RFC9111-5.2.2.2-must-revalidate-beats-request-sie", hdr("Cache-Control", "stale-if-error=60"), "max-age=60, must-revalidate", 90 * sec, want{validate: true}},
		{"RFC5861-3-4-swr-and-sie", nil, "max-age=60, stale-while-revalidate=30, stale-if-error=600", 70 * sec, want{swr: true, sie: true}},
		{"RFC9111-5.2.1.7-only-if-cached-fresh", hdr("Cache-Control", "only-if-cached"), "max-age=60", 10 * sec, want{fresh: true, onlyIfCached: true}},
		{"RFC9111-5.2.1.7-only-if-cached-stale", hdr("Cache-Control", "only-if-cached"), "max-age=60", 70 * sec, want{validate: true, onlyIfCached: true}},
		{"RFC9111-4.2.1-invalid-max-age-stale", nil, "max-age=x", 0, want{validate: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil {
				req = http.Header{}
			}
			e := entry(tt.cc)
			d := Evaluate(req, e, t0.Add(tt.at))
			got := want{d.Fresh, d.MustValidate, d.StaleWhileRevalidate, d.StaleIfError, d.OnlyIfCached}
			if got != tt.want {
				t.Fatalf("Evaluate = %+v, want %+v (decision %+v)", got, tt.want, d)
			}
			if d.Age != tt.at || d.TTL != d.Lifetime-d.Age {
				t.Fatalf("Age %v TTL %v Lifetime %v", d.Age, d.TTL, d.Lifetime)
			}
			// The same decision without the precomputed directives.
			e.Control = nil
			if d2 := Evaluate(req, e, t0.Add(tt.at)); d2 != d {
				t.Fatalf("without Entry.Control: %+v, want %+v", d2, d)
			}
		})
	}
}

func TestEvaluateAllocations(t *testing.T) {
	e := entry("public, max-age=3600")
	req := hdr("Accept", "*/*")
	if n := testing.AllocsPerRun(100, func() { Evaluate(req, e, t0.Add(sec)) }); n != 0 {
		t.Fatalf("Evaluate allocates %v times, want 0", n)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	e := entry("public, max-age=3600, stale-while-revalidate=60")
	req := hdr("Accept", "*/*", "Cache-Control", "max-age=0")
	now := t0.Add(sec)
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(req, e, now)
	}
}
