package httpcache

import (
	"strings"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Time
		ok   bool
	}{
		// The three forms of one instant given in RFC 9110 §5.6.7.
		{"RFC9110-5.6.7-imf-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", want, true},
		{"RFC9110-5.6.7-rfc850", "Sunday, 06-Nov-94 08:49:37 GMT", want, true},
		{"RFC9110-5.6.7-asctime", "Sun Nov  6 08:49:37 1994", want, true},
		{"RFC9110-5.6.7-surrounding-whitespace", "  Sun, 06 Nov 1994 08:49:37 GMT ", want, true},
		{"RFC9110-5.6.7-leap-second", "Sat, 31 Dec 2016 23:59:60 GMT", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"RFC9110-5.6.7-zero-is-invalid", "0", time.Time{}, false},
		{"RFC9110-5.6.7-empty", "", time.Time{}, false},
		{"RFC9110-5.6.7-not-gmt", "Sun, 06 Nov 1994 08:49:37 PST", time.Time{}, false},
		{"RFC9110-5.6.7-month-case-sensitive", "Sun, 06 nov 1994 08:49:37 GMT", time.Time{}, false},
		{"RFC9110-5.6.7-day-out-of-range", "Thu, 31 Feb 2024 08:49:37 GMT", time.Time{}, false},
		{"RFC9110-5.6.7-hour-out-of-range", "Sun, 06 Nov 1994 24:49:37 GMT", time.Time{}, false},
		{"RFC9110-5.6.7-numeric-offset", "Sun, 06 Nov 1994 08:49:37 +0000", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseHTTPDate(tt.in)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Fatalf("ParseHTTPDate(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
			if ok && got.Location() != time.UTC {
				t.Fatalf("location %v, want UTC", got.Location())
			}
		})
	}
}

func TestParseHTTPDateAt(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		year int
	}{
		{"Sunday, 06-Nov-94 08:49:37 GMT", 1994},
		{"Friday, 06-Nov-70 08:49:37 GMT", 2070}, // 40 years ahead: kept
		{"Monday, 06-Nov-81 08:49:37 GMT", 1981}, // 51 years ahead: previous century
		{"Sun, 06 Nov 2094 08:49:37 GMT", 2094},  // four-digit years untouched
		{"Sun Nov  6 08:49:37 2094", 2094},
	}
	for _, tt := range tests {
		got, ok := ParseHTTPDateAt(tt.in, now)
		if !ok || got.Year() != tt.year {
			t.Errorf("RFC9110-5.6.7-two-digit-year ParseHTTPDateAt(%q) = %v, %v; want year %d", tt.in, got, ok, tt.year)
		}
	}
}

func TestFormatHTTPDate(t *testing.T) {
	in := time.Date(1994, time.November, 6, 9, 49, 37, 0, time.FixedZone("CET", 3600))
	if got := FormatHTTPDate(in); got != "Sun, 06 Nov 1994 08:49:37 GMT" {
		t.Fatalf("RFC9110-5.6.7 FormatHTTPDate = %q", got)
	}
	if got := string(AppendHTTPDate([]byte("x: "), in)); got != "x: Sun, 06 Nov 1994 08:49:37 GMT" {
		t.Fatalf("AppendHTTPDate = %q", got)
	}
}

func TestParseHTTPDateAllocations(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { ParseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") }); n != 0 {
		t.Fatalf("ParseHTTPDate allocates %v times for an IMF-fixdate, want 0", n)
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseHTTPDate(s)
		if !ok {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseHTTPDate(%q) in %v", s, got.Location())
		}
		if got.Year() < 0 || got.Year() > 9999 {
			return // not representable as an IMF-fixdate
		}
		again, ok := ParseHTTPDate(FormatHTTPDate(got))
		if !ok || !again.Equal(got.Truncate(time.Second)) {
			t.Fatalf("round trip of %q: %v via %q gives %v, %v", s, got, FormatHTTPDate(got), again, ok)
		}
	})
}

func TestParseExpires(t *testing.T) {
	want := time.Date(2050, time.August, 18, 2, 1, 18, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"RFC9111-5.3-imf-fixdate", "Thu, 18 Aug 2050 02:01:18 GMT", true},
		{"RFC9111-5.3-wrong-weekday", "Mon, 18 Aug 2050 02:01:18 GMT", true},
		{"RFC9111-5.3-wrong-case-weekday", "THU, 18 Aug 2050 02:01:18 GMT", true},
		{"RFC9111-5.3-wrong-case-month", "Thu, 18 AUG 2050 02:01:18 GMT", true},
		{"RFC9111-5.3-wrong-case-zone", "Thu, 18 Aug 2050 02:01:18 gMT", true},
		// RFC 9110 §5.6.7: HTTP-date is always GMT; "UTC" is another
		// zone name, as invalid as "PST" (the shared-cache suite requires
		// it not to be reused).
		{"RFC9111-5.3-utc-is-invalid", "Thu, 18 Aug 2050 02:01:18 UTC", false},
		{"RFC9111-5.3-wrong-weekday-and-case", "sunday, 18-aug-50 02:01:18 gmt", true},
		{"RFC9111-5.3-asctime-wrong-case", "THU AUG 18 02:01:18 2050", true},
		{"RFC9111-5.3-zero-is-invalid", "0", false},
		{"RFC9111-5.3-negative-is-invalid", "-1", false},
		{"RFC9111-5.3-empty-is-invalid", "", false},
		{"RFC9111-5.3-unknown-month", "Thu, 18 Agu 2050 02:01:18 GMT", false},
		{"RFC9111-5.3-unknown-zone", "Thu, 18 Aug 2050 02:01:18 PST", false},
		{"RFC9111-5.3-impossible-day", "Thu, 31 Feb 2050 02:01:18 GMT", false},
		{"RFC9111-5.3-too-long", "Thu, 18 Aug 2050 02:01:18 GMT and more text here", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseExpires(tc.in)
			if ok != tc.ok || (ok && !got.Equal(want)) {
				t.Fatalf("ParseExpires(%q) = %v, %v; want ok=%v", tc.in, got, ok, tc.ok)
			}
		})
	}
}

func TestExpiresFreshness(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expires string
		want    time.Duration
	}{
		{"RFC9111-5.3-wrong-case-month-fresh", strings.ToUpper(date(time.Hour)), time.Hour},
		{"RFC9111-5.3-invalid-means-expired", "tomorrow", 0},
		{"RFC9111-5.3-zero-means-expired", "0", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hdr("Date", date(0), "Expires", tc.expires)
			if got, _ := FreshnessLifetime(h, 200, t0, Policy{}); got != tc.want {
				t.Fatalf("FreshnessLifetime with Expires %q = %v, want %v", tc.expires, got, tc.want)
			}
		})
	}
}

// FuzzParseExpires checks that the tolerant Expires parser never panics,
// answers in UTC and accepts everything ParseHTTPDate accepts, with the
// same result.
func FuzzParseExpires(f *testing.F) {
	for _, s := range []string{"THU, 18 AUG 2050 02:01:18 gMT", "0", "sunday, 06-nov-94 08:49:37 utc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseExpires(s)
		if ok && got.Location() != time.UTC {
			t.Fatalf("ParseExpires(%q) in %v", s, got.Location())
		}
		if strict, sok := ParseHTTPDate(s); sok && (!ok || !strict.Equal(got)) {
			t.Fatalf("ParseExpires(%q) = %v, %v; ParseHTTPDate = %v", s, got, ok, strict)
		}
	})
}
