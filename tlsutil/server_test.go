package tlsutil

import (
	"crypto/tls"
	"testing"
)

// TestServerConfig checks the edge's TLS settings over real handshakes:
// ALPN (RFC 7301) prefers h2, TLS 1.0/1.1 (deprecated by RFC 8996) and
// non-AEAD TLS 1.2 suites are refused, and sessions resume (RFC 8446 §2.2).
func TestServerConfig(t *testing.T) {
	s, caPath, err := SelfSigned(t.TempDir(), []string{"edge.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	pool := caPool(t, caPath)
	cfg := ServerConfig(s.GetCertificate, nil)
	if cfg.MinVersion != tls.VersionTLS12 || cfg.SessionTicketsDisabled {
		t.Fatalf("MinVersion %x SessionTicketsDisabled %v", cfg.MinVersion, cfg.SessionTicketsDisabled)
	}
	addr := serveTLS(t, "", cfg)
	client := func() *tls.Config {
		return &tls.Config{ServerName: "edge.example.test", RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}}
	}

	tests := []struct {
		name   string
		adjust func(*tls.Config)
		ok     bool
		proto  string
	}{
		{"TLS 1.3 h2", func(*tls.Config) {}, true, "h2"},
		{"TLS 1.2 AEAD", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
		}, true, "h2"},
		{"HTTP/1.1 only client", func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }, true, "http/1.1"},
		{"TLS 1.1 refused", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, false, ""},
		{"TLS 1.2 CBC refused", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client()
			tt.adjust(c)
			st, err := handshake(addr, c)
			if (err == nil) != tt.ok {
				t.Fatalf("handshake error %v, want success %v", err, tt.ok)
			}
			if tt.ok && st.NegotiatedProtocol != tt.proto {
				t.Errorf("ALPN %q, want %q", st.NegotiatedProtocol, tt.proto)
			}
		})
	}

	// Session resumption with tickets, for TLS 1.3 and TLS 1.2.
	for _, maxVer := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		c := client()
		c.MaxVersion = maxVer
		c.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		if _, err := handshake(addr, c); err != nil {
			t.Fatal(err)
		}
		st, err := handshake(addr, c)
		if err != nil {
			t.Fatal(err)
		}
		if !st.DidResume {
			t.Errorf("version %x: second handshake did not resume", maxVer)
		}
	}

	// The caller's slice is copied, not shared.
	protos := []string{"h2"}
	c := ServerConfig(s.GetCertificate, protos)
	protos[0] = "changed"
	if c.NextProtos[0] != "h2" {
		t.Error("ServerConfig shares the caller's NextProtos")
	}
}
