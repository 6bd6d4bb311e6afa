package tlsutil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"
)

const (
	// LetsEncryptCA is the directory URL of Let's Encrypt's production
	// ACME server, the default CA.
	LetsEncryptCA = certmagic.LetsEncryptProductionCA
	// LetsEncryptStagingCA is Let's Encrypt's staging server: generous rate
	// limits, certificates no client trusts. Use it to try a setup.
	LetsEncryptStagingCA = certmagic.LetsEncryptStagingCA
	// DefaultACMEStorage is where ACME accounts, keys and certificates are
	// kept when ACMEConfig.Storage is empty.
	DefaultACMEStorage = "cdn-acme"
	// acmeTLSALPN is the ALPN protocol of the TLS-ALPN-01 challenge
	// (RFC 8737 §6).
	acmeTLSALPN = "acme-tls/1"
)

// ACMEConfig configures certificates obtained and renewed over ACME
// (RFC 8555) with the HTTP-01 (RFC 8555 §8.3) or TLS-ALPN-01 (RFC 8737)
// challenge.
type ACMEConfig struct {
	// Hosts are the DNS names to obtain certificates for, one certificate
	// each. Wildcards are not accepted: they need the DNS-01 challenge.
	Hosts []string
	// Email is the ACME account's contact, where the CA sends expiry and
	// policy notices. Optional but recommended. Using ACME means agreeing
	// to the CA's subscriber agreement.
	Email string
	// CA is the ACME directory URL. Default LetsEncryptCA.
	CA string
	// RootCAs are the roots trusted for the CA's HTTPS endpoint, for a
	// private ACME server. If nil, the system roots are used.
	RootCAs *x509.CertPool
	// Storage is the directory holding the account, keys and certificates
	// (keys with mode 0600). Default DefaultACMEStorage. Nodes that share
	// it (a network file system) share certificates and can answer each
	// other's HTTP-01 challenges.
	Storage string
	// ListenHost is the address the challenge listeners that this
	// package starts on its own bind to (see HTTPPort). Default: all.
	ListenHost string
	// HTTPPort is the port the CA's HTTP-01 requests reach. If nothing
	// listens there while a challenge is pending, a listener answering
	// only challenges is started; if something does, it is assumed to
	// route them through HTTPChallengeHandler. Default 80.
	HTTPPort int
	// TLSALPNPort is the port the CA's TLS-ALPN-01 handshakes reach,
	// answered by a listener using TLSConfig (or started on its own, as
	// for HTTPPort). Default 443.
	TLSALPNPort int
	// DisableHTTPChallenge and DisableTLSALPNChallenge turn off one
	// challenge type; at least one must stay on.
	DisableHTTPChallenge    bool
	DisableTLSALPNChallenge bool
	// Logger receives certificate events (obtained, renewed, failures).
	// If nil, nothing is logged.
	Logger *slog.Logger
}

// Validate reports every problem of the configuration, each with its field
// path.
func (c ACMEConfig) Validate() error {
	var errs []error
	if len(c.Hosts) == 0 {
		errs = append(errs, errors.New("hosts: at least one host is required"))
	}
	for i, h := range c.Hosts {
		n := normalizeName(h)
		switch {
		case strings.HasPrefix(n, "*."):
			errs = append(errs, fmt.Errorf("hosts[%d] %q: wildcard names need the DNS-01 challenge, which is not supported", i, h))
		case net.ParseIP(n) == nil && !validDNSName(n):
			errs = append(errs, fmt.Errorf("hosts[%d] %q: not a DNS name", i, h))
		}
	}
	if c.Email != "" && !strings.Contains(c.Email, "@") {
		errs = append(errs, fmt.Errorf("email %q: not an email address", c.Email))
	}
	if c.CA != "" {
		if u, err := url.Parse(c.CA); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("ca %q: not an https:// directory URL", c.CA))
		}
	}
	if c.HTTPPort < 0 || c.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("http_port %d: out of range", c.HTTPPort))
	}
	if c.TLSALPNPort < 0 || c.TLSALPNPort > 65535 {
		errs = append(errs, fmt.Errorf("tls_alpn_port %d: out of range", c.TLSALPNPort))
	}
	if c.DisableHTTPChallenge && c.DisableTLSALPNChallenge {
		errs = append(errs, errors.New("disable_http_challenge, disable_tls_alpn_challenge: at least one challenge must stay enabled"))
	}
	return errors.Join(errs...)
}

// ACMEManager obtains certificates for its hosts from an ACME CA, serves
// them in TLS handshakes and renews them in the background (about a third
// of their lifetime before expiry) until Close. It is safe for concurrent
// use.
type ACMEManager struct {
	hosts  []string
	log    *slog.Logger
	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	close  sync.Once
}

// NewACMEManager checks cfg and prepares an ACMEManager without contacting
// the CA: start the listeners that use HTTPChallengeHandler and TLSConfig,
// then call Manage.
func NewACMEManager(cfg ACMEConfig) (*ACMEManager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	zlog := newZapLogger(log.With("component", "acme"))
	storage := cfg.Storage
	if storage == "" {
		storage = DefaultACMEStorage
	}
	ca := cfg.CA
	if ca == "" {
		ca = LetsEncryptCA
	}
	m := &ACMEManager{log: log}
	for _, h := range cfg.Hosts {
		m.hosts = append(m.hosts, normalizeName(h))
	}
	// The cache runs the renewal loop; it needs the config to renew with,
	// which needs the cache: hence the closure over m.
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		Logger:           zlog,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: storage},
		Logger:  zlog,
		// Handshakes without SNI get the first host's certificate, as
		// Store falls back to its first certificate.
		DefaultServerName: m.hosts[0],
	})
	iss := certmagic.ACMEIssuer{
		CA:                      ca,
		Email:                   cfg.Email,
		Agreed:                  true,
		TrustedRoots:            cfg.RootCAs,
		ListenHost:              cfg.ListenHost,
		DisableHTTPChallenge:    cfg.DisableHTTPChallenge,
		DisableTLSALPNChallenge: cfg.DisableTLSALPNChallenge,
		Logger:                  zlog,
	}
	if cfg.HTTPPort != 0 && cfg.HTTPPort != certmagic.HTTPChallengePort {
		iss.AltHTTPPort = cfg.HTTPPort
	}
	if cfg.TLSALPNPort != 0 && cfg.TLSALPNPort != certmagic.TLSALPNChallengePort {
		iss.AltTLSALPNPort = cfg.TLSALPNPort
	}
	m.issuer = certmagic.NewACMEIssuer(m.magic, iss)
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

// ACME is NewACMEManager followed by Manage: it returns once every host
// has a certificate, obtained from the CA or loaded from storage. Use it
// when the challenges are answered by listeners this package starts (or
// by listeners already running); otherwise call NewACMEManager, start
// listeners using HTTPChallengeHandler and TLSConfig, then Manage.
func ACME(ctx context.Context, cfg ACMEConfig) (*ACMEManager, error) {
	m, err := NewACMEManager(cfg)
	if err != nil {
		return nil, err
	}
	if err := m.Manage(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Manage loads each host's certificate from storage or obtains it from the
// CA, returning when all are ready or at the first failure (or when ctx is
// done). Renewal then runs in the background until Close.
func (m *ACMEManager) Manage(ctx context.Context) error {
	if err := m.magic.ManageSync(ctx, m.hosts); err != nil {
		return fmt.Errorf("acme: obtain certificates for %v from %s: %w", m.hosts, m.issuer.CA, err)
	}
	m.log.Info("acme certificates ready", "hosts", m.hosts, "ca", m.issuer.CA)
	return nil
}

// GetCertificate returns the certificate for a handshake, for use as
// tls.Config.GetCertificate; it also answers TLS-ALPN-01 challenge
// handshakes. A handshake without SNI gets the first host's certificate.
func (m *ACMEManager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.magic.GetCertificate(hello)
}

// HTTPChallengeHandler wraps next so that HTTP-01 challenge requests
// (GET /.well-known/acme-challenge/<token>, RFC 8555 §8.3) are answered
// and every other request goes to next. Put it in front of the plain-HTTP
// listener on HTTPPort.
func (m *ACMEManager) HTTPChallengeHandler(next http.Handler) http.Handler {
	return m.issuer.HTTPChallengeHandler(next)
}

// TLSConfig returns ServerConfig(m.GetCertificate, nextProtos) with the
// TLS-ALPN-01 protocol "acme-tls/1" added to NextProtos, so that the HTTPS
// listener can answer that challenge. An HTTP/3 clone should set its own
// NextProtos: the challenge runs over TCP only.
func (m *ACMEManager) TLSConfig(nextProtos []string) *tls.Config {
	if nextProtos == nil {
		nextProtos = defaultNextProtos
	}
	c := ServerConfig(m.GetCertificate, nextProtos)
	if !slices.Contains(c.NextProtos, acmeTLSALPN) {
		c.NextProtos = append(c.NextProtos, acmeTLSALPN)
	}
	return c
}

// Certificate returns the leaf certificate currently served for host, or
// nil if there is none yet.
func (m *ACMEManager) Certificate(host string) *x509.Certificate {
	for _, c := range m.cache.AllMatchingCertificates(normalizeName(host)) {
		if c.Leaf != nil {
			return c.Leaf
		}
	}
	return nil
}

// Close stops background renewal. Certificates already obtained keep being
// served by GetCertificate. Calling it more than once is harmless.
func (m *ACMEManager) Close() {
	m.close.Do(m.cache.Stop)
}
