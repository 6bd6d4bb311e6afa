package httpcache_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/selfcdn/cdn/httpcache"
)

// A shared cache receives a response, stores it, serves it while fresh,
// serves it stale while revalidating, then revalidates it with a 304.
func Example() {
	var p httpcache.Policy // zero value: shared-cache defaults
	sent := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	received := sent.Add(100 * time.Millisecond)

	resp := http.Header{}
	resp.Set("Date", httpcache.FormatHTTPDate(sent))
	resp.Set("Cache-Control", "public, max-age=60, stale-while-revalidate=30")
	resp.Set("ETag", `"v1"`)

	req := http.Header{}
	if ok, reason := httpcache.Storable(http.MethodGet, req, 200, resp, p); !ok {
		fmt.Println("not stored:", reason)
		return
	}
	e := httpcache.NewEntry(200, resp, sent, received, p)

	for _, after := range []time.Duration{10 * time.Second, 75 * time.Second, 2 * time.Minute} {
		d := httpcache.Evaluate(req, e, received.Add(after))
		fmt.Printf("after %v: fresh=%v swr=%v validate=%v ttl=%v\n", after, d.Fresh, d.StaleWhileRevalidate, d.MustValidate, d.TTL.Round(time.Second))
	}

	up := http.Header{}
	httpcache.ConditionalRequest(e.Header, up)
	fmt.Println("If-None-Match:", up.Get("If-None-Match"))

	nm := http.Header{}
	nm.Set("ETag", `"v1"`)
	nm.Set("Cache-Control", "public, max-age=300")
	if httpcache.NotModifiedMatches(e.Header, nm) {
		now := received.Add(2 * time.Minute)
		e = e.Revalidated(nm, now, now, p)
	}
	ttl := int64(e.Lifetime / time.Second)
	fmt.Println(httpcache.AppendCacheStatus("", httpcache.Status{Cache: "edge-1", Fwd: httpcache.FwdStale, FwdStatus: 304, TTL: &ttl, Stored: true}))
	// Output:
	// after 10s: fresh=true swr=false validate=false ttl=50s
	// after 1m15s: fresh=false swr=true validate=false ttl=-15s
	// after 2m0s: fresh=false swr=false validate=true ttl=-1m0s
	// If-None-Match: "v1"
	// edge-1; fwd=stale; fwd-status=304; ttl=300; stored
}
