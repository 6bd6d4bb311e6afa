package tlsutil

import (
	"crypto/tls"
	"testing"
)

// FuzzGetCertificate feeds arbitrary SNI server names (network input) to
// Store.GetCertificate: it never fails or panics, and a certificate chosen
// by name (not the fallback) is valid for that name by crypto/x509's
// hostname rules.
func FuzzGetCertificate(f *testing.F) {
	for _, s := range []string{"a.example.test", "X.W.EXAMPLE.TEST.", "w.example.test", "", ".", "..", "*.w.example.test", "a..b", "\x00", "b.example.test\u0130", "\u212a.w.example.test"} {
		f.Add(s)
	}
	ca, dir := newTestCA(f), f.TempDir()
	fallback := ca.writePair(f, dir, "fallback", "fallback.example.test")
	a := ca.writePair(f, dir, "a", "a.example.test")
	w := ca.writePair(f, dir, "w", "*.w.example.test", "b.example.test")
	s, err := NewStore(StoreConfig{Certificates: []Pair{fallback, a, w}})
	if err != nil {
		f.Fatal(err)
	}
	first := s.Certificates()[0]
	f.Fuzz(func(t *testing.T, sni string) {
		c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
		if err != nil || c == nil {
			t.Fatalf("GetCertificate(%q) = %v, %v", sni, c, err)
		}
		if c.Leaf.Equal(first) {
			return
		}
		if err := c.Leaf.VerifyHostname(normalizeName(sni)); err != nil {
			t.Errorf("SNI %q chose %v, which does not cover it: %v", sni, c.Leaf.DNSNames, err)
		}
	})
}
