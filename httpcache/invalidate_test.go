package httpcache

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

func TestInvalidatedURIs(t *testing.T) {
	target := "https://assets.example.com/items/1?x=1"
	tests := []struct {
		name   string
		method string
		status int
		resp   http.Header
		want   []string
	}{
		{"RFC9111-4.4-safe-method-get", http.MethodGet, 200, hdr(), nil},
		{"RFC9111-4.4-safe-method-options", http.MethodOptions, 200, hdr(), nil},
		{"RFC9111-4.4-error-response", http.MethodPost, 500, hdr(), nil},
		{"RFC9111-4.4-client-error-response", http.MethodDelete, 404, hdr(), nil},
		{"RFC9111-4.4-post-target", http.MethodPost, 200, hdr(), []string{target}},
		{"RFC9111-4.4-redirect-counts-as-non-error", http.MethodPut, 303, hdr(), []string{target}},
		{"RFC9111-4.4-location-and-content-location", http.MethodPost, 201,
			hdr("Location", "/items/2", "Content-Location", "https://ASSETS.example.com:443/items/2/view#top"),
			[]string{target, "https://assets.example.com/items/2", "https://ASSETS.example.com:443/items/2/view"}},
		{"RFC9111-4.4-other-origin-not-invalidated", http.MethodPost, 201,
			hdr("Location", "https://evil.example.net/items/2", "Content-Location", "http://assets.example.com/items/3"),
			[]string{target}},
		{"RFC9111-4.4-duplicates-removed", http.MethodPatch, 200,
			hdr("Location", "/items/1?x=1", "Content-Location", "1?x=1"),
			[]string{target}},
		{"RFC9111-4.4-unparseable-location-ignored", http.MethodPost, 200,
			hdr("Location", "http://[::1"),
			[]string{target}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(target + "#frag")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range InvalidatedURIs(tt.method, tt.status, u, tt.resp) {
				got = append(got, x.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("InvalidatedURIs = %q, want %q", got, tt.want)
			}
			if u.Fragment != "frag" {
				t.Fatal("target modified")
			}
		})
	}
}
