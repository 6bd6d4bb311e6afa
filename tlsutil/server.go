package tlsutil

import (
	"crypto/tls"
	"slices"
)

// defaultNextProtos are the ALPN protocols ServerConfig offers when given
// none: HTTP/2 first, then HTTP/1.1 (RFC 7301, RFC 9113 §3.3).
var defaultNextProtos = []string{"h2", "http/1.1"}

// modernCipherSuites are the TLS 1.2 suites offered: forward-secret ECDHE
// with AEAD ciphers only, as in Mozilla's "intermediate" profile. TLS 1.3
// suites are not configurable in crypto/tls and are all AEAD.
var modernCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerConfig returns the *tls.Config for an edge's HTTPS listener:
// certificates from getCert (Store.GetCertificate, ACMEManager.GetCertificate
// or any function of the same contract), TLS 1.2 and later, TLS 1.2 limited
// to ECDHE AEAD cipher suites, session tickets on (keys rotated by
// crypto/tls), and ALPN offering nextProtos ({"h2", "http/1.1"} if nil).
// Key exchange groups are left to crypto/tls, whose default includes the
// hybrid post-quantum X25519MLKEM768.
//
// For HTTP/3, Clone the result and set NextProtos to {"h3"}: QUIC requires
// TLS 1.3 (RFC 9001 §4.2), which quic-go enforces on its own.
func ServerConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), nextProtos []string) *tls.Config {
	if nextProtos == nil {
		nextProtos = defaultNextProtos
	}
	return &tls.Config{
		GetCertificate: getCert,
		NextProtos:     slices.Clone(nextProtos),
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   slices.Clone(modernCipherSuites),
	}
}
