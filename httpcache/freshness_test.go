package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestFreshnessLifetime(t *testing.T) {
	tests := []struct {
		name      string
		resp      http.Header
		status    int
		p         Policy
		want      time.Duration
		heuristic bool
	}{
		{"RFC9111-4.2.1-max-age", hdr("Date", date(0), "Cache-Control", "max-age=60"), 200, Policy{}, 60 * sec, false},
		{"RFC9111-5.2.2.10-s-maxage-overrides-max-age", hdr("Date", date(0), "Cache-Control", "max-age=60, s-maxage=600"), 200, Policy{}, 600 * sec, false},
		{"RFC9111-5.3-max-age-overrides-expires", hdr("Date", date(0), "Cache-Control", "max-age=60", "Expires", date(time.Hour)), 200, Policy{}, 60 * sec, false},
		{"RFC9111-4.2.1-expires-minus-date", hdr("Date", date(0), "Expires", date(time.Hour)), 200, Policy{}, time.Hour, false},
		{"RFC9111-4.2.1-expires-in-past", hdr("Date", date(0), "Expires", date(-time.Hour)), 200, Policy{}, 0, false},
		{"RFC9111-5.3-invalid-expires-zero-is-expired", hdr("Date", date(0), "Expires", "0", "Last-Modified", date(-240*time.Hour)), 200, Policy{}, 0, false},
		{"RFC9111-4.2.1-first-expires-used", hdr("Date", date(0), "Expires", date(time.Hour), "Expires", date(2*time.Hour)), 200, Policy{}, time.Hour, false},
		{"RFC9111-4.2.1-date-missing-uses-response-time", hdr("Expires", date(time.Hour)), 200, Policy{}, time.Hour, false},
		{"RFC9110-5.6.7-expires-rfc850", hdr("Date", "Sun, 06 Nov 1994 08:49:37 GMT", "Expires", "Sunday, 06-Nov-94 09:49:37 GMT"), 200, Policy{}, time.Hour, false},
		{"RFC9111-4.2.1-invalid-max-age-is-stale", hdr("Date", date(0), "Cache-Control", "max-age=x", "Expires", date(time.Hour)), 200, Policy{}, 0, false},
		{"RFC9111-4.2.1-invalid-s-maxage-is-stale", hdr("Date", date(0), "Cache-Control", "s-maxage=-5, max-age=60"), 200, Policy{}, 0, false},
		{"RFC9111-4.2.1-valid-s-maxage-beats-invalid-max-age", hdr("Date", date(0), "Cache-Control", "s-maxage=5, max-age=x"), 200, Policy{}, 5 * sec, false},
		{"RFC9111-4.2.2-heuristic-ten-percent", hdr("Date", date(0), "Last-Modified", date(-10*time.Hour)), 200, Policy{}, time.Hour, true},
		{"RFC9111-4.2.2-heuristic-fraction-policy", hdr("Date", date(0), "Last-Modified", date(-10*time.Hour)), 200, Policy{HeuristicFraction: 0.5}, 5 * time.Hour, true},
		{"RFC9111-4.2.2-heuristic-capped", hdr("Date", date(0), "Last-Modified", date(-1000*24*time.Hour)), 200, Policy{}, 24 * time.Hour, true},
		{"RFC9111-4.2.2-heuristic-cap-policy", hdr("Date", date(0), "Last-Modified", date(-1000*time.Hour)), 404, Policy{MaxHeuristic: time.Hour}, time.Hour, true},
		{"RFC9111-4.2.2-no-heuristic-for-302", hdr("Date", date(0), "Last-Modified", date(-10*time.Hour)), 302, Policy{DefaultTTL: time.Minute}, 0, false},
		{"RFC9111-4.2.2-public-allows-heuristic", hdr("Date", date(0), "Cache-Control", "public", "Last-Modified", date(-10*time.Hour)), 302, Policy{}, time.Hour, true},
		{"RFC9111-4.2.2-last-modified-in-future-ignored", hdr("Date", date(0), "Last-Modified", date(time.Hour)), 200, Policy{DefaultTTL: time.Minute}, time.Minute, true},
		{"policy-default-ttl", hdr("Date", date(0)), 200, Policy{DefaultTTL: time.Minute}, time.Minute, true},
		{"policy-no-default-ttl", hdr("Date", date(0)), 200, Policy{}, 0, false},
		{"RFC9213-2.1-cdn-cache-control-max-age", hdr("Date", date(0), "Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600"), 200, Policy{}, 600 * sec, false},
		{"RFC9213-2.1-cdn-cache-control-ignores-expires", hdr("Date", date(0), "Expires", date(time.Hour), "CDN-Cache-Control", "stale-if-error=60"), 200, Policy{}, 0, false},
		{"RFC9213-2.1-cdn-cache-control-s-maxage", hdr("Date", date(0), "CDN-Cache-Control", "s-maxage=30, max-age=600"), 200, Policy{}, 30 * sec, false},
		{"RFC9213-2.1-ignored-by-policy", hdr("Date", date(0), "Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=600"), 200, Policy{IgnoreCDNCacheControl: true}, 60 * sec, false},
		{"RFC9213-2.1-blank-cdn-cache-control-ignored", hdr("Date", date(0), "Cache-Control", "max-age=60", "CDN-Cache-Control", " "), 200, Policy{}, 60 * sec, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, h := FreshnessLifetime(tt.resp, tt.status, t0, tt.p)
			if got != tt.want || h != tt.heuristic {
				t.Fatalf("FreshnessLifetime = %v, %v; want %v, %v", got, h, tt.want, tt.heuristic)
			}
		})
	}
}
