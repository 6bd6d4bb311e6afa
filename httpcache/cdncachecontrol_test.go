package httpcache

import (
	"reflect"
	"testing"
	"time"
)

func TestParseCDNCacheControl(t *testing.T) {
	tests := []struct {
		name   string
		in     []string
		want   CacheControl
		wantOK bool
	}{
		{"RFC9213-2.1-max-age", []string{"max-age=600"}, with(func(c *CacheControl) { c.MaxAge = 600 * sec }), true},
		{"RFC9213-2.1-flags-are-booleans", []string{"no-store, private, public, must-revalidate"},
			with(func(c *CacheControl) { c.NoStore = true; c.Private = true; c.Public = true; c.MustRevalidate = true }), true},
		{"RFC9213-2.1-field-lines-combine", []string{"max-age=60", "s-maxage=10"},
			with(func(c *CacheControl) { c.MaxAge = 60 * sec; c.SMaxAge = 10 * sec }), true},
		{"RFC9213-2.1-boolean-false-is-absent", []string{"no-store=?0, max-age=5"}, with(func(c *CacheControl) { c.MaxAge = 5 * sec }), true},
		{"RFC9213-2.1-parameters-ignored", []string{"max-age=60;foo=bar"}, with(func(c *CacheControl) { c.MaxAge = 60 * sec }), true},
		{"RFC9213-2.1-qualified-private-string", []string{`private="X-User, X-Session"`},
			with(func(c *CacheControl) { c.PrivateFields = []string{"X-User", "X-Session"} }), true},
		{"RFC9213-2.1-qualified-no-cache-inner-list", []string{`no-cache=("set-cookie" x-trace)`},
			with(func(c *CacheControl) { c.NoCacheFields = []string{"Set-Cookie", "X-Trace"} }), true},
		{"RFC9213-2.1-extension", []string{`max-age=5, community="UCI", foo=bar`},
			with(func(c *CacheControl) {
				c.MaxAge = 5 * sec
				c.Extensions = map[string]string{"community": "UCI", "foo": "bar"}
			}), true},
		{"RFC5861-stale-directives", []string{"stale-while-revalidate=30, stale-if-error=60"},
			with(func(c *CacheControl) { c.StaleWhileRevalidate = 30 * sec; c.StaleIfError = 60 * sec }), true},
		{"RFC5861-stale-directive-wrong-type-absent", []string{`max-age=5, stale-if-error="60"`},
			with(func(c *CacheControl) { c.MaxAge = 5 * sec }), true},
		{"RFC8941-3.2-duplicate-key-last-wins", []string{"max-age=5, max-age=10"}, with(func(c *CacheControl) { c.MaxAge = 10 * sec }), true},
		{"RFC9111-1.2.2-capped-at-2^31", []string{"max-age=999999999999999"}, with(func(c *CacheControl) { c.MaxAge = (1 << 31) * sec }), true},
		// Ignored as a whole: Cache-Control governs instead.
		{"RFC9213-2.1-parse-error-trailing-junk", []string{"max-age=10000, &&&&&"}, none(), false},
		{"RFC9213-2.1-max-age-string-wrong-type", []string{`max-age="10000"`}, none(), false},
		{"RFC9213-2.1-max-age-decimal-wrong-type", []string{"max-age=1.5"}, none(), false},
		{"RFC9213-2.1-max-age-negative", []string{"max-age=-1"}, none(), false},
		{"RFC9213-2.1-max-age-boolean", []string{"max-age"}, none(), false},
		{"RFC9213-2.1-s-maxage-token-wrong-type", []string{"s-maxage=a100"}, none(), false},
		{"RFC8941-3.2-uppercase-key-parse-error", []string{"Max-Age=60"}, none(), false},
		{"RFC8941-3.2-space-around-equals-parse-error", []string{"max-age = 60"}, none(), false},
		{"RFC8941-4.2.7-integer-too-long", []string{"max-age=10000000000000000"}, none(), false},
		{"RFC9213-2.1-empty", []string{" "}, none(), false},
		{"RFC9213-2.1-absent", nil, none(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCDNCacheControl(tt.in)
			if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseCDNCacheControl(%q)\n got %+v, %v\nwant %+v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestRFC8941Vectors runs a selection of the Structured Field Values test
// suite's dictionary vectors (github.com/httpwg/structured-field-tests,
// dictionary.json) through ParseCDNCacheControl: what must fail makes the
// field ignored.
func TestRFC8941Vectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []string
		ok   bool
	}{
		{"basic-dictionary", []string{`en="Applepie", da=:w4ZibGV0w6ZydGUK:`}, true},
		{"empty-value", []string{`a=()`}, true},
		{"single-item", []string{`a=1`}, true},
		{"list-item", []string{`a=(1 2)`}, true},
		{"no-whitespace", []string{`a=1,b=2`}, true},
		{"extra-whitespace", []string{`a=1 ,  b=2`}, true},
		{"tab-separated", []string{"a=1\t,\tb=2"}, true},
		{"leading-whitespace", []string{`     a=1 ,  b=2`}, true},
		{"whitespace-before-equals", []string{`a =1, b=2`}, false},
		{"whitespace-after-equals", []string{`a=1, b= 2`}, false},
		{"two-lines", []string{`a=1`, `b=2`}, true},
		{"missing-value", []string{`a=1, b, c=3`}, true},
		{"all-missing-value", []string{`a, b, c`}, true},
		{"start-missing-value", []string{`a, b=2`}, true},
		{"end-missing-value", []string{`a=1, b`}, true},
		{"missing-value-with-params", []string{`a=1, b;foo=9, c=3`}, true},
		{"explicit-true-value-with-params", []string{`a=1, b=?1;foo=9, c=3`}, true},
		{"trailing-comma", []string{`a=1, b=2,`}, false},
		{"empty-item", []string{`a=1,,b=2,`}, false},
		{"duplicate-key", []string{`a=1,b=2,a=3`}, true},
		{"numeric-key", []string{`a=1,1b=2,a=1`}, false},
		{"uppercase-key", []string{`a=1,B=2,a=1`}, false},
		{"bad-key-not-starting-with-a-letter", []string{`a=1,_b=2,a=1`}, false},
		{"string-with-bad-char", []string{`a="\x01"`}, false},
		{"unterminated-string", []string{`a="foo`}, false},
	} {
		t.Run("RFC8941-"+tc.name, func(t *testing.T) {
			// "a" and friends are extensions, so only the parse decides.
			if _, ok := ParseCDNCacheControl(tc.raw); ok != tc.ok {
				t.Fatalf("ParseCDNCacheControl(%q) ok = %v, want %v", tc.raw, ok, tc.ok)
			}
		})
	}
}

func TestControlFallsBackOnInvalidCDNCacheControl(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cdn     string
		fromCDN bool
		maxAge  int
	}{
		{"RFC9213-2.1-valid-governs", "max-age=10000", true, 10000},
		{"RFC9213-2.1-junk-falls-back", "max-age=10000, &&&&&", false, 60},
		{"RFC9213-2.1-string-falls-back", `max-age="10000"`, false, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hdr("Date", date(0), "Cache-Control", "max-age=60", "CDN-Cache-Control", tc.cdn)
			cc, fromCDN := Control(h, Policy{})
			if fromCDN != tc.fromCDN || cc.MaxAge != durationSecs(tc.maxAge) {
				t.Fatalf("Control: fromCDN=%v max-age=%v, want %v %ds", fromCDN, cc.MaxAge, tc.fromCDN, tc.maxAge)
			}
			if l, _ := FreshnessLifetime(h, 200, t0, Policy{}); l != durationSecs(tc.maxAge) {
				t.Fatalf("FreshnessLifetime = %v, want %ds", l, tc.maxAge)
			}
		})
	}
}

// FuzzParseCDNCacheControl: never panics, and an accepted field has
// absent (-1) or non-negative durations.
func FuzzParseCDNCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=10000, &&&&&", `max-age="1"`, `private=("a" b), s-maxage=5;x=1`, "no-store=?0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cc, ok := ParseCDNCacheControl([]string{s})
		if !ok {
			return
		}
		for _, d := range []time.Duration{cc.MaxAge, cc.SMaxAge, cc.StaleIfError, cc.StaleWhileRevalidate} {
			if d < -1 {
				t.Fatalf("ParseCDNCacheControl(%q) = %+v", s, cc)
			}
		}
	})
}
