package cache

import (
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PrimaryKey(tc.scheme, tc.host, tc.path, tc.query, tc.opts); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
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
