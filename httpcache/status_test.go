package httpcache

import "testing"

func TestStatusString(t *testing.T) {
	ttl := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		s    Status
		want string
	}{
		// The examples of RFC 9211 §3.
		{"RFC9211-3-minimal-hit", Status{Cache: "ExampleCache", Hit: true}, "ExampleCache; hit"},
		{"RFC9211-3-hit-ttl", Status{Cache: "ExampleCache", Hit: true, TTL: ttl(376)}, "ExampleCache; hit; ttl=376"},
		{"RFC9211-3-stale-hit", Status{Cache: "ExampleCache", Hit: true, TTL: ttl(-412)}, "ExampleCache; hit; ttl=-412"},
		{"RFC9211-3-miss", Status{Cache: "ExampleCache", Fwd: FwdURIMiss}, "ExampleCache; fwd=uri-miss"},
		{"RFC9211-3-validated", Status{Cache: "ExampleCache", Fwd: FwdStale, FwdStatus: 304}, "ExampleCache; fwd=stale; fwd-status=304"},
		{"RFC9211-3-collapsed", Status{Cache: "ExampleCache", Fwd: FwdURIMiss, Collapsed: true}, "ExampleCache; fwd=uri-miss; collapsed"},
		{"RFC9211-3-forward-proxy", Status{Cache: "ForwardProxyCache", Fwd: FwdURIMiss, Collapsed: true, Stored: true}, "ForwardProxyCache; fwd=uri-miss; collapsed; stored"},
		{"RFC9211-3-name-as-string", Status{Cache: "CDN Company Here", Hit: true, TTL: ttl(545)}, `"CDN Company Here"; hit; ttl=545`},
		{"RFC9211-2.7-key-and-detail", Status{Cache: "edge-1", Fwd: FwdBypass, Key: `GET https://a/"b"`, Detail: "no-store"}, `edge-1; fwd=bypass; key="GET https://a/\"b\""; detail=no-store`},
		{"RFC9211-2.8-detail-string", Status{Cache: "edge-1", Fwd: FwdMiss, Detail: "max-age too low"}, `edge-1; fwd=miss; detail="max-age too low"`},
		{"RFC8941-3.3.3-non-ascii-replaced", Status{Cache: "édge", Hit: true}, `"??dge"; hit`},
		{"RFC8941-3.3.1-integer-clamped", Status{Cache: "e", Hit: true, TTL: ttl(1 << 62)}, "e; hit; ttl=999999999999999"},
		{"example-stale-stored", Status{Cache: "edge-1", Fwd: FwdStale, FwdStatus: 304, TTL: ttl(30), Stored: true}, "edge-1; fwd=stale; fwd-status=304; ttl=30; stored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppendCacheStatus(t *testing.T) {
	ttl := int64(545)
	cdn := Status{Cache: "CDN Company Here", Hit: true, TTL: &ttl}
	// RFC 9211 §3: the cache closest to the user is the last member.
	if got, want := AppendCacheStatus("OriginCache; hit; ttl=1100", cdn), `OriginCache; hit; ttl=1100, "CDN Company Here"; hit; ttl=545`; got != want {
		t.Errorf("RFC9211-2-append = %q, want %q", got, want)
	}
	if got, want := AppendCacheStatus(" ", cdn), `"CDN Company Here"; hit; ttl=545`; got != want {
		t.Errorf("RFC9211-2-first = %q, want %q", got, want)
	}
	if got, want := AppendCacheStatus("a; hit, ", cdn), `a; hit, "CDN Company Here"; hit; ttl=545`; got != want {
		t.Errorf("RFC9211-2-trailing-comma = %q, want %q", got, want)
	}
}
