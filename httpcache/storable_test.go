package httpcache

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestStorable(t *testing.T) {
	get, none := http.MethodGet, http.Header(nil)
	tests := []struct {
		name   string
		method string
		req    http.Header
		status int
		resp   http.Header
		p      Policy
		ok     bool
		reason string
	}{
		{"RFC9111-3-explicit-max-age", get, none, 200, hdr("Cache-Control", "max-age=60"), Policy{}, true, ""},
		{"RFC9111-3-explicit-expires", get, none, 200, hdr("Expires", date(time.Hour)), Policy{}, true, ""},
		{"RFC9111-3-explicit-s-maxage-on-non-heuristic-status", get, none, 302, hdr("Cache-Control", "s-maxage=60"), Policy{}, true, ""},
		{"RFC9111-3-method-head-not-stored", http.MethodHead, none, 200, hdr("Cache-Control", "max-age=60"), Policy{}, false, ReasonMethod},
		{"RFC9111-3-method-post-not-stored", http.MethodPost, none, 200, hdr("Cache-Control", "max-age=60"), Policy{}, false, ReasonMethod},
		{"RFC9111-3-status-not-final", get, none, 103, hdr("Cache-Control", "max-age=60"), Policy{}, false, ReasonStatus},
		{"RFC9111-3-status-206-not-stored-as-such", get, none, 206, hdr("Cache-Control", "max-age=60"), Policy{}, false, ReasonStatus},
		{"RFC9111-3-status-304-not-stored", get, none, 304, hdr("Cache-Control", "max-age=60"), Policy{}, false, ReasonStatus},
		{"RFC9111-5.2.1.5-request-no-store", get, hdr("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=60"), Policy{}, false, ReasonRequestNoStore},
		{"RFC9111-5.2.2.5-response-no-store", get, none, 200, hdr("Cache-Control", "no-store, max-age=60"), Policy{}, false, ReasonNoStore},
		{"RFC9111-5.2.2.3-must-understand-overrides-no-store", get, none, 200, hdr("Cache-Control", "must-understand, no-store, max-age=60"), Policy{}, true, ""},
		{"RFC9111-5.2.2.3-must-understand-unknown-status", get, none, 299, hdr("Cache-Control", "must-understand, no-store, max-age=60"), Policy{}, false, ReasonMustUnderstand},
		{"RFC9111-5.2.2.7-unqualified-private", get, none, 200, hdr("Cache-Control", "private, max-age=60"), Policy{}, false, ReasonPrivate},
		{"RFC9111-5.2.2.7-qualified-private-storable", get, none, 200, hdr("Cache-Control", `private="X-User", max-age=60`), Policy{}, true, ""},
		{"RFC9111-5.2.2.7-qualified-private-naming-etag-is-private", get, none, 200, hdr("Cache-Control", `private="ETag", max-age=60`), Policy{}, false, ReasonPrivate},
		{"RFC9111-3.5-authorization-refused", get, hdr("Authorization", "Bearer x"), 200, hdr("Cache-Control", "max-age=60"), Policy{}, false, ReasonAuthorization},
		{"RFC9111-3.5-authorization-public", get, hdr("Authorization", "Bearer x"), 200, hdr("Cache-Control", "public, max-age=60"), Policy{}, true, ""},
		{"RFC9111-3.5-authorization-must-revalidate", get, hdr("Authorization", "Bearer x"), 200, hdr("Cache-Control", "must-revalidate, max-age=60"), Policy{}, true, ""},
		{"RFC9111-3.5-authorization-s-maxage", get, hdr("Authorization", "Bearer x"), 200, hdr("Cache-Control", "s-maxage=60"), Policy{}, true, ""},
		{"RFC9111-4.1-vary-star", get, none, 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept, *"), Policy{}, false, ReasonVaryStar},
		{"RFC9111-4.1-vary-fields-storable", get, none, 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept-Encoding"), Policy{}, true, ""},
		{"policy-set-cookie-refused-by-default", get, none, 200, hdr("Cache-Control", "max-age=60", "Set-Cookie", "a=b"), Policy{}, false, ReasonSetCookie},
		{"policy-set-cookie-allowed", get, none, 200, hdr("Cache-Control", "max-age=60", "Set-Cookie", "a=b"), Policy{CacheSetCookie: true}, true, ""},
		{"RFC9111-5.2.2.7-set-cookie-named-private", get, none, 200, hdr("Cache-Control", `max-age=60, private="Set-Cookie"`, "Set-Cookie", "a=b"), Policy{}, true, ""},
		{"RFC9111-5.2.2.4-set-cookie-named-no-cache", get, none, 200, hdr("Cache-Control", `max-age=60, no-cache="Set-Cookie"`, "Set-Cookie", "a=b"), Policy{}, true, ""},
		{"RFC9110-15.1-heuristic-status-with-last-modified", get, none, 200, hdr("Last-Modified", date(-time.Hour)), Policy{}, true, ""},
		{"RFC9110-15.1-heuristic-404-with-etag", get, none, 404, hdr("ETag", `"x"`), Policy{}, true, ""},
		{"RFC9110-15.1-heuristic-status-nothing-to-go-on", get, none, 200, hdr("Content-Type", "text/plain"), Policy{}, false, ReasonNoFreshness},
		{"policy-default-ttl-heuristic-status", get, none, 200, hdr("Content-Type", "text/plain"), Policy{DefaultTTL: time.Minute}, true, ""},
		{"RFC9110-15.1-302-not-heuristic", get, none, 302, hdr("Last-Modified", date(-time.Hour)), Policy{DefaultTTL: time.Minute}, false, ReasonNoFreshness},
		{"RFC9111-4.2.2-public-allows-heuristic", get, none, 302, hdr("Cache-Control", "public", "Last-Modified", date(-time.Hour)), Policy{}, true, ""},
		{"RFC9110-15.1-500-not-heuristic", get, none, 500, hdr("ETag", `"x"`), Policy{}, false, ReasonNoFreshness},
		{"RFC9111-5.2.2.4-no-cache-with-validator-storable", get, none, 200, hdr("Cache-Control", "no-cache", "ETag", `"x"`), Policy{}, true, ""},
		{"RFC9111-4.2.1-invalid-max-age-is-explicit", get, none, 500, hdr("Cache-Control", "max-age=soon"), Policy{}, true, ""},
		{"RFC9213-2.1-cdn-cache-control-overrides-private", get, none, 200, hdr("Cache-Control", "private", "CDN-Cache-Control", "max-age=60"), Policy{}, true, ""},
		{"RFC9213-2.1-cdn-cache-control-no-store", get, none, 200, hdr("Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"), Policy{}, false, ReasonNoStore},
		{"RFC9213-2.1-ignored-by-policy", get, none, 200, hdr("Cache-Control", "private", "CDN-Cache-Control", "max-age=60"), Policy{IgnoreCDNCacheControl: true}, false, ReasonPrivate},
		{"RFC9213-2.1-expires-ignored-under-cdn-cache-control", get, none, 302, hdr("Expires", date(time.Hour), "CDN-Cache-Control", "public"), Policy{}, false, ReasonNoFreshness},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil {
				req = http.Header{}
			}
			resp := tt.resp
			if _, ok := resp["Date"]; !ok {
				resp.Set("Date", date(0))
			}
			ok, reason := Storable(tt.method, req, tt.status, resp, tt.p)
			if ok != tt.ok || reason != tt.reason {
				t.Fatalf("Storable = %v, %q; want %v, %q", ok, reason, tt.ok, tt.reason)
			}
		})
	}
}

func TestStoredHeader(t *testing.T) {
	tests := []struct {
		name string
		resp http.Header
		p    Policy
		want http.Header
	}{
		{"RFC9110-7.6.1-hop-by-hop-and-connection-listed",
			hdr("Connection", "close, X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5", "Transfer-Encoding", "chunked",
				"Content-Type", "text/plain", "Cache-Control", "max-age=60"),
			Policy{},
			hdr("Content-Type", "text/plain", "Cache-Control", "max-age=60")},
		{"RFC9111-5.2.2.7-qualified-private-fields-removed",
			hdr("Cache-Control", `max-age=60, private="X-User"`, "X-User", "alice", "Content-Type", "text/html"),
			Policy{},
			hdr("Cache-Control", `max-age=60, private="X-User"`, "Content-Type", "text/html")},
		{"RFC9111-5.2.2.4-qualified-no-cache-fields-removed",
			hdr("Cache-Control", `max-age=60, no-cache="X-Trace"`, "X-Trace", "abc"),
			Policy{},
			hdr("Cache-Control", `max-age=60, no-cache="X-Trace"`)},
		{"RFC9213-2.1-cache-control-private-fields-removed-under-cdn-control",
			hdr("Cache-Control", `private="X-User"`, "CDN-Cache-Control", "max-age=60", "X-User", "alice"),
			Policy{},
			hdr("Cache-Control", `private="X-User"`, "CDN-Cache-Control", "max-age=60")},
		{"policy-set-cookie-removed",
			hdr("Cache-Control", "max-age=60", "Set-Cookie", "a=b"),
			Policy{CacheSetCookie: true},
			hdr("Cache-Control", "max-age=60")},
		{"RFC9111-5.2.2.4-protected-field-kept",
			hdr("Cache-Control", `max-age=60, no-cache="ETag"`, "ETag", `"x"`),
			Policy{},
			hdr("Cache-Control", `max-age=60, no-cache="ETag"`, "ETag", `"x"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.resp.Clone()
			got := StoredHeader(tt.resp, tt.p)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("StoredHeader\n got %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(tt.resp, orig) {
				t.Fatalf("input modified: %v", tt.resp)
			}
		})
	}
}

func TestControlProtectedQualifiedNoCache(t *testing.T) {
	cc, fromCDN := Control(hdr("Cache-Control", `max-age=60, no-cache="Date"`), Policy{})
	if !cc.NoCache || fromCDN {
		t.Fatalf("Control: NoCache=%v fromCDN=%v, want qualified no-cache naming Date read as unqualified", cc.NoCache, fromCDN)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := (Policy{}).Validate(); err != nil {
		t.Fatalf("zero Policy: %v", err)
	}
	err := Policy{HeuristicFraction: 2, MaxHeuristic: -1, DefaultTTL: -1}.Validate()
	if err == nil {
		t.Fatal("invalid Policy accepted")
	}
	for _, field := range []string{"HeuristicFraction", "MaxHeuristic", "DefaultTTL"} {
		if !contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
