package loadtest

import (
	"testing"
)

func TestParseCacheStatus(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    CacheStatus
		outcome string
		ok      bool
	}{
		{"RFC9211-2-last-member-is-nearest-client", `shield-1; fwd=miss; stored, edge-1; hit; ttl=30`,
			CacheStatus{Cache: "edge-1", Hit: true, TTL: 30, HasTTL: true}, outcomeHit, true},
		{"RFC9211-2.1-hit", `ExampleCache; hit`,
			CacheStatus{Cache: "ExampleCache", Hit: true}, outcomeHit, true},
		{"RFC9211-2.2-fwd-uri-miss-stored", `ExampleCache; fwd=uri-miss; stored`,
			CacheStatus{Cache: "ExampleCache", Fwd: "uri-miss", Stored: true}, outcomeMiss, true},
		{"RFC9211-2.2-fwd-vary-miss", `ExampleCache; fwd=vary-miss`,
			CacheStatus{Cache: "ExampleCache", Fwd: "vary-miss"}, outcomeMiss, true},
		{"RFC9211-2.3-fwd-stale-fwd-status", `ExampleCache; fwd=stale; fwd-status=304`,
			CacheStatus{Cache: "ExampleCache", Fwd: "stale", FwdStatus: 304}, outcomeRevalidated, true},
		{"RFC9211-2.4-negative-ttl-served-stale", `ExampleCache; hit; ttl=-412`,
			CacheStatus{Cache: "ExampleCache", Hit: true, TTL: -412, HasTTL: true}, outcomeStaleHit, true},
		{"RFC9211-3-two-caches-quoted-name", `OriginCache; hit; ttl=1100, "CDN Company Here"; hit; ttl=545`,
			CacheStatus{Cache: "CDN Company Here", Hit: true, TTL: 545, HasTTL: true}, outcomeHit, true},
		{"RFC9211-3-hit-then-collapsed-miss", `ReverseProxyCache; hit, ForwardProxyCache; fwd=uri-miss; collapsed; stored`,
			CacheStatus{Cache: "ForwardProxyCache", Fwd: "uri-miss", Collapsed: true, Stored: true}, outcomeMiss, true},
		{"RFC9211-2.2-bypass", `edge; fwd=bypass`, CacheStatus{Cache: "edge", Fwd: "bypass"}, outcomeBypass, true},
		{"RFC9211-2.2-method", `edge; fwd=method`, CacheStatus{Cache: "edge", Fwd: "method"}, outcomeBypass, true},
		{"RFC8941-3.1.2-boolean-false", `edge; hit=?0; fwd=miss`, CacheStatus{Cache: "edge", Fwd: "miss"}, outcomeMiss, true},
		{"RFC8941-3.1.2-boolean-true", `edge; hit=?1`, CacheStatus{Cache: "edge", Hit: true}, outcomeHit, true},
		{"quoted-name-with-comma-and-semicolon", `"a, b; c"; hit`, CacheStatus{Cache: "a, b; c", Hit: true}, outcomeHit, true},
		{"quoted-name-with-escape", `"say \"hi\""; fwd=miss`, CacheStatus{Cache: `say "hi"`, Fwd: "miss"}, outcomeMiss, true},
		{"whitespace-and-trailing-comma", `  edge-1 ;  hit ,  `, CacheStatus{Cache: "edge-1", Hit: true}, outcomeHit, true},
		{"unknown-params-skipped", `edge; key="/x"; detail=foo; hit`, CacheStatus{Cache: "edge", Hit: true}, outcomeHit, true},
		{"bad-ttl-ignored", `edge; ttl=abc; fwd=miss`, CacheStatus{Cache: "edge", Fwd: "miss"}, outcomeMiss, true},
		{"no-params-is-other", `edge`, CacheStatus{Cache: "edge"}, outcomeOther, true},
		{"empty", ``, CacheStatus{}, "", false},
		{"only-commas", ` , ,`, CacheStatus{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCacheStatus(tt.value)
			if ok != tt.ok {
				t.Fatalf("ParseCacheStatus(%q) ok = %v, want %v", tt.value, ok, tt.ok)
			}
			if !ok {
				return
			}
			if got != tt.want {
				t.Errorf("ParseCacheStatus(%q) = %+v, want %+v", tt.value, got, tt.want)
			}
			if o := got.outcome(); o != tt.outcome {
				t.Errorf("outcome = %q, want %q", o, tt.outcome)
			}
		})
	}
}

func FuzzParseCacheStatus(f *testing.F) {
	for _, s := range []string{
		`shield-1; fwd=miss; stored, edge-1; hit; ttl=30`,
		`"CDN Company Here"; hit; ttl=545`,
		`"unterminated; hit`,
		`a;;;b=,c=;=`,
		`edge; ttl=-99999999999999999999`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		cs, ok := ParseCacheStatus(v)
		if !ok && cs != (CacheStatus{}) {
			t.Fatalf("not ok but returned %+v", cs)
		}
		_ = cs.outcome()
	})
}
