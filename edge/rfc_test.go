package edge

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func q(cc string) string { return url.QueryEscape(cc) }

func TestRFC9111Storage(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	cases := []struct {
		name   string
		query  string
		hdr    []string
		stored bool
	}{
		{"RFC9111-3-max-age-stored", "cc=" + q("max-age=60"), nil, true},
		{"RFC9111-5.2.2.5-no-store", "cc=" + q("no-store"), nil, false},
		{"RFC9111-5.2.2.7-private", "cc=" + q("private, max-age=60"), nil, false},
		{"RFC9111-5.2.1.5-request-no-store", "cc=" + q("max-age=60"), []string{"Cache-Control", "no-store"}, false},
		{"RFC9111-3.5-authorization-not-shared", "cc=" + q("max-age=60"), []string{"Authorization", "Bearer x"}, false},
		{"RFC9111-3.5-authorization-public", "cc=" + q("public, max-age=60"), []string{"Authorization", "Bearer x"}, false},
		{"RFC9111-5.2.2.10-s-maxage", "cc=" + q("s-maxage=60"), nil, true},
		{"RFC9111-4.2.2-heuristic-last-modified", "lm=1000000000", nil, true},
		{"RFC9111-3-status-404-cacheable", "status=404&cc=" + q("max-age=60"), nil, true},
		{"RFC9111-3-status-500-not-by-default", "status=500", nil, false},
		{"RFC9213-cdn-cache-control", "cdncc=" + q("max-age=60") + "&cc=" + q("no-store"), nil, true},
		{"set-cookie-not-stored", "cc=" + q("max-age=60") + "&setcookie=a%3Db", nil, false},
		{"RFC9111-4.1-vary-star", "cc=" + q("max-age=60") + "&vary=*", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := uniq(t)
			u := e.URL + p + "?" + tc.query
			get(t, u, tc.hdr...)
			r := get(t, u, tc.hdr...)
			hits := o.count(p) == 1
			if hits != tc.stored {
				t.Fatalf("stored = %v, want %v (origin saw %d, Cache-Status %q)", hits, tc.stored, o.count(p), r.cacheStatus())
			}
		})
	}
}

func TestRFC9111Revalidation304(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	u := e.URL + p + "?cc=" + q("max-age=10")
	first := get(t, u)
	e.clock.Advance(15 * time.Second)
	r := get(t, u)
	if r.status != 200 || string(r.body) != string(first.body) {
		t.Fatalf("revalidated response: %d", r.status)
	}
	mustContain(t, "Cache-Status", r.cacheStatus(), "fwd=stale", "fwd-status=304")
	if c := o.count(p); c != 2 {
		t.Fatalf("origin saw %d requests, want 2", c)
	}
	r = get(t, u)
	mustContain(t, "after 304 Cache-Status", r.cacheStatus(), "hit")
	if c := o.count(p); c != 2 {
		t.Fatalf("refreshed object not served from cache: origin saw %d", c)
	}
}

func TestRFC9111RequestDirectives(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	u := e.URL + p + "?cc=" + q("max-age=100")
	get(t, u)
	// §5.2.1.4 no-cache: must validate upstream.
	r := get(t, u, "Cache-Control", "no-cache")
	if c := o.count(p); c != 2 {
		t.Fatalf("no-cache: origin saw %d, want 2 (%s)", c, r.cacheStatus())
	}
	// §5.4 Pragma: no-cache without Cache-Control acts as no-cache.
	get(t, u, "Pragma", "no-cache")
	if c := o.count(p); c != 3 {
		t.Fatalf("Pragma: origin saw %d, want 3", c)
	}
	// §5.2.1.1 max-age: a response older than that is not used.
	e.clock.Advance(30 * time.Second)
	get(t, u, "Cache-Control", "max-age=10")
	if c := o.count(p); c != 4 {
		t.Fatalf("request max-age: origin saw %d, want 4", c)
	}
	// §5.2.1.3 min-fresh: needs at least that much freshness left.
	get(t, u, "Cache-Control", "min-fresh=1000")
	if c := o.count(p); c != 5 {
		t.Fatalf("min-fresh: origin saw %d, want 5", c)
	}
	// §5.2.1.2 max-stale: accepts a stale response.
	e.clock.Advance(150 * time.Second)
	r = get(t, u, "Cache-Control", "max-stale=1000")
	if c := o.count(p); c != 5 {
		t.Fatalf("max-stale: origin saw %d, want 5 (%s)", c, r.cacheStatus())
	}
}

func TestRFC5861StaleIfError(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	u := e.URL + p + "?cc=" + q("max-age=1, stale-if-error=3600")
	first := get(t, u)
	o.Close() // the origin goes away
	e.clock.Advance(10 * time.Second)
	r := get(t, u)
	if r.status != 200 || string(r.body) != string(first.body) {
		t.Fatalf("stale-if-error: status %d", r.status)
	}
	mustContain(t, "Cache-Status", r.cacheStatus(), "fwd=stale")
}

func TestRFC9111MustRevalidateNoStaleOnError(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	u := e.URL + uniq(t) + "?cc=" + q("max-age=1, must-revalidate")
	get(t, u)
	o.Close()
	e.clock.Advance(10 * time.Second)
	r := get(t, u)
	if r.status < 500 {
		t.Fatalf("must-revalidate served stale on error: %d", r.status)
	}
}

func TestRFC5861StaleWhileRevalidate(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	u := e.URL + p + "?cc=" + q("max-age=1, stale-while-revalidate=600")
	get(t, u)
	e.clock.Advance(5 * time.Second)
	r := get(t, u)
	mustContain(t, "Cache-Status", r.cacheStatus(), "hit")
	deadline := time.Now().Add(5 * time.Second)
	for o.count(p) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no background revalidation")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRFC9111Vary(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	u := e.URL + p + "?vary=Accept-Language&cc=" + q("max-age=60")
	en := get(t, u, "Accept-Language", "en")
	fr := get(t, u, "Accept-Language", "fr")
	if string(en.body) == string(fr.body) {
		t.Fatal("origin gave the same body for both variants")
	}
	en2 := get(t, u, "Accept-Language", "en")
	fr2 := get(t, u, "Accept-Language", "fr")
	if string(en2.body) != string(en.body) || string(fr2.body) != string(fr.body) {
		t.Fatal("a variant was served for the wrong request")
	}
	t.Logf("en %q fr %q en2 %q fr2 %q", en.cacheStatus(), fr.cacheStatus(), en2.cacheStatus(), fr2.cacheStatus())
	mustContain(t, "en Cache-Status", en2.cacheStatus(), "hit")
	mustContain(t, "fr Cache-Status", fr2.cacheStatus(), "hit")
	if c := o.count(p); c != 2 {
		t.Fatalf("origin saw %d, want 2 (one per variant)", c)
	}
}

// RFC 9111 §4.4: a non-error answer to an unsafe request invalidates the
// stored responses of its target URI and of same-origin URIs in its
// Location and Content-Location; an error answer, a safe method or
// another origin's URI invalidates nothing. The origin's /gen/ accepts
// writes and answers them with the status and fields the query asks for.
func TestRFC9111InvalidationOnUnsafeMethod(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	cached := func(t *testing.T) (string, string) {
		t.Helper()
		p := uniq(t)
		u := e.URL + p + "?cc=" + q("max-age=600")
		get(t, u)
		if r := get(t, u); !strings.Contains(r.cacheStatus(), "hit") {
			t.Fatalf("%s not cached: Cache-Status %q", p, r.cacheStatus())
		}
		return p, u
	}
	// refetched reports whether a GET of u after the write went upstream.
	refetched := func(t *testing.T, p, u string) bool {
		t.Helper()
		before := o.count(p)
		r := get(t, u)
		checkDigest(t, r)
		return o.count(p) > before && !strings.Contains(r.cacheStatus(), "hit")
	}
	// relative is u's path and query, as an origin would name it.
	relative := func(u string) string { return strings.TrimPrefix(u, e.URL) }

	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		t.Run("target/"+m, func(t *testing.T) {
			p, u := cached(t)
			if r := do(t, m, u); r.status != 200 {
				t.Fatalf("%s: %d", m, r.status)
			}
			if !refetched(t, p, u) {
				t.Fatalf("after a successful %s of the target URI its stored response was reused", m)
			}
		})
	}
	t.Run("Location", func(t *testing.T) {
		p, u := cached(t)
		w := e.URL + uniq(t) + "?status=201&location=" + q(relative(u))
		if r := do(t, http.MethodPost, w); r.status != 201 || r.header.Get("Location") != relative(u) {
			t.Fatalf("POST: %d, Location %q", r.status, r.header.Get("Location"))
		}
		if !refetched(t, p, u) {
			t.Fatal("the URI in Location of a 201 was not invalidated")
		}
	})
	t.Run("Location/303", func(t *testing.T) {
		// An absolute URI with the request's own origin, as a site on the
		// default port sees it; the client does not follow it.
		const host = "assets.example.com"
		p := uniq(t)
		u := e.URL + p + "?cc=" + q("max-age=600")
		get(t, u, "Host", host)
		if r := get(t, u, "Host", host); !strings.Contains(r.cacheStatus(), "hit") {
			t.Fatalf("%s not cached: Cache-Status %q", p, r.cacheStatus())
		}
		req, _ := http.NewRequest(http.MethodPost, e.URL+uniq(t)+"?status=303&location="+q("http://"+host+relative(u)), nil)
		req.Host = host
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 303 {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
		before := o.count(p)
		r := get(t, u, "Host", host)
		checkDigest(t, r)
		if o.count(p) == before || strings.Contains(r.cacheStatus(), "hit") {
			t.Fatal("the absolute same-origin URI in Location of a 303 was not invalidated")
		}
	})
	t.Run("Content-Location", func(t *testing.T) {
		p, u := cached(t)
		w := e.URL + uniq(t) + "?clocation=" + q(relative(u))
		if r := do(t, http.MethodPut, w); r.status != 200 || r.header.Get("Content-Location") != relative(u) {
			t.Fatalf("PUT: %d, Content-Location %q", r.status, r.header.Get("Content-Location"))
		}
		if !refetched(t, p, u) {
			t.Fatal("the URI in Content-Location was not invalidated")
		}
	})
	t.Run("not invalidated", func(t *testing.T) {
		p, u := cached(t)
		for _, w := range []string{
			// An error answer, even naming the URI.
			e.URL + uniq(t) + "?status=500&location=" + q(relative(u)),
			// Another origin's URI with the same path.
			e.URL + uniq(t) + "?status=201&location=" + q("http://other.example"+relative(u)) + "&clocation=" + q("http://other.example"+relative(u)),
		} {
			do(t, http.MethodPost, w)
		}
		// A safe method never invalidates.
		do(t, http.MethodOptions, u)
		if refetched(t, p, u) {
			t.Fatal("an error answer, another origin's URI or a safe method invalidated the stored response")
		}
	})
}

func TestRFC9211CacheStatusMiss(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	r := get(t, e.URL+uniq(t)+"?cc="+q("no-store"))
	cs := r.cacheStatus()
	if strings.Contains(cs, "stored") || !strings.HasPrefix(cs, "edge-1; fwd=") {
		t.Fatalf("Cache-Status %q", cs)
	}
}
