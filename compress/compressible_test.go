package compress

import "testing"

func TestCompressible(t *testing.T) {
	tests := []struct {
		name, ct, ce, cc string
		size             int64
		want             bool
	}{
		{"html", "text/html; charset=utf-8", "", "", 1000, true},
		{"css", "text/css", "", "", 1000, true},
		{"plain-uppercase", "TEXT/PLAIN", "", "", 1000, true},
		{"json", "application/json", "", "", 1000, true},
		{"ld-json-suffix", "application/ld+json", "", "", 1000, true},
		{"problem-json-suffix", "application/problem+json", "", "", 1000, true},
		{"javascript", "application/javascript", "", "", 1000, true},
		{"text-javascript", "text/javascript; charset=utf-8", "", "", 1000, true},
		{"xml", "application/xml", "", "", 1000, true},
		{"rss-xml-suffix", "application/rss+xml", "", "", 1000, true},
		{"svg", "image/svg+xml", "", "", 1000, true},
		{"wasm", "application/wasm", "", "", 1000, true},
		{"ttf", "font/ttf", "", "", 1000, true},
		{"otf", "font/otf", "", "", 1000, true},
		{"eot", "application/vnd.ms-fontobject", "", "", 1000, true},
		{"hls-playlist", "application/vnd.apple.mpegurl", "", "", 1000, true},
		{"ico", "image/x-icon", "", "", 1000, true},
		{"unknown-size", "text/html", "", "", -1, true},
		{"at-min-size", "text/html", "", "", 256, true},
		{"identity-coding", "text/html", "identity", "", 1000, true},
		{"other-directives", "text/html", "", "public, max-age=60", 1000, true},
		{"quoted-no-transform-not-a-directive", "text/html", "", `private="no-transform, x", max-age=1`, 1000, true},
		// Not compressed.
		{"woff2", "font/woff2", "", "", 1000, false},
		{"woff", "font/woff", "", "", 1000, false},
		{"png", "image/png", "", "", 1000, false},
		{"jpeg", "image/jpeg", "", "", 1000, false},
		{"mp4", "video/mp4", "", "", 1000, false},
		{"zip", "application/zip", "", "", 1000, false},
		{"octet-stream", "application/octet-stream", "", "", 1000, false},
		{"event-stream", "text/event-stream", "", "", 1000, false},
		{"no-type", "", "", "", 1000, false},
		{"bad-type", "text", "", "", 1000, false},
		{"bad-type-star", "text/", "", "", 1000, false},
		{"below-min-size", "text/html", "", "", 255, false},
		{"empty", "text/html", "", "", 0, false},
		{"already-gzip", "text/html", "gzip", "", 1000, false},
		{"already-br", "application/json", "br", "", 1000, false},
		{"RFC9111-5.2.2.6-no-transform", "text/html", "", "no-transform", 1000, false},
		{"RFC9111-5.2.2.6-no-transform-in-list", "text/html", "", "public, No-Transform, max-age=60", 1000, false},
		{"RFC9111-5.2.2.6-no-transform-after-quoted", "text/html", "", `private="a,b", no-transform`, 1000, false},
		{"RFC9111-5.2.2.6-no-transform-with-argument", "text/html", "", `no-transform=1`, 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compressible(tt.ct, tt.ce, tt.cc, tt.size); got != tt.want {
				t.Errorf("Compressible(%q, %q, %q, %d) = %v, want %v", tt.ct, tt.ce, tt.cc, tt.size, got, tt.want)
			}
		})
	}
}

func TestConfigCompressible(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		ct   string
		size int64
		want bool
	}{
		{"min-size-1", Config{MinSize: 1}, "text/html", 1, true},
		{"min-size-raised", Config{MinSize: 1024}, "text/html", 1000, false},
		{"max-size", Config{MaxSize: 1 << 20}, "text/html", 1<<20 + 1, false},
		{"max-size-equal", Config{MaxSize: 1 << 20}, "text/html", 1 << 20, true},
		{"max-size-unknown-size", Config{MaxSize: 1 << 20}, "text/html", -1, true},
		{"own-types", Config{Types: []string{"application/x-custom"}}, "application/x-custom", 1000, true},
		{"own-types-replace-defaults", Config{Types: []string{"application/x-custom"}}, "text/html", 1000, false},
		{"empty-types-nothing", Config{Types: []string{}}, "text/html", 1000, false},
		{"event-stream-never", Config{Types: []string{"text/*"}}, "text/event-stream", 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Compressible(tt.ct, "", "", tt.size); got != tt.want {
				t.Errorf("Compressible(%q, %d) = %v, want %v", tt.ct, tt.size, got, tt.want)
			}
		})
	}
}

func TestDefaultTypesValid(t *testing.T) {
	c := Config{Types: DefaultTypes()}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
