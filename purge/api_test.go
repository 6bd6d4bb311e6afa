package purge

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/selfcdn/cdn/cache"
)

// object is what a node's cache holds, as cache.Invalidations.Check sees it.
type object struct {
	primary, site string
	tags          []string
}

func TestPurgeConfirmedByEveryNode(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	names := []string{"edge-a", "edge-b", "shield-1"}
	var nodes []*testNode
	for _, n := range names {
		nodes = append(nodes, h.startNode(n))
	}
	img := object{"https://assets.example.com/img/logo.png", "assets.example.com", []string{"logos", "brand"}}
	css := object{"https://assets.example.com/css/site.css", "assets.example.com", []string{"styles"}}
	other := object{"https://www.example.com/index.html", "www.example.com", nil}

	tests := []struct {
		name     string
		body     string
		affected []object
		spared   []object
		want     cache.Verdict
	}{
		{"url", `{"urls": ["HTTPS://Assets.Example.com:443/img/logo.png"]}`, []object{img}, []object{css, other}, cache.Purged},
		{"prefix", `{"prefixes": ["https://assets.example.com/css/"]}`, []object{css}, []object{img, other}, cache.Purged},
		{"tag", `{"tags": ["brand"]}`, []object{img}, []object{css, other}, cache.Purged},
		{"all-string", `{"all": "www.example.com"}`, []object{other}, []object{img, css}, cache.Purged},
		{"all-list", `{"all": ["assets.example.com"]}`, []object{img, css}, []object{other}, cache.Purged},
		// Soft purge: stale, to be revalidated (RFC 9111 §4.3 validation).
		{"soft-tag", `{"tags": ["styles"], "soft": true}`, []object{css}, []object{img, other}, cache.Stale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, res := h.purge(tt.body)
			if code != http.StatusOK || res.Status != StatusConfirmed {
				t.Fatalf("POST: code %d status %q, want 200 confirmed; result %+v", code, res.Status, res)
			}
			if !slices.Equal(res.Confirmed, names) {
				t.Errorf("confirmed %v, want %v", res.Confirmed, names)
			}
			if len(res.Missing) != 0 || len(res.Failed) != 0 {
				t.Errorf("missing %v failed %v, want none", res.Missing, res.Failed)
			}
			if res.ID == "" || res.Time.IsZero() || res.Time.Before(start.Add(-time.Second)) {
				t.Errorf("id %q time %v: want an id and the purge time", res.ID, res.Time)
			}
			if len(res.LatencyMS) != len(names) {
				t.Errorf("latency_ms %v: want one per node", res.LatencyMS)
			}
			// Content that left the origin at the purge time is affected
			// ("at or before"); earlier cases' rules are all older than it,
			// so objects this purge does not name stay valid.
			before := res.Time
			after := res.Time.Add(time.Millisecond)
			for i, n := range nodes {
				for _, o := range tt.affected {
					if got := n.inv.Check(o.primary, o.site, o.tags, before); got != tt.want {
						t.Errorf("%s: %s from before the purge: verdict %v, want %v", names[i], o.primary, got, tt.want)
					}
					if got := n.inv.Check(o.primary, o.site, o.tags, after); got != cache.Valid {
						t.Errorf("%s: %s from after the purge: verdict %v, want Valid", names[i], o.primary, got)
					}
				}
				for _, o := range tt.spared {
					if got := n.inv.Check(o.primary, o.site, o.tags, before); got != cache.Valid {
						t.Errorf("%s: %s not named by the purge: verdict %v, want Valid", names[i], o.primary, got)
					}
				}
			}
		})
	}
}

func TestGetPurgeAfterTheFact(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.startNode("edge-a")
	code, res := h.purge(`{"urls": ["https://assets.example.com/a.js"]}`)
	if code != http.StatusOK {
		t.Fatalf("POST: %d %+v", code, res)
	}
	code, data := h.do(http.MethodGet, "/purge/"+res.ID, "")
	if code != http.StatusOK {
		t.Fatalf("GET: %d %s", code, data)
	}
	var got Result
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != res.ID || !got.Time.Equal(res.Time) || got.Status != StatusConfirmed || !slices.Equal(got.Confirmed, []string{"edge-a"}) {
		t.Errorf("GET result %+v, want the POST's %+v", got, res)
	}
	if got.DurationMS != res.DurationMS {
		t.Errorf("GET duration_ms %v, want the completion time %v", got.DurationMS, res.DurationMS)
	}
	code, data = h.do(http.MethodGet, "/purge/0123456789abcdef", "")
	if code != http.StatusNotFound || !strings.Contains(string(data), "unknown purge id") {
		t.Errorf("GET unknown id: %d %s, want 404 unknown purge id", code, data)
	}
}

func TestResultsAreBounded(t *testing.T) {
	h := newHarness(t, harnessOptions{maxResults: 2})
	var ids []string
	for i := range 3 {
		code, res := h.purge(`{"tags": ["t` + string(rune('a'+i)) + `"]}`)
		if code != http.StatusOK {
			t.Fatalf("POST %d: %d", i, code)
		}
		ids = append(ids, res.ID)
	}
	if code, _ := h.do(http.MethodGet, "/purge/"+ids[0], ""); code != http.StatusNotFound {
		t.Errorf("oldest of 3 with max_results 2: GET %d, want 404", code)
	}
	for _, id := range ids[1:] {
		if code, _ := h.do(http.MethodGet, "/purge/"+id, ""); code != http.StatusOK {
			t.Errorf("recent purge %s: GET %d, want 200", id, code)
		}
	}
}

func TestNoNodesAnnounced(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	code, res := h.purge(`{"tags": ["x"]}`)
	if code != http.StatusOK || res.Status != StatusConfirmed || !strings.Contains(res.Message, "no nodes") {
		t.Errorf("purge with no nodes: %d %+v, want 200 with a note that no nodes are announced", code, res)
	}
}
