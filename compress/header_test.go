package compress

import (
	"crypto/sha256"
	"net/http"
	"slices"
	"testing"
)

func TestVaryAddAcceptEncoding(t *testing.T) {
	tests := []struct {
		name     string
		vary     []string
		want     []string
		wantSame bool
	}{
		{"RFC9110-12.5.5-absent", nil, []string{"Accept-Encoding"}, false},
		{"RFC9110-12.5.5-keeps-others", []string{"Origin"}, []string{"Origin, Accept-Encoding"}, false},
		{"RFC9110-12.5.5-already-listed", []string{"accept-encoding, Origin"}, []string{"accept-encoding, Origin"}, true},
		{"RFC9110-12.5.5-listed-on-second-line", []string{"Origin", "Accept-Encoding"}, []string{"Origin", "Accept-Encoding"}, true},
		{"RFC9110-12.5.5-star", []string{"*"}, []string{"*"}, true},
		{"RFC9110-12.5.5-several-lines", []string{"Origin", "Accept-Language"}, []string{"Origin", "Accept-Language, Accept-Encoding"}, false},
		{"RFC9110-12.5.5-empty-line", []string{""}, []string{"Accept-Encoding"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.vary != nil {
				h["Vary"] = slices.Clone(tt.vary)
			}
			VaryAddAcceptEncoding(h)
			VaryAddAcceptEncoding(h) // idempotent
			if got := h["Vary"]; !slices.Equal(got, tt.want) {
				t.Errorf("Vary = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSetVariantHeader(t *testing.T) {
	base := func() http.Header {
		return http.Header{
			"Content-Type":   {"text/html; charset=utf-8"},
			"Content-Length": {"12345"},
			"Etag":           {`"abc"`},
			"Last-Modified":  {"Tue, 15 Nov 1994 12:45:26 GMT"},
			"Accept-Ranges":  {"bytes"},
			"Cache-Control":  {"max-age=60"},
			"Repr-Digest":    {"sha-256=:AAAA:"},
			"Content-Digest": {"sha-256=:AAAA:"},
			"Digest":         {"SHA-256=AAAA"},
			"Content-Md5":    {"Q2hlY2sgSW50ZWdyaXR5IQ=="},
			"Vary":           {"Origin"},
		}
	}
	h := base()
	SetVariantHeader(h, Brotli)
	want := http.Header{
		"Content-Type":     {"text/html; charset=utf-8"},
		"Content-Encoding": {"br"},
		"Etag":             {`"abc-br"`},
		"Last-Modified":    {"Tue, 15 Nov 1994 12:45:26 GMT"},
		"Accept-Ranges":    {"bytes"},
		"Cache-Control":    {"max-age=60"},
		"Vary":             {"Origin, Accept-Encoding"},
	}
	for k := range want {
		if !slices.Equal(h[k], want[k]) {
			t.Errorf("%s = %q, want %q", k, h[k], want[k])
		}
	}
	for k := range h {
		if _, ok := want[k]; !ok {
			t.Errorf("%s kept (%q), want removed", k, h[k])
		}
	}

	id := base()
	SetVariantHeader(id, Identity)
	if id.Get("Content-Length") != "12345" || id.Get("Etag") != `"abc"` || id.Get("Repr-Digest") == "" || id.Get("Content-Encoding") != "" {
		t.Errorf("identity changed more than Vary: %v", id)
	}
	if id.Get("Vary") != "Origin, Accept-Encoding" {
		t.Errorf("identity Vary = %q", id.Get("Vary"))
	}

	bad := http.Header{"Etag": {"not-quoted"}}
	SetVariantHeader(bad, Gzip)
	if _, ok := bad["Etag"]; ok {
		t.Errorf("malformed ETag kept on variant: %q", bad["Etag"])
	}
}

func TestReprDigestSHA256(t *testing.T) {
	// RFC 9530 §3 example: the SHA-256 of `{"hello": "world"}`.
	sum := sha256.Sum256([]byte(`{"hello": "world"}`))
	want := "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
	if got := ReprDigestSHA256(sum[:]); got != want {
		t.Errorf("ReprDigestSHA256 = %q, want %q", got, want)
	}
}
