package edge

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/selfcdn/cdn/compress"
)

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	rc, err := compress.NewReader(bytes.NewReader(b), compress.Encoding(enc))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

func TestCompressedVariants(t *testing.T) {
	o := startOrigin(t)
	e := quickEdge(t, o)
	p := uniq(t)
	u := e.URL + p + "?size=50000&ctype=text/html&cc=max-age%3D600"
	plain := get(t, u, "Accept-Encoding", "identity")
	checkDigest(t, plain)
	if plain.header.Get("Content-Encoding") != "" {
		t.Fatal("identity response was encoded")
	}
	mustContain(t, "identity Vary", strings.Join(plain.header.Values("Vary"), ","), "Accept-Encoding")
	etags := map[string]bool{plain.header.Get("ETag"): true}
	for _, tc := range []struct{ accept, want string }{
		{"gzip, deflate, br, zstd", "br"},
		{"gzip, deflate, br", "br"},
		{"gzip;q=1, br;q=0.5", "gzip"},
		{"zstd", "zstd"},
		{"br;q=0, gzip", "gzip"},
	} {
		for i := 0; i < 2; i++ {
			r := get(t, u, "Accept-Encoding", tc.accept)
			if got := r.header.Get("Content-Encoding"); got != tc.want {
				t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.accept, got, tc.want)
			}
			if !bytes.Equal(decode(t, tc.want, r.body), plain.body) {
				t.Fatalf("%s variant does not decode to the original", tc.want)
			}
			checkDigest(t, r) // Repr-Digest of the encoded bytes
			if len(r.body) >= len(plain.body) {
				t.Fatalf("%s variant is not smaller: %d >= %d", tc.want, len(r.body), len(plain.body))
			}
			mustContain(t, "variant Cache-Status", r.cacheStatus(), "hit")
			et := r.header.Get("ETag")
			if i == 0 && etags[et] && et != "" && !strings.Contains(et, tc.want) {
				t.Fatalf("variant ETag %q not distinct", et)
			}
			etags[et] = true
			// Validators of the variant work (RFC 9110 §13).
			if c := get(t, u, "Accept-Encoding", tc.accept, "If-None-Match", et); c.status != http.StatusNotModified {
				t.Fatalf("If-None-Match with the variant ETag: %d", c.status)
			}
		}
	}
	if c := o.count(p); c != 1 {
		t.Fatalf("origin saw %d requests, want 1 (variants are made at the edge)", c)
	}
	// Ranges apply to the encoded bytes.
	full := get(t, u, "Accept-Encoding", "br")
	r := get(t, u, "Accept-Encoding", "br", "Range", "bytes=10-99")
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, full.body[10:100]) {
		t.Fatalf("range on a compressed variant: %d", r.status)
	}
	// Binary content and already-encoded responses pass untouched.
	b := get(t, e.URL+uniq(t)+"?size=5000&cc=max-age%3D600", "Accept-Encoding", "br")
	if b.header.Get("Content-Encoding") != "" {
		t.Fatal("application/octet-stream was compressed")
	}
	nt := get(t, e.URL+uniq(t)+"?size=5000&ctype=text/plain&cc=no-transform,max-age%3D600", "Accept-Encoding", "br")
	if nt.header.Get("Content-Encoding") != "" {
		t.Fatal("no-transform response was compressed")
	}
}
