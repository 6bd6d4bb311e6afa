// Package tlsutil provides the certificates an edge serves over HTTPS and
// HTTP/3: certificate files chosen by SNI and reloaded without a restart
// (Store), a local development CA (SelfSigned), certificates obtained and
// renewed over ACME (ACMEManager), and the server-side *tls.Config that
// every listener shares (ServerConfig).
package tlsutil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Pair names one certificate and its private key, both PEM files. The
// certificate file may hold the leaf followed by its intermediates.
type Pair struct {
	CertFile string
	KeyFile  string
}

// StoreConfig configures a Store.
type StoreConfig struct {
	// Certificates are the pairs to serve. The first one is the fallback
	// for handshakes whose SNI is absent or matches no certificate, and
	// when two pairs claim the same name the one listed first wins.
	Certificates []Pair
	// Logger receives reloads, failed reloads and expiry warnings.
	// If nil, nothing is logged.
	Logger *slog.Logger
	// Now is the clock used to warn about expired certificates and to
	// report time to expiry. If nil, time.Now is used.
	Now func() time.Time
	// Registerer receives the store's metrics (see README). If nil, no
	// metrics are registered.
	Registerer prometheus.Registerer
	// MetricLabels are constant labels added to every metric, such as
	// {"node": "edge-eu-1"}, so that several stores share one registry.
	MetricLabels prometheus.Labels
}

// Validate reports every problem of the configuration, each with its field
// path.
func (c StoreConfig) Validate() error {
	var errs []error
	if len(c.Certificates) == 0 {
		errs = append(errs, errors.New("certificates: at least one pair is required"))
	}
	for i, p := range c.Certificates {
		if p.CertFile == "" {
			errs = append(errs, fmt.Errorf("certificates[%d].cert: empty file name", i))
		}
		if p.KeyFile == "" {
			errs = append(errs, fmt.Errorf("certificates[%d].key: empty file name", i))
		}
	}
	return errors.Join(errs...)
}

// Store serves certificates loaded from files, chosen by the SNI of each
// TLS handshake. It is safe for concurrent use: handshakes read an
// immutable index through an atomic pointer, and Reload swaps in a new one.
type Store struct {
	cfg StoreConfig
	log *slog.Logger
	now func() time.Time

	idx atomic.Pointer[index]

	reloadMu sync.Mutex // serialises Reload, so a slow reader never overwrites a newer index

	// Counters exported as metrics.
	reloadsOK     atomic.Uint64
	reloadsFailed atomic.Uint64
	fallbacks     atomic.Uint64
}

// entry is one loaded pair.
type entry struct {
	pair    Pair
	cert    *tls.Certificate
	certSig fileSig
	keySig  fileSig
}

// fileSig identifies one version of a file for change detection.
type fileSig struct {
	mtime time.Time
	size  int64
}

// index maps names to certificates. It is never modified after it is
// published, so handshakes read it without locks.
type index struct {
	entries  []entry
	exact    map[string]*tls.Certificate // lower-case DNS name
	wildcard map[string]*tls.Certificate // "*.example.com" stored under "example.com"
	ips      map[string]*tls.Certificate // IP SANs, for handshakes without SNI
}

// NewStore loads every pair of cfg and returns a Store serving them. An
// unreadable, unparsable or mismatched pair is an error naming its file.
func NewStore(cfg StoreConfig) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tls certificate store: %w", err)
	}
	s := &Store{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	entries := make([]entry, len(cfg.Certificates))
	var errs []error
	for i, p := range cfg.Certificates {
		e, err := loadEntry(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificates[%d]: %w", i, err))
			continue
		}
		entries[i] = e
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.publish(entries)
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(newStoreCollector(s, cfg.MetricLabels)); err != nil {
			return nil, fmt.Errorf("register tls store metrics: %w", err)
		}
	}
	return s, nil
}

// GetCertificate returns the certificate for a handshake, for use as
// tls.Config.GetCertificate. The SNI server name is matched without regard
// to case and to a trailing dot: first against the certificates' DNS names,
// then against wildcard names ("*.example.com" matches exactly one label in
// its place, as RFC 6125 §6.4.3 allows). A handshake without SNI (a client
// that dialled an IP address; RFC 6066 §3 forbids IP literals in SNI) gets
// a certificate whose IP SANs hold the local address it reached, if any.
// Otherwise the first configured certificate is returned, so that clients
// that send no or unknown SNI still complete the handshake and see a
// name-mismatch error of their own rather than a handshake failure.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	idx := s.idx.Load()
	if c := idx.lookup(hello); c != nil {
		return c, nil
	}
	s.fallbacks.Add(1)
	return idx.entries[0].cert, nil
}

// lookup finds a certificate for hello, or nil for the fallback.
func (idx *index) lookup(hello *tls.ClientHelloInfo) *tls.Certificate {
	if hello == nil {
		return nil
	}
	name := normalizeName(hello.ServerName)
	if name == "" {
		if hello.Conn == nil {
			return nil
		}
		if a, ok := hello.Conn.LocalAddr().(*net.TCPAddr); ok {
			return idx.ips[a.IP.String()]
		}
		if a, ok := hello.Conn.LocalAddr().(*net.UDPAddr); ok {
			return idx.ips[a.IP.String()]
		}
		return nil
	}
	if c := idx.exact[name]; c != nil {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 && validLabel(name[:i]) {
		if c := idx.wildcard[name[i+1:]]; c != nil {
			return c
		}
	}
	return nil
}

// validLabel reports whether l is a host name label a wildcard may stand
// for: letters, digits, hyphens and (tolerated) underscores.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// normalizeName lower-cases the ASCII letters of a server name and drops
// one trailing dot. Only ASCII is folded: host names on the wire are
// A-labels (RFC 5890 §2.3.2.1), and Unicode folding would let a name such
// as "\u212a.example.com" (Kelvin sign) match "k.example.com".
func normalizeName(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}

// Reload re-reads every pair. A pair that fails to load keeps its previous
// certificate, and the error names its files; the other pairs are updated.
// Handshakes see either the old or the new set, never a mix of a new
// certificate with an old key.
func (s *Store) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.idx.Load()
	entries := make([]entry, len(old.entries))
	var errs []error
	changed := false
	for i, prev := range old.entries {
		e, err := loadEntry(prev.pair)
		if err != nil {
			errs = append(errs, fmt.Errorf("reload certificates[%d], keeping the previous certificate: %w", i, err))
			entries[i] = prev
			continue
		}
		entries[i] = e
		if !sameCert(prev.cert, e.cert) {
			changed = true
			s.log.Info("tls certificate reloaded", "cert", prev.pair.CertFile,
				"names", e.cert.Leaf.DNSNames, "not_after", e.cert.Leaf.NotAfter)
		}
	}
	s.publish(entries)
	if err := errors.Join(errs...); err != nil {
		s.reloadsFailed.Add(1)
		return err
	}
	if changed {
		s.reloadsOK.Add(1)
	}
	return nil
}

// sameCert reports whether two certificates have the same leaf.
func sameCert(a, b *tls.Certificate) bool {
	return a != nil && b != nil && len(a.Certificate) > 0 && len(b.Certificate) > 0 &&
		string(a.Certificate[0]) == string(b.Certificate[0])
}

// Watch polls the files' modification times and sizes every interval
// (default 5s when interval <= 0) and reloads when any changed, until ctx
// is done. A failed reload is logged once per version of the files and
// retried when they change again, so a half-written pair (certificate
// rewritten, key not yet) is picked up once it is complete.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastFailed []fileSig
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := s.idx.Load()
		sigs := make([]fileSig, 0, 2*len(cur.entries))
		changed := false
		for _, e := range cur.entries {
			c, k := statSig(e.pair.CertFile), statSig(e.pair.KeyFile)
			sigs = append(sigs, c, k)
			if c != e.certSig || k != e.keySig {
				changed = true
			}
		}
		if !changed || sigsEqual(sigs, lastFailed) {
			continue
		}
		if err := s.Reload(); err != nil {
			lastFailed = sigs
			s.log.Error("tls certificate reload failed", "err", err)
			continue
		}
		lastFailed = nil
	}
}

func sigsEqual(a, b []fileSig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// statSig returns the signature of a file, zero if it cannot be stat'ed.
func statSig(path string) fileSig {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{}
	}
	return fileSig{mtime: fi.ModTime(), size: fi.Size()}
}

// Certificates returns the leaf certificate of every pair, in
// configuration order, as currently served.
func (s *Store) Certificates() []*x509.Certificate {
	idx := s.idx.Load()
	out := make([]*x509.Certificate, len(idx.entries))
	for i, e := range idx.entries {
		out[i] = e.cert.Leaf
	}
	return out
}

// publish builds an index over entries and makes it current.
func (s *Store) publish(entries []entry) {
	idx := &index{
		entries:  entries,
		exact:    make(map[string]*tls.Certificate),
		wildcard: make(map[string]*tls.Certificate),
		ips:      make(map[string]*tls.Certificate),
	}
	now := s.now()
	for _, e := range entries {
		leaf := e.cert.Leaf
		if now.After(leaf.NotAfter) {
			s.log.Warn("tls certificate has expired", "cert", e.pair.CertFile, "not_after", leaf.NotAfter)
		} else if now.Before(leaf.NotBefore) {
			s.log.Warn("tls certificate is not valid yet", "cert", e.pair.CertFile, "not_before", leaf.NotBefore)
		}
		if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 {
			s.log.Warn("tls certificate has no DNS or IP subject alternative names; clients will reject it", "cert", e.pair.CertFile)
		}
		for _, n := range leaf.DNSNames {
			n = normalizeName(n)
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				if _, dup := idx.wildcard[rest]; !dup {
					idx.wildcard[rest] = e.cert
				}
				continue
			}
			if _, dup := idx.exact[n]; !dup {
				idx.exact[n] = e.cert
			}
		}
		for _, ip := range leaf.IPAddresses {
			if _, dup := idx.ips[ip.String()]; !dup {
				idx.ips[ip.String()] = e.cert
			}
		}
	}
	s.idx.Store(idx)
}

// loadEntry reads and checks one pair, naming the file at fault.
func loadEntry(p Pair) (entry, error) {
	certSig, keySig := statSig(p.CertFile), statSig(p.KeyFile)
	certPEM, err := os.ReadFile(p.CertFile)
	if err != nil {
		return entry{}, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(p.KeyFile)
	if err != nil {
		return entry{}, fmt.Errorf("read key: %w", err)
	}
	if !hasPEMBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return entry{}, fmt.Errorf("certificate file %s: no PEM CERTIFICATE block", p.CertFile)
	}
	if !hasPEMBlock(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return entry{}, fmt.Errorf("key file %s: no PEM PRIVATE KEY block", p.KeyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return entry{}, fmt.Errorf("certificate file %s with key file %s: %w", p.CertFile, p.KeyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return entry{}, fmt.Errorf("certificate file %s: %w", p.CertFile, err)
		}
	}
	return entry{pair: p, cert: &cert, certSig: certSig, keySig: keySig}, nil
}

// hasPEMBlock reports whether b holds a PEM block whose type satisfies ok.
func hasPEMBlock(b []byte, ok func(string) bool) bool {
	for len(b) > 0 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if ok(blk.Type) {
			return true
		}
	}
	return false
}
