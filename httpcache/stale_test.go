package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestCanServeStaleOnError(t *testing.T) {
	const window = time.Hour
	tests := []struct {
		name   string
		cc     string
		req    http.Header
		at     time.Duration
		window time.Duration
		want   StaleOnErrorReason
	}{
		{"RFC9111-4.2.4-fresh", "max-age=60", nil, 30 * sec, window, StaleNotStale},
		{"RFC9111-4.2.4-default-window", "max-age=60", nil, 60*sec + window, window, StaleOnErrorDefault},
		{"RFC9111-4.2.4-beyond-default-window", "max-age=60", nil, 61*sec + window, window, StaleTooOld},
		{"RFC9111-4.2.4-window-off", "max-age=60", nil, 61 * sec, 0, StaleTooOld},
		{"RFC5861-4-response-sie-beyond-window", "max-age=60, stale-if-error=86400", nil, 2 * window, window, StaleIfErrorResponse},
		{"RFC5861-4-response-sie-expired-falls-to-window", "max-age=60, stale-if-error=10", nil, 120 * sec, window, StaleOnErrorDefault},
		{"RFC5861-4-request-sie", "max-age=60", hdr("Cache-Control", "stale-if-error=86400"), 2 * window, window, StaleIfErrorRequest},
		{"RFC9111-4.2.4-must-revalidate-forbids", "max-age=60, must-revalidate", nil, 61 * sec, window, StaleForbidden},
		{"RFC9111-4.2.4-must-revalidate-beats-sie", "max-age=60, must-revalidate, stale-if-error=3600", nil, 61 * sec, window, StaleForbidden},
		{"RFC9111-4.2.4-proxy-revalidate-forbids", "max-age=60, proxy-revalidate, stale-if-error=3600", nil, 61 * sec, window, StaleForbidden},
		{"RFC9111-5.2.2.10-s-maxage-forbids", "s-maxage=60, stale-if-error=3600", nil, 61 * sec, window, StaleForbidden},
		{"RFC9111-5.2.2.4-no-cache-forbids", "no-cache, stale-if-error=3600", nil, 0, window, StaleForbidden},
		{"RFC9111-4.2.4-must-revalidate-beats-request-sie", "max-age=60, must-revalidate", hdr("Cache-Control", "stale-if-error=3600"), 61 * sec, window, StaleForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := CanServeStaleOnError(entry(tt.cc), tt.req, t0.Add(tt.at), tt.window)
			wantOK := tt.want != StaleForbidden && tt.want != StaleTooOld
			if d.Reason != tt.want || d.Allowed != wantOK {
				t.Fatalf("CanServeStaleOnError = %+v (%v), want %v allowed=%v", d, d.Reason, tt.want, wantOK)
			}
		})
	}
}

func TestStaleOnErrorWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		want time.Duration
	}{
		{"default", Policy{}, DefaultStaleOnError},
		{"off", Policy{StaleOnError: -1}, 0},
		{"set", Policy{StaleOnError: 10 * time.Minute}, 10 * time.Minute},
		{"capped", Policy{StaleOnError: 30 * 24 * time.Hour}, MaxStaleOnError},
	} {
		if got := tc.p.StaleOnErrorWindow(); got != tc.want {
			t.Errorf("%s: StaleOnErrorWindow = %v, want %v", tc.name, got, tc.want)
		}
	}
	if err := (Policy{StaleOnError: MaxStaleOnError + 1}).Validate(); err == nil {
		t.Error("Validate accepted a StaleOnError above the maximum")
	}
}
