package httpcache

import (
	"reflect"
	"testing"
)

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want CacheControl
	}{
		{"RFC9111-5.2-absent", nil, none()},
		{"RFC9111-5.2-empty", []string{""}, none()},
		{"RFC9111-5.2.2.1-max-age-public", []string{"public, max-age=3600"},
			with(func(c *CacheControl) { c.Public = true; c.MaxAge = 3600 * sec })},
		{"RFC9111-5.2-directive-names-case-insensitive", []string{"Max-Age=60, NO-STORE, Public"},
			with(func(c *CacheControl) { c.MaxAge = 60 * sec; c.NoStore = true; c.Public = true })},
		{"RFC9110-5.3-field-lines-combine", []string{"max-age=60", "no-transform", "s-maxage=10"},
			with(func(c *CacheControl) { c.MaxAge = 60 * sec; c.NoTransform = true; c.SMaxAge = 10 * sec })},
		{"RFC9110-5.6.1-whitespace-and-empty-members", []string{" ,, max-age=60 ,\tpublic ,, "},
			with(func(c *CacheControl) { c.MaxAge = 60 * sec; c.Public = true })},
		{"RFC9111-5.2-space-before-equals-invalid", []string{"max-age =3600"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-5.2-space-after-equals-invalid", []string{"max-age= 3600"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-5.2-space-around-equals-invalid-s-maxage", []string{"s-maxage = 3600, max-age=60"},
			with(func(c *CacheControl) { c.Invalid = true; c.MaxAge = 60 * sec })},
		{"RFC9111-4.2.1-invalid-max-age-leading-alpha", []string{"max-age=a100"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-4.2.1-invalid-max-age-decimal-zero", []string{"max-age=3600.0"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-4.2.1-invalid-max-age-single-quoted", []string{"max-age='3600'"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-1.2.2-leading-zeros", []string{"max-age=003600"},
			with(func(c *CacheControl) { c.MaxAge = 3600 * sec })},
		{"RFC9111-4.2.1-duplicate-first-occurrence-wins-same-line", []string{"max-age=1, max-age=1800"},
			with(func(c *CacheControl) { c.MaxAge = 1 * sec })},
		{"RFC9111-4.2.1-valid-first-occurrence-wins-over-invalid-later", []string{"max-age=60, max-age=x"},
			with(func(c *CacheControl) { c.MaxAge = 60 * sec })},
		{"RFC9111-4.2.1-duplicate-s-maxage-first-wins", []string{"s-maxage=10", "s-maxage=20"},
			with(func(c *CacheControl) { c.SMaxAge = 10 * sec })},
		{"RFC9111-5.2-max-age-inside-quoted-extension-ignored", []string{`extension="max-age=3600", max-age=1`},
			with(func(c *CacheControl) {
				c.MaxAge = 1 * sec
				c.Extensions = map[string]string{"extension": "max-age=3600"}
			})},
		{"RFC9111-5.2-quoted-argument-accepted-for-delta-seconds", []string{`max-age="60"`},
			with(func(c *CacheControl) { c.MaxAge = 60 * sec })},
		{"RFC9111-5.2.2.10-s-maxage", []string{"s-maxage=120, max-age=60"},
			with(func(c *CacheControl) { c.SMaxAge = 120 * sec; c.MaxAge = 60 * sec })},
		{"RFC9111-1.2.2-delta-seconds-capped-at-2^31", []string{"max-age=99999999999999999999999"},
			with(func(c *CacheControl) { c.MaxAge = (1 << 31) * sec })},
		{"RFC9111-1.2.2-delta-seconds-2^31-kept", []string{"max-age=2147483648"},
			with(func(c *CacheControl) { c.MaxAge = (1 << 31) * sec })},
		{"RFC9111-4.2.1-duplicate-first-occurrence-wins", []string{"max-age=60", "max-age=120"},
			with(func(c *CacheControl) { c.MaxAge = 60 * sec })},
		{"RFC9111-4.2.1-invalid-max-age-non-integer", []string{"max-age=1.5"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-4.2.1-invalid-max-age-negative", []string{"max-age=-1"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-4.2.1-invalid-max-age-missing-value", []string{"max-age"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-4.2.1-invalid-max-age-trailing-junk", []string{"max-age=60abc"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-4.2.1-invalid-first-occurrence-still-wins", []string{"max-age=x, max-age=60"},
			with(func(c *CacheControl) { c.Invalid = true })},
		{"RFC9111-4.2.1-invalid-s-maxage", []string{"s-maxage=soon, max-age=60"},
			with(func(c *CacheControl) { c.Invalid = true; c.MaxAge = 60 * sec })},
		{"RFC9111-5.2.1.2-max-stale-without-value", []string{"max-stale"},
			with(func(c *CacheControl) { c.MaxStaleAny = true })},
		{"RFC9111-5.2.1.2-max-stale-with-value", []string{"max-stale=30"},
			with(func(c *CacheControl) { c.MaxStale = 30 * sec })},
		{"RFC9111-5.2.1.2-max-stale-invalid-ignored", []string{"max-stale=x"}, none()},
		{"RFC9111-5.2.1.3-min-fresh", []string{"min-fresh=20"},
			with(func(c *CacheControl) { c.MinFresh = 20 * sec })},
		{"RFC9111-5.2.1.7-only-if-cached", []string{"only-if-cached"},
			with(func(c *CacheControl) { c.OnlyIfCached = true })},
		{"RFC9111-5.2.2.4-unqualified-no-cache", []string{"no-cache"},
			with(func(c *CacheControl) { c.NoCache = true })},
		{"RFC9111-5.2.2.4-qualified-no-cache", []string{`no-cache="Set-Cookie, x-trace"`},
			with(func(c *CacheControl) { c.NoCacheFields = []string{"Set-Cookie", "X-Trace"} })},
		{"RFC9111-5.2.2.4-token-form-no-cache-accepted", []string{`no-cache=set-cookie`},
			with(func(c *CacheControl) { c.NoCacheFields = []string{"Set-Cookie"} })},
		{"RFC9111-5.2.2.4-empty-field-list-is-unqualified", []string{`no-cache=""`},
			with(func(c *CacheControl) { c.NoCache = true })},
		{"RFC9111-5.2.2.7-qualified-private-with-comma-inside-quotes", []string{`private="X-User, X-Session", max-age=5`},
			with(func(c *CacheControl) { c.PrivateFields = []string{"X-User", "X-Session"}; c.MaxAge = 5 * sec })},
		{"RFC9111-5.2.2.7-unqualified-private", []string{"private"},
			with(func(c *CacheControl) { c.Private = true })},
		{"RFC9111-5.2.2.2-revalidate-directives", []string{"must-revalidate, proxy-revalidate"},
			with(func(c *CacheControl) { c.MustRevalidate = true; c.ProxyRevalidate = true })},
		{"RFC9111-5.2.2.3-must-understand", []string{"must-understand, no-store"},
			with(func(c *CacheControl) { c.MustUnderstand = true; c.NoStore = true })},
		{"RFC8246-immutable", []string{"max-age=31536000, immutable"},
			with(func(c *CacheControl) { c.MaxAge = 31536000 * sec; c.Immutable = true })},
		{"RFC5861-3-4-stale-extensions", []string{"max-age=600, stale-while-revalidate=30, stale-if-error=86400"},
			with(func(c *CacheControl) {
				c.MaxAge = 600 * sec
				c.StaleWhileRevalidate = 30 * sec
				c.StaleIfError = 86400 * sec
			})},
		{"RFC5861-3-invalid-value-means-absent", []string{"stale-while-revalidate=soon"}, none()},
		{"RFC9111-5.2.3-extension-example", []string{`private, community="UCI"`},
			with(func(c *CacheControl) { c.Private = true; c.Extensions = map[string]string{"community": "UCI"} })},
		{"RFC9111-5.2.3-extension-name-lowercased-first-wins", []string{`Foo=1, foo=2, bar`},
			with(func(c *CacheControl) { c.Extensions = map[string]string{"foo": "1", "bar": ""} })},
		{"RFC9110-5.6.4-quoted-pair", []string{`ext="a\"b\\c,d"`},
			with(func(c *CacheControl) { c.Extensions = map[string]string{"ext": `a"b\c,d`} })},
		{"RFC9110-5.6.4-unterminated-quote", []string{`ext="abc, max-age=5`},
			with(func(c *CacheControl) { c.Extensions = map[string]string{"ext": "abc, max-age=5"} })},
		{"RFC9111-5.2-junk-skipped", []string{`=x, "q,uoted", ;;, public`},
			with(func(c *CacheControl) { c.Public = true })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseCacheControl(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseCacheControl(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
			again := ParseCacheControl([]string{got.String()})
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("re-parse of %q\n got %+v\nwant %+v", got.String(), again, got)
			}
		})
	}
}

func TestCacheControlString(t *testing.T) {
	cc := ParseCacheControl([]string{`Public, max-age=60, no-cache="set-cookie", x-ext="a b"`})
	want := `max-age=60, no-cache="Set-Cookie", public, x-ext="a b"`
	if got := cc.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

func TestParseCacheControlAllocations(t *testing.T) {
	in := []string{"public, max-age=3600"}
	if n := testing.AllocsPerRun(100, func() { ParseCacheControl(in) }); n != 0 {
		t.Fatalf("ParseCacheControl(%q) allocates %v times, want 0", in, n)
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{
		"public, max-age=3600", `no-cache="Set-Cookie", private="a, b"`, "max-stale", "max-age=x",
		`ext="a\"b"`, "s-maxage=1, stale-while-revalidate=2, stale-if-error=3", `"`, `a="\`, "=,=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cc := ParseCacheControl([]string{s})
		canon := cc.String()
		again := ParseCacheControl([]string{canon})
		if !reflect.DeepEqual(again, cc) {
			t.Fatalf("re-parse of %q (from %q)\n got %+v\nwant %+v", canon, s, again, cc)
		}
		if again.String() != canon {
			t.Fatalf("String not stable: %q then %q", canon, again.String())
		}
	})
}

func BenchmarkParseCacheControl(b *testing.B) {
	in := []string{"public, max-age=3600"}
	b.ReportAllocs()
	for b.Loop() {
		ParseCacheControl(in)
	}
}
