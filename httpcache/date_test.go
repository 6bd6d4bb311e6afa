package httpcache

import (
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
