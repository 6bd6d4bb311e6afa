package httpcache

import (
	"net/http"
	"testing"
	"time"
)

func TestInitialAge(t *testing.T) {
	tests := []struct {
		name         string
		resp         http.Header
		requestTime  time.Time
		responseTime time.Time
		want         time.Duration
	}{
		// RFC 9111 §4.2.3: apparent_age = max(0, response_time - date_value);
		// corrected_age_value = age_value + response_delay.
		{"RFC9111-4.2.3-age-plus-response-delay",
			hdr("Date", date(0), "Age", "100"), t0, t0.Add(2 * sec), 102 * sec},
		{"RFC9111-4.2.3-apparent-age-larger",
			hdr("Date", date(-300*sec), "Age", "10"), t0.Add(-sec), t0, 300 * sec},
		{"RFC9111-4.2.3-date-in-future-clamped",
			hdr("Date", date(time.Hour)), t0, t0, 0},
		{"RFC9111-4.2.3-no-date-no-age",
			hdr(), t0.Add(-3 * sec), t0, 3 * sec},
		{"RFC9111-5.1-invalid-age-ignored",
			hdr("Date", date(0), "Age", "-5"), t0, t0, 0},
		{"RFC9111-5.1-list-age-first-member",
			hdr("Date", date(0), "Age", "30, 60"), t0, t0, 30 * sec},
		{"RFC9111-1.2.2-huge-age-capped",
			hdr("Date", date(0), "Age", "99999999999999999999"), t0, t0, (1 << 31) * sec},
		{"RFC9111-4.2.3-response-before-request-clamped",
			hdr("Date", date(0), "Age", "5"), t0.Add(sec), t0, 5 * sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InitialAge(tt.resp, tt.requestTime, tt.responseTime); got != tt.want {
				t.Fatalf("InitialAge = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEntryAge(t *testing.T) {
	// RFC9111-4.2.3: current_age = corrected_initial_age + resident_time.
	e := &Entry{InitialAge: 10 * sec, ResponseTime: t0}
	if got := e.Age(t0.Add(50 * sec)); got != 60*sec {
		t.Fatalf("Age = %v, want 60s", got)
	}
	if got := e.Age(t0.Add(-time.Hour)); got != 10*sec {
		t.Fatalf("Age with clock behind = %v, want 10s", got)
	}
}

func TestNewEntry(t *testing.T) {
	resp := hdr("Cache-Control", "max-age=600", "Age", "20", "Connection", "close", "Set-Cookie", "a=b")
	e := NewEntry(200, resp, t0.Add(-sec), t0, Policy{})
	if e.InitialAge != 21*sec || e.Lifetime != 600*sec {
		t.Fatalf("InitialAge %v Lifetime %v; want 21s 600s", e.InitialAge, e.Lifetime)
	}
	if e.Header.Get("Date") != date(0) {
		t.Fatalf("RFC9110-6.6.1: Date %q not added", e.Header.Get("Date"))
	}
	if e.Header.Get("Connection") != "" || e.Header.Get("Set-Cookie") != "" {
		t.Fatalf("stored header keeps hop-by-hop or Set-Cookie: %v", e.Header)
	}
	if e.Control == nil || e.Control.MaxAge != 600*sec {
		t.Fatalf("Control = %+v", e.Control)
	}
}

func TestEntryRevalidated(t *testing.T) {
	// RFC9111-4.3.4: a 304 refreshes the stored response's metadata; its age
	// and freshness restart from the 304.
	e := NewEntry(200, hdr("Date", date(-time.Hour), "Cache-Control", "max-age=60", "ETag", `"v1"`, "Content-Length", "5"), t0.Add(-time.Hour), t0.Add(-time.Hour), Policy{})
	nm := hdr("Date", date(0), "Cache-Control", "max-age=120", "ETag", `"v1"`, "Content-Length", "0")
	if !NotModifiedMatches(e.Header, nm) {
		t.Fatal("304 does not match")
	}
	r := e.Revalidated(nm, t0.Add(-sec), t0, Policy{})
	if r.Lifetime != 120*sec || r.InitialAge != sec || r.Header.Get("Content-Length") != "5" {
		t.Fatalf("Revalidated: lifetime %v age %v header %v", r.Lifetime, r.InitialAge, r.Header)
	}
	if d := Evaluate(http.Header{}, r, t0.Add(10*sec)); !d.Fresh {
		t.Fatalf("revalidated entry not fresh: %+v", d)
	}
	if e.Header.Get("Cache-Control") != "max-age=60" {
		t.Fatal("original entry modified")
	}
}
