package tlsutil

import (
	"crypto/tls"
	"testing"
)

// BenchmarkGetCertificate measures certificate selection per handshake,
// for an exact name, a wildcard and the fallback.
func BenchmarkGetCertificate(b *testing.B) {
	ca, dir := newTestCA(b), b.TempDir()
	a := ca.writePair(b, dir, "a", "a.example.test")
	w := ca.writePair(b, dir, "w", "*.w.example.test")
	s, err := NewStore(StoreConfig{Certificates: []Pair{a, w}})
	if err != nil {
		b.Fatal(err)
	}
	for _, sni := range []string{"a.example.test", "Img.W.Example.Test", "unknown.example.test"} {
		b.Run(sni, func(b *testing.B) {
			hello := &tls.ClientHelloInfo{ServerName: sni}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.GetCertificate(hello); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
