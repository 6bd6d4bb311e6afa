package tlsutil

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	// DefaultSelfSignedDir is where SelfSigned keeps its files when given
	// no directory; it matches the cluster file's tls.dir default.
	DefaultSelfSignedDir = "cdn-tls"
	// DevCAName is the subject common name of the development CA, which is
	// how it shows in browsers' and systems' trust stores.
	DevCAName = "selfcdn local development CA"
	// CAFile and CAKeyFile are the names of the development CA's
	// certificate and private key inside the SelfSigned directory.
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"

	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 90 * 24 * time.Hour
	// leafRenewBefore is how much validity a leaf must have left to be
	// reused; a third of its lifetime, as ACME clients commonly renew.
	leafRenewBefore = 30 * 24 * time.Hour
	// backdate covers clocks of clients that run a little behind.
	backdate = time.Hour
	devOrg   = "selfcdn development"
)

// defaultDevHosts are the names a development certificate covers when
// SelfSigned is given none.
var defaultDevHosts = []string{"localhost", "127.0.0.1", "::1"}

// SelfSignedOption adjusts SelfSigned.
type SelfSignedOption func(*selfSignedOptions)

type selfSignedOptions struct {
	log    *slog.Logger
	now    func() time.Time
	reg    prometheus.Registerer
	labels prometheus.Labels
}

// WithLogger makes SelfSigned and the Store it returns log to l.
func WithLogger(l *slog.Logger) SelfSignedOption {
	return func(o *selfSignedOptions) { o.log = l }
}

// WithClock makes SelfSigned date certificates and judge their validity by
// now instead of time.Now.
func WithClock(now func() time.Time) SelfSignedOption {
	return func(o *selfSignedOptions) { o.now = now }
}

// WithRegisterer registers the returned Store's metrics with reg, with the
// given constant labels (see StoreConfig.MetricLabels).
func WithRegisterer(reg prometheus.Registerer, labels prometheus.Labels) SelfSignedOption {
	return func(o *selfSignedOptions) { o.reg, o.labels = reg, labels }
}

// SelfSigned returns a Store serving a development certificate for hosts
// (DNS names, "*.example.test" wildcards, IPv4 and IPv6 addresses; default
// localhost, 127.0.0.1 and ::1), and the path of the CA certificate that
// clients must trust to accept it.
//
// In dir (default DefaultSelfSignedDir, created with mode 0700) it keeps a
// local CA (ca.pem, and ca-key.pem with mode 0600; ECDSA P-256, valid ten
// years, named DevCAName) and a leaf certificate signed by it (ECDSA
// P-256, valid 90 days, named after the hosts, e.g. "localhost+2.cert.pem"
// and "localhost+2.key.pem"). Existing files are reused while valid: the
// CA until it has less than 90 days left, the leaf while it covers every
// host, chains to the CA and has 30 days left. So a CA imported once into
// a browser keeps working across restarts.
//
// Several processes or goroutines may call SelfSigned on one dir at once:
// they take turns through a lock file and every file is replaced by an
// atomic rename, so readers never see a partial file. A CA file that
// exists but cannot be parsed is an error, never silently replaced.
func SelfSigned(dir string, hosts []string, opts ...SelfSignedOption) (*Store, string, error) {
	o := selfSignedOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if dir == "" {
		dir = DefaultSelfSignedDir
	}
	hosts, err := normalizeHosts(hosts)
	if err != nil {
		return nil, "", fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("self-signed certificate: create dir: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, "", fmt.Errorf("self-signed certificate in %s: %w", dir, err)
	}
	defer unlock()

	ca, caKey, err := loadOrCreateCA(dir, o.now(), o.log)
	if err != nil {
		return nil, "", err
	}
	pair := leafPair(dir, hosts)
	if err := ensureLeaf(pair, hosts, ca, caKey, o.now(), o.log); err != nil {
		return nil, "", err
	}
	s, err := NewStore(StoreConfig{
		Certificates: []Pair{pair},
		Logger:       o.log,
		Now:          o.now,
		Registerer:   o.reg,
		MetricLabels: o.labels,
	})
	if err != nil {
		return nil, "", fmt.Errorf("self-signed certificate: %w", err)
	}
	return s, filepath.Join(dir, CAFile), nil
}

// normalizeHosts lower-cases, checks and de-duplicates hosts, keeping
// their order.
func normalizeHosts(hosts []string) ([]string, error) {
	if len(hosts) == 0 {
		return slices.Clone(defaultDevHosts), nil
	}
	out := make([]string, 0, len(hosts))
	var errs []error
	for i, h := range hosts {
		h = normalizeName(strings.TrimSpace(h))
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			h = ip.String()
		} else if !validDNSName(h) {
			errs = append(errs, fmt.Errorf("hosts[%d] %q: not a DNS name or IP address", i, hosts[i]))
			continue
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out, errors.Join(errs...)
}

// validDNSName accepts LDH labels (underscores tolerated, as some
// internal names use them) and one leading "*" label.
func validDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if !validLabel(l) || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	return true
}

// leafPair names the leaf files after the hosts, as mkcert does, so that
// processes serving different host sets from one dir do not overwrite
// each other's certificate.
func leafPair(dir string, hosts []string) Pair {
	name := strings.NewReplacer("*", "_wildcard", ":", "_").Replace(hosts[0])
	if len(hosts) > 1 {
		name += fmt.Sprintf("+%d", len(hosts)-1)
	}
	return Pair{
		CertFile: filepath.Join(dir, name+".cert.pem"),
		KeyFile:  filepath.Join(dir, name+".key.pem"),
	}
}

// loadOrCreateCA returns the CA in dir, making a new one if there is none
// or the one there is about to expire.
func loadOrCreateCA(dir string, now time.Time, log *slog.Logger) (*x509.Certificate, crypto.Signer, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		ca, key, err := parsePair(certPEM, keyPEM, certPath, keyPath)
		if err != nil {
			return nil, nil, fmt.Errorf("development CA: %w (remove both files to make a new CA)", err)
		}
		if !ca.IsCA || !ca.BasicConstraintsValid {
			return nil, nil, fmt.Errorf("development CA: certificate file %s is not a CA certificate", certPath)
		}
		if now.Add(leafValidity).Before(ca.NotAfter) && !now.Before(ca.NotBefore) {
			return ca, key, nil
		}
		log.Warn("development CA expired or expiring; making a new one, which clients must trust again",
			"ca", certPath, "not_after", ca.NotAfter)
	case errors.Is(certErr, fs.ErrNotExist) || errors.Is(keyErr, fs.ErrNotExist):
		// Make one. A lone key is what a crash between the two renames
		// leaves behind (the key is written first); a lone certificate is
		// useless without its key.
	case certErr != nil:
		return nil, nil, fmt.Errorf("development CA: read certificate: %w", certErr)
	default:
		return nil, nil, fmt.Errorf("development CA: read key: %w", keyErr)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("development CA: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: DevCAName, Organization: []string{devOrg}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("development CA: create certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("development CA: parse new certificate: %w", err)
	}
	if err := writeKeyAndCert(certPath, keyPath, der, key); err != nil {
		return nil, nil, fmt.Errorf("development CA: %w", err)
	}
	log.Info("made a development CA; trust it in clients to accept the edge's certificates",
		"ca", certPath, "not_after", ca.NotAfter)
	return ca, key, nil
}

// ensureLeaf keeps the leaf at pair if it is still good for hosts, and
// otherwise issues a new one from the CA.
func ensureLeaf(pair Pair, hosts []string, ca *x509.Certificate, caKey crypto.Signer, now time.Time, log *slog.Logger) error {
	if reusableLeaf(pair, hosts, ca, now) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("development certificate: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{devOrg}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(tmpl.DNSNames) > 0 && len(tmpl.DNSNames[0]) <= 64 {
		tmpl.Subject.CommonName = tmpl.DNSNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("development certificate for %v: %w", hosts, err)
	}
	if err := writeKeyAndCert(pair.CertFile, pair.KeyFile, der, key); err != nil {
		return fmt.Errorf("development certificate: %w", err)
	}
	log.Info("made a development certificate", "cert", pair.CertFile, "hosts", hosts,
		"not_after", now.Add(leafValidity))
	return nil
}

// reusableLeaf reports whether the leaf at pair matches its key, chains to
// ca, covers every host and has leafRenewBefore left.
func reusableLeaf(pair Pair, hosts []string, ca *x509.Certificate, now time.Time) bool {
	certPEM, err := os.ReadFile(pair.CertFile)
	if err != nil {
		return false
	}
	keyPEM, err := os.ReadFile(pair.KeyFile)
	if err != nil {
		return false
	}
	leaf, _, err := parsePair(certPEM, keyPEM, pair.CertFile, pair.KeyFile)
	if err != nil {
		return false
	}
	if leaf.CheckSignatureFrom(ca) != nil || !bytes.Equal(leaf.RawIssuer, ca.RawSubject) {
		return false
	}
	if now.Before(leaf.NotBefore) || now.Add(leafRenewBefore).After(leaf.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(leaf.DNSNames, h) {
			return false
		}
	}
	return true
}

// parsePair parses a PEM certificate and PEM private key and checks that
// they belong together.
func parsePair(certPEM, keyPEM []byte, certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("certificate file %s: no PEM CERTIFICATE block", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate file %s: %w", certPath, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, nil, fmt.Errorf("key file %s: no PEM PRIVATE KEY block", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("key file %s: %w", keyPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("key file %s: unsupported key type %T", keyPath, k)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := signer.Public().(equaler); !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("key file %s does not match certificate file %s", keyPath, certPath)
	}
	return cert, signer, nil
}

// writeKeyAndCert writes the key (mode 0600) and then the certificate
// (mode 0644), each by an atomic rename.
func writeKeyAndCert(certPath, keyPath string, der []byte, key crypto.Signer) error {
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key for %s: %w", keyPath, err)
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileAtomic writes data to a temporary file beside path, flushes it
// and renames it over path, so readers see the old or the new content.
// The temporary file is created with mode 0600, so a key is never readable
// by others even for a moment.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// randomSerial returns a random 128-bit serial number (RFC 5280 §4.1.2.2
// allows up to 20 octets; CA/B Forum asks for 64 random bits or more).
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
