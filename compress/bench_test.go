package compress

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkEncode measures, for 100 KiB of realistic HTML, JavaScript and
// JSON, the CPU time (ns/op, MB/s of input) and the output size (out-B,
// and ratio = input/output) of every coding at every offered level. The
// README's table comes from it.
func BenchmarkEncode(b *testing.B) {
	const size = 100 << 10
	for _, kind := range []string{"html", "js", "json"} {
		in := corpus(kind, size)
		for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
			for _, level := range Levels(enc) {
				b.Run(fmt.Sprintf("%s/%s/%d", kind, enc, level), func(b *testing.B) {
					var out bytes.Buffer
					out.Grow(size)
					compressBytes(b, in, enc, level) // a pooled encoder, as on a busy edge
					b.SetBytes(size)
					b.ReportAllocs()
					for b.Loop() {
						out.Reset()
						w, err := NewWriter(&out, enc, level)
						if err != nil {
							b.Fatal(err)
						}
						w.Write(in)
						if err := w.Close(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(out.Len()), "out-B")
					b.ReportMetric(float64(size)/float64(out.Len()), "ratio")
				})
			}
		}
	}
}

// BenchmarkDecode measures decoding 100 KiB of HTML coded at each coding's
// default level, as the edge does for an identity-only client.
func BenchmarkDecode(b *testing.B) {
	in := corpus("html", 100<<10)
	for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
		coded := compressBytes(b, in, enc, DefaultLevel)
		b.Run(enc.String(), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(coded), enc)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

// BenchmarkEncodeSmall measures the fixed cost of one pooled stream: 1 KiB
// at each coding's default level.
func BenchmarkEncodeSmall(b *testing.B) {
	in := corpus("json", 1<<10)
	for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
		b.Run(enc.String(), func(b *testing.B) {
			var out bytes.Buffer
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				w, _ := NewWriter(&out, enc, DefaultLevel)
				w.Write(in)
				w.Close()
			}
		})
	}
}

// BenchmarkNormalizeAcceptEncoding measures the per-request cache-key step
// for the headers real clients send.
func BenchmarkNormalizeAcceptEncoding(b *testing.B) {
	for _, h := range []struct{ name, v string }{
		{"chrome", "gzip, deflate, br, zstd"},
		{"safari", "gzip, deflate, br"},
		{"go", "gzip"},
		{"weighted", "gzip;q=1.0, identity; q=0.5, *;q=0"},
		{"none", "<none>"},
	} {
		v := ae(h.v)
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = NormalizeAcceptEncoding(v)
			}
		})
	}
}
