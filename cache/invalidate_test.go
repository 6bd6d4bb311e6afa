package cache

import (
	"fmt"
	"testing"
	"time"
)

func TestInvalidations(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	before, after := t0.Add(-time.Second), t0.Add(time.Second)
	var inv Invalidations
	if v := inv.Check("http://a/x", "a", nil, before); v != Valid {
		t.Fatalf("empty rules: %v", v)
	}
	inv.PurgeKey("http://a/x", Rule{At: t0})
	inv.PurgeTag("red", Rule{At: t0, Soft: true})
	inv.PurgePrefix("http://a/img/", Rule{At: t0})
	inv.PurgeSite("b", Rule{At: t0})
	for _, tc := range []struct {
		name, key, site string
		tags            []string
		origin          time.Time
		want            Verdict
	}{
		{"key-older", "http://a/x", "a", nil, before, Purged},
		{"key-same-instant", "http://a/x", "a", nil, t0, Purged},
		{"key-newer", "http://a/x", "a", nil, after, Valid},
		{"other-key", "http://a/y", "a", nil, before, Valid},
		{"tag-soft", "http://a/y", "a", []string{"blue", "red"}, before, Stale},
		{"tag-newer", "http://a/y", "a", []string{"red"}, after, Valid},
		{"prefix", "http://a/img/1.png", "a", nil, before, Purged},
		{"site", "http://b/any", "b", nil, before, Purged},
		{"hard-beats-soft", "http://a/x", "a", []string{"red"}, before, Purged},
	} {
		if v := inv.Check(tc.key, tc.site, tc.tags, tc.origin); v != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, v, tc.want)
		}
	}
	// A later soft purge never weakens an earlier hard one.
	inv.PurgeKey("http://a/x", Rule{At: t0.Add(time.Minute), Soft: true})
	if v := inv.Check("http://a/x", "a", nil, before); v != Purged {
		t.Fatalf("soft after hard: %v", v)
	}
}

func TestInvalidationsHorizon(t *testing.T) {
	inv := Invalidations{MaxRules: 100}
	base := time.Unix(2_000_000, 0)
	for i := range 150 {
		inv.PurgeKey(string(rune('a'+i%26))+time.Duration(i).String(), Rule{At: base.Add(time.Duration(i) * time.Second)})
	}
	if n := len(inv.keys); n > 100 {
		t.Fatalf("%d rules kept, want at most 100", n)
	}
	// Content older than the horizon is revalidated, never served as is.
	if v := inv.Check("http://never-purged/", "s", nil, base); v != Stale {
		t.Fatalf("old content under the horizon: %v, want Stale", v)
	}
	if v := inv.Check("http://never-purged/", "s", nil, base.Add(time.Hour)); v != Valid {
		t.Fatalf("new content: %v, want Valid", v)
	}
}

// Prefix rules are found by walking the key, not by scanning every rule:
// with many rules the right ones still apply, and only those.
func TestPrefixRulesIndexed(t *testing.T) {
	var inv Invalidations
	t0 := time.Unix(1000, 0)
	for i := range 50_000 {
		inv.PurgePrefix(fmt.Sprintf("https|a.test|/assets/%d/", i), Rule{At: t0})
	}
	inv.PurgePrefix("https|a.test|/img/", Rule{At: t0, Soft: true})
	inv.PurgePrefix("https|a.test|/img/x", Rule{At: t0})
	cases := []struct {
		key  string
		want Verdict
	}{
		{"https|a.test|/assets/7/app.js", Purged},
		{"https|a.test|/assets/77/app.js", Purged},
		{"https|a.test|/assets/50000/app.js", Valid},
		{"https|a.test|/assets/", Valid},
		{"https|a.test|/img/y.png", Stale},
		{"https|a.test|/img/x.png", Purged}, // the harder of two matching rules
		{"https|b.test|/img/x.png", Valid},
	}
	for _, c := range cases {
		if got := inv.Check(c.key, "a.test", nil, t0.Add(-time.Second)); got != c.want {
			t.Errorf("%s: verdict %v, want %v", c.key, got, c.want)
		}
		if got := inv.Check(c.key, "a.test", nil, t0.Add(time.Second)); got != Valid {
			t.Errorf("%s fetched after the rule: verdict %v, want Valid", c.key, got)
		}
	}
	if n := inv.Len(); n != 50_002 {
		t.Errorf("Len = %d, want 50002", n)
	}
}

// Past MaxRules the oldest prefix rules fold into the horizon.
func TestPrefixRulesPruned(t *testing.T) {
	inv := Invalidations{MaxRules: 100}
	t0 := time.Unix(1000, 0)
	for i := range 150 {
		inv.PurgePrefix(fmt.Sprintf("k/%03d/", i), Rule{At: t0.Add(time.Duration(i) * time.Second)})
	}
	if n := inv.Len(); n > 100 {
		t.Errorf("%d prefix rules kept, want at most 100", n)
	}
	// Content older than a folded rule is stale, never served unchecked.
	if got := inv.Check("k/000/x", "", nil, t0.Add(-time.Second)); got == Valid {
		t.Error("content older than a pruned rule counts as valid")
	}
	if got := inv.Check("k/149/x", "", nil, t0.Add(100*time.Second)); got != Purged {
		t.Errorf("newest rule: verdict %v, want Purged", got)
	}
}
