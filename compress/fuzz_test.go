package compress

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzNegotiate checks that any Accept-Encoding value yields one of the
// allowed answers without panicking, that NormalizeAcceptEncoding agrees
// with it, and that an explicit q=0 is always respected.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "", "*", "*;q=0", "identity;q=0",
		"br;q=0, gzip", "gzip;q=1.0, identity; q=0.5, *;q=0", "x-gzip;Q=0.001", ",;=,", "br;q=1.0000"} {
		f.Add(s, "")
		f.Add(s, "gzip;q=0.5")
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		lines := []string{line1}
		if line2 != "" {
			lines = append(lines, line2)
		}
		got := Negotiate(lines, nil)
		switch got {
		case Identity, Gzip, Brotli, Zstd, NotAcceptable:
		default:
			t.Fatalf("Negotiate(%q) = %q", lines, got)
		}
		if n := NormalizeAcceptEncoding(lines); n != string(got) {
			t.Fatalf("NormalizeAcceptEncoding(%q) = %q, Negotiate = %q", lines, n, got)
		}
		// A coding excluded by every member naming it is never chosen.
		if got != Identity && got != NotAcceptable {
			all := strings.Join(lines, ",")
			for _, m := range strings.Split(all, ",") {
				c, q, ok := parseMember(m)
				if ok && codingIs(c, got) && q == 0 && !hasPositive(lines, got) {
					t.Fatalf("Negotiate(%q) = %q though it has q=0", lines, got)
				}
			}
		}
	})
}

// hasPositive reports whether some member names enc with a weight above 0.
func hasPositive(lines []string, enc Encoding) bool {
	sc := scanner{lines: lines}
	for {
		c, q, ok := sc.next()
		if !ok {
			return false
		}
		if codingIs(c, enc) && q > 0 {
			return true
		}
	}
}

// FuzzNormalizeAcceptEncoding checks the cache key is always one of the
// handful of canonical strings.
func FuzzNormalizeAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "gzip, deflate, br", "identity", "*;q=0", "BR;q=0.5,GZIP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		switch k := NormalizeAcceptEncoding([]string{s}); k {
		case "", "gzip", "br", "zstd", string(NotAcceptable):
		default:
			t.Fatalf("NormalizeAcceptEncoding(%q) = %q", s, k)
		}
	})
}

// FuzzNewReader feeds arbitrary bytes, as an origin or a damaged store
// might, to every decoder: errors are fine, panics and runaway output are
// not.
func FuzzNewReader(f *testing.F) {
	for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
		f.Add(byte(0), compressBytes(f, []byte("hello, hello, hello"), enc, DefaultLevel))
	}
	f.Add(byte(1), []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		enc := []Encoding{Gzip, Brotli, Zstd}[int(which)%3]
		r, err := NewReader(bytes.NewReader(data), enc)
		if err != nil {
			return
		}
		defer r.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	})
}

// FuzzCompressible checks the header parsers of Compressible never panic.
func FuzzCompressible(f *testing.F) {
	f.Add("text/html; charset=utf-8", "", `private="a, no-transform", max-age=1`, int64(1000))
	f.Add("+json", "br", "no-transform", int64(-1))
	f.Fuzz(func(t *testing.T, ct, ce, cc string, size int64) {
		_ = Compressible(ct, ce, cc, size)
	})
}
