package compress

import (
	"slices"
	"testing"
)

func TestVariantETag(t *testing.T) {
	tests := []struct {
		name, etag string
		enc        Encoding
		want       string
	}{
		{"RFC9110-8.8.3.3-strong-stays-strong", `"abc"`, Brotli, `"abc-br"`},
		{"RFC9110-8.8.3.3-zstd", `"abc"`, Zstd, `"abc-zstd"`},
		{"RFC9110-8.8.3.3-gzip", `"abc"`, Gzip, `"abc-gzip"`},
		{"RFC9110-8.8.3-weak-stays-weak", `W/"abc"`, Brotli, `W/"abc-br"`},
		{"RFC9110-8.8.3-empty-opaque", `""`, Gzip, `"-gzip"`},
		{"RFC9110-8.8.3-whitespace", ` "abc" `, Brotli, `"abc-br"`},
		{"identity-unchanged", `"abc"`, Identity, `"abc"`},
		{"no-etag", ``, Brotli, ``},
		{"malformed-unquoted", `abc`, Brotli, ``},
		{"malformed-weak-lowercase", `w/"abc"`, Brotli, ``},
		{"malformed-trailing", `"abc"x`, Brotli, ``},
		{"unknown-coding", `"abc"`, "deflate", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VariantETag(tt.etag, tt.enc); got != tt.want {
				t.Errorf("VariantETag(%q, %s) = %q, want %q", tt.etag, tt.enc, got, tt.want)
			}
		})
	}
}

func TestOriginalETag(t *testing.T) {
	tests := []struct {
		in, want string
		enc      Encoding
	}{
		{`"abc-br"`, `"abc"`, Brotli},
		{`W/"abc-zstd"`, `W/"abc"`, Zstd},
		{`"abc-gzip"`, `"abc"`, Gzip},
		{`"abc"`, `"abc"`, Identity},
		{`"abc-deflate"`, `"abc-deflate"`, Identity},
		{`"-br"`, `""`, Brotli},
		{`junk`, `junk`, Identity},
		{``, ``, Identity},
	}
	for _, tt := range tests {
		got, enc := OriginalETag(tt.in)
		if got != tt.want || enc != tt.enc {
			t.Errorf("OriginalETag(%q) = %q, %s; want %q, %s", tt.in, got, enc, tt.want, tt.enc)
		}
	}
}

func TestETagRoundTrip(t *testing.T) {
	for _, etag := range []string{`"abc"`, `W/"abc"`, `""`, `"a-b-c"`, `"v1-gzip-x"`, `"5f1e-61b0a7e3c2f40"`} {
		for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
			v := VariantETag(etag, enc)
			orig, got := OriginalETag(v)
			if orig != etag || got != enc {
				t.Errorf("OriginalETag(VariantETag(%q, %s) = %q) = %q, %s", etag, enc, v, orig, got)
			}
		}
	}
}

func TestOriginalETags(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{`"a-br", W/"b-zstd"`, `"c"`}, []string{`"a", W/"b"`, `"c"`}},
		{[]string{`*`}, []string{`*`}},
		{[]string{` "a-gzip" ,, "b-br"`}, []string{`"a", "b"`}},
		{[]string{`"a-br", junk, "b-br"`}, []string{`"a", junk, "b-br"`}},
		{nil, []string{}},
	}
	for _, tt := range tests {
		if got := OriginalETags(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("OriginalETags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
