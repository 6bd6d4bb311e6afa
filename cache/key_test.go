package cache

import (
	"net/url"
	"strings"
	"testing"
)

func TestPrimaryKey(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		scheme, host, path, query string
		opts                      KeyOptions
		want                      string
	}{
		{"plain", "http", "Assets.Example.com", "/a/b", "", KeyOptions{}, "http://assets.example.com/a/b"},
		{"default-port-http", "http", "a.com:80", "/", "", KeyOptions{}, "http://a.com/"},
		{"default-port-https", "https", "a.com:443", "/", "", KeyOptions{}, "https://a.com/"},
		{"other-port-kept", "http", "a.com:8080", "/", "", KeyOptions{}, "http://a.com:8080/"},
		{"ipv6", "http", "[::1]:80", "/", "", KeyOptions{}, "http://[::1]/"},
		{"empty-path", "http", "a.com", "", "", KeyOptions{}, "http://a.com/"},
		{"query-kept", "http", "a.com", "/", "b=2&a=1", KeyOptions{}, "http://a.com/?b=2&a=1"},
		{"query-sorted", "http", "a.com", "/", "b=2&a=1&a=0", KeyOptions{SortQuery: true}, "http://a.com/?a=0&a=1&b=2"},
		{"query-ignored", "http", "a.com", "/x", "b=2", KeyOptions{IgnoreQuery: true}, "http://a.com/x"},
		{"trailing-dot", "http", "a.com.", "/", "", KeyOptions{}, "http://a.com/"},
		{"RFC3986-6.2.2.2-encoded-unreserved-alias", "http", "a.com", "/gen/p4alia%73", "", KeyOptions{}, "http://a.com/gen/p4alias"},
		{"RFC3986-6.2.2.1-hex-case", "http", "a.com", "/x%2e%2E%2fy", "", KeyOptions{}, "http://a.com/x..%2Fy"},
		{"RFC3986-6.2.2.3-dot-segments", "http", "a.com", "/a/./b/../c", "", KeyOptions{}, "http://a.com/a/c"},
		{"RFC3986-6.2.2.3-encoded-dot-segments", "http", "a.com", "/a/%2e%2E/b", "", KeyOptions{}, "http://a.com/b"},
		{"RFC3986-6.2.2.2-query-unreserved-decoded", "http", "a.com", "/", "q=%61%2b%2F", KeyOptions{}, "http://a.com/?q=a%2B%2F"},
		{"RFC3986-6.2.2-query-sorted-after-normalising", "http", "a.com", "/", "%62=1&a=2", KeyOptions{SortQuery: true}, "http://a.com/?a=2&b=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PrimaryKey(tc.scheme, tc.host, tc.path, tc.query, tc.opts); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNormalizePath(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"RFC3986-6.2.2.2-decode-unreserved", "/%41%7a%30%2D%2E%5F%7E", "/Az0-._~"},
		{"RFC3986-6.2.2.2-reserved-kept", "/a%2Fb%3Fc%23d%25e%20f", "/a%2Fb%3Fc%23d%25e%20f"},
		{"RFC3986-6.2.2.1-hex-upper-cased", "/a%2fb%3fc%c3%a9", "/a%2Fb%3Fc%C3%A9"},
		{"RFC3986-6.2.2.2-lower-and-upper-same", "/%2e", "/"},
		{"RFC3986-6.2.2.2-percent-2e-upper", "/a/%2E/b", "/a/b"},
		{"RFC3986-2.4-invalid-escape-is-literal-percent", "/a%zz%4", "/a%25zz%254"},
		{"RFC3986-2.4-trailing-percent", "/a%", "/a%25"},
		{"RFC3986-2.4-no-escape-formed-after-literal-percent", "/%%34%31", "/%2541"},
		{"RFC3986-6.2.2.2-no-double-decoding", "/%252e%252e/x", "/%252e%252e/x"},
		{"RFC3986-5.4.1-example-g", "/a/b/c/./../../g", "/a/g"},
		{"RFC3986-5.4.1-mid-content", "mid/content=5/../6", "mid/6"},
		{"RFC3986-5.2.4-above-root", "/../../a", "/a"},
		{"RFC3986-5.2.4-trailing-dot-dot", "/a/b/..", "/a/"},
		{"RFC3986-5.2.4-trailing-dot", "/a/b/.", "/a/b/"},
		{"RFC3986-5.2.4-dots-in-names-kept", "/a..b/.c/..d/", "/a..b/.c/..d/"},
		{"RFC3986-5.2.4-double-slash-kept", "//a//b", "//a//b"},
		{"RFC3986-6.2.3-empty-path", "", "/"},
		{"RFC3986-5.2.4-only-dot-dot", "/..", "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NormalizePath(tc.in)
			if got != tc.want {
				t.Fatalf("NormalizePath(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := NormalizePath(got); again != got {
				t.Fatalf("not idempotent: %q then %q", got, again)
			}
		})
	}
}

func TestPurgeKeyMatchesRequestKey(t *testing.T) {
	// Requests and purges build keys with PrimaryKey from url.URL.EscapedPath:
	// an alias purged by either spelling hits the same key.
	for _, pair := range [][2]string{
		{"http://a.com/gen/p4alia%73", "http://a.com/gen/p4alias"},
		{"http://a.com/x/%2e%2e/y", "http://a.com/y"},
		{"http://a.com/%7Euser", "http://a.com/~user"},
	} {
		var keys [2]string
		for i, raw := range pair {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			keys[i] = PrimaryKey(u.Scheme, u.Host, u.EscapedPath(), u.RawQuery, KeyOptions{})
		}
		if keys[0] != keys[1] {
			t.Errorf("RFC3986-6.2.2: %q and %q give keys %q and %q", pair[0], pair[1], keys[0], keys[1])
		}
	}
	u, _ := url.Parse("http://a.com/a%2Fb")
	v, _ := url.Parse("http://a.com/a/b")
	if PrimaryKey("http", u.Host, u.EscapedPath(), "", KeyOptions{}) == PrimaryKey("http", v.Host, v.EscapedPath(), "", KeyOptions{}) {
		t.Error("RFC3986-2.2: %2F and / share a key")
	}
}

// FuzzNormalizePath: never panics, normalising twice equals once, reserved
// escapes are never decoded, and no dot segment survives.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/gen/p4alia%73", "/a/%2e%2E/../b/./c", "%2F%2f%zz%", "mid/content=5/../6", "/./..//.%2e/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := NormalizePath(p)
		if again := NormalizePath(n); again != n {
			t.Fatalf("NormalizePath(%q) = %q, then %q", p, n, again)
		}
		if strings.Count(n, "/") > max(1, strings.Count(p, "/")) {
			// Slashes only disappear with dot segments; %2F is never
			// decoded into one.
			t.Fatalf("NormalizePath(%q) = %q decoded a %%2F", p, n)
		}
		for _, seg := range strings.Split(n, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("NormalizePath(%q) = %q keeps a dot segment", p, n)
			}
		}
		if q := NormalizeEscapes(p); NormalizeEscapes(q) != q {
			t.Fatalf("NormalizeEscapes not idempotent on %q", p)
		}
	})
}

func TestVariantKeyCannotBeForged(t *testing.T) {
	a := VariantKey("http://a/", []string{"Accept-Language", "X"}, []string{"en\x001:x", ""})
	b := VariantKey("http://a/", []string{"Accept-Language", "X"}, []string{"en", "x"})
	if a == b {
		t.Fatal("distinct Vary values produced one key")
	}
	if VariantKey("http://a/", nil, nil) != "http://a/" {
		t.Fatal("no Vary fields should give the primary key")
	}
}

// FuzzKeys checks that key building never panics and that distinct
// variant values never collide.
func FuzzKeys(f *testing.F) {
	f.Add("http", "a.com:80", "/p", "b=1&a=2", "en", "fr")
	f.Add("https", "[::1]:443", "", "%zz&&=", "", "\x00")
	f.Fuzz(func(t *testing.T, scheme, host, path, query, v1, v2 string) {
		for _, o := range []KeyOptions{{}, {SortQuery: true}, {IgnoreQuery: true}} {
			k := PrimaryKey(scheme, host, path, query, o)
			if !strings.Contains(k, "://") {
				t.Fatalf("key %q lacks a scheme separator", k)
			}
		}
		p := PrimaryKey(scheme, host, path, query, KeyOptions{})
		ka := VariantKey(p, []string{"Accept-Language"}, []string{v1})
		kb := VariantKey(p, []string{"Accept-Language"}, []string{v2})
		if (v1 == v2) != (ka == kb) {
			t.Fatalf("values %q and %q: keys equal=%v", v1, v2, ka == kb)
		}
		// Sorting is idempotent.
		s1 := sortQuery(query)
		if s2 := sortQuery(s1); s1 != s2 {
			t.Fatalf("sortQuery not idempotent: %q then %q", s1, s2)
		}
	})
}
