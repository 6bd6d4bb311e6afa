package tlsutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// caPool reads a CA file into a pool, as curl --cacert does.
func caPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no certificates", path)
	}
	return pool
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSelfSignedTrust checks that a client trusting only ca.pem accepts
// the edge's certificate for every DNS name and IP address it was made for.
func TestSelfSignedTrust(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	hosts := []string{"localhost", "Edge.Example.Test", "*.sites.example.test", "127.0.0.1", "::1"}
	s, caPath, err := SelfSigned(dir, hosts)
	if err != nil {
		t.Fatal(err)
	}
	if caPath != filepath.Join(dir, "ca.pem") {
		t.Errorf("CA path %s, want %s", caPath, filepath.Join(dir, "ca.pem"))
	}
	pool := caPool(t, caPath)
	addr := serveTLS(t, "", ServerConfig(s.GetCertificate, nil))
	for _, name := range []string{"localhost", "edge.example.test", "EDGE.example.test", "img.sites.example.test"} {
		if _, err := handshake(addr, &tls.Config{ServerName: name, RootCAs: pool}); err != nil {
			t.Errorf("handshake for %s trusting only %s: %v", name, caPath, err)
		}
	}
	// By IP: crypto/tls sends no SNI for an IP and checks the IP SANs.
	if _, err := handshake(addr, &tls.Config{ServerName: "127.0.0.1", RootCAs: pool}); err != nil {
		t.Errorf("handshake for 127.0.0.1: %v", err)
	}
	if _, err := handshake(addr, &tls.Config{ServerName: "other.example.test", RootCAs: pool}); err == nil {
		t.Error("handshake for a name not covered succeeded")
	}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		addr6 := serveTLS(t, "[::1]:0", ServerConfig(s.GetCertificate, nil))
		if _, err := handshake(addr6, &tls.Config{ServerName: "::1", RootCAs: pool}); err != nil {
			t.Errorf("handshake for ::1: %v", err)
		}
	} else {
		t.Logf("IPv6 loopback unavailable, ::1 not dialled: %v", err)
	}

	// The CA and leaf are what the README promises.
	ca := leafOf(t, readFile(t, caPath))
	if !ca.IsCA || ca.Subject.CommonName != DevCAName {
		t.Errorf("CA: IsCA=%v CN=%q", ca.IsCA, ca.Subject.CommonName)
	}
	if k, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life < 9*365*24*time.Hour {
		t.Errorf("CA lifetime %v, want about ten years", life)
	}
	leaf := s.Certificates()[0]
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life < 89*24*time.Hour || life > 91*24*time.Hour {
		t.Errorf("leaf lifetime %v, want about 90 days", life)
	}
	if len(leaf.IPAddresses) != 2 || len(leaf.DNSNames) != 3 {
		t.Errorf("leaf SANs: DNS %v IP %v", leaf.DNSNames, leaf.IPAddresses)
	}

	// Keys are private to the owner, and so is the directory.
	for _, f := range []string{filepath.Join(dir, "ca-key.pem"), s.cfg.Certificates[0].KeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v (%v), want 0700", dir, fi.Mode().Perm(), err)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// TestSelfSignedReuse checks that the CA survives restarts, that the leaf
// is reused while good and replaced when it nears expiry or the hosts
// change, and that the CA is replaced only when it nears its own expiry.
func TestSelfSignedReuse(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"localhost", "127.0.0.1"}
	now := time.Now()
	clock := func() time.Time { return now }

	s1, caPath, err := SelfSigned(dir, hosts, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	ca1 := readFile(t, caPath)
	leaf1 := s1.Certificates()[0]

	// Restart: everything reused.
	s2, _, err := SelfSigned(dir, hosts, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, caPath), ca1) {
		t.Error("CA changed on restart")
	}
	if !s2.Certificates()[0].Equal(leaf1) {
		t.Error("leaf changed on restart")
	}

	// Other hosts: same CA, a leaf of their own beside the first.
	s3, _, err := SelfSigned(dir, []string{"edge.example.test"}, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, caPath), ca1) {
		t.Error("CA changed for new hosts")
	}
	if got := s3.Certificates()[0]; got.Equal(leaf1) || got.VerifyHostname("edge.example.test") != nil {
		t.Errorf("leaf for new hosts: %v", got.DNSNames)
	}
	if _, err := os.Stat(s1.cfg.Certificates[0].CertFile); err != nil {
		t.Errorf("first leaf gone: %v", err)
	}

	// 70 days on, the 90-day leaf has under 30 days left: renewed, same CA.
	later := now.Add(70 * 24 * time.Hour)
	s4, _, err := SelfSigned(dir, hosts, WithClock(func() time.Time { return later }))
	if err != nil {
		t.Fatal(err)
	}
	if s4.Certificates()[0].Equal(leaf1) {
		t.Error("leaf near expiry was reused")
	}
	if !bytes.Equal(readFile(t, caPath), ca1) {
		t.Error("CA changed when only the leaf needed renewal")
	}
	if _, err := s4.Certificates()[0].Verify(x509.VerifyOptions{Roots: caPool(t, caPath), CurrentTime: later}); err != nil {
		t.Errorf("renewed leaf does not chain to the CA: %v", err)
	}

	// Near the CA's own expiry, a new CA is made.
	muchLater := now.Add(10*365*24*time.Hour - 30*24*time.Hour)
	if _, _, err := SelfSigned(dir, hosts, WithClock(func() time.Time { return muchLater })); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(readFile(t, caPath), ca1) {
		t.Error("CA near expiry was reused")
	}
}

// TestSelfSignedConcurrent starts several SelfSigned calls on one empty
// dir at once: all succeed, and all serve leaves of the one CA on disk.
func TestSelfSignedConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 6
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], _, errs[i] = SelfSigned(dir, []string{"localhost"})
		}()
	}
	wg.Wait()
	pool := caPool(t, filepath.Join(dir, "ca.pem"))
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if _, err := stores[i].Certificates()[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
			t.Errorf("call %d: leaf does not chain to ca.pem: %v", i, err)
		}
	}
}

// TestSelfSignedErrors checks bad hosts and a damaged CA: both refused
// with errors naming the input, and the CA is never overwritten.
func TestSelfSignedErrors(t *testing.T) {
	if _, _, err := SelfSigned(t.TempDir(), []string{"ok.example.test", "bad host", "a..b"}); err == nil ||
		!strings.Contains(err.Error(), `hosts[1] "bad host"`) || !strings.Contains(err.Error(), `hosts[2] "a..b"`) {
		t.Errorf("bad hosts: %v", err)
	}

	dir := t.TempDir()
	if _, _, err := SelfSigned(dir, nil); err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(dir, "ca.pem")
	damaged := []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	if err := os.WriteFile(caPath, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := SelfSigned(dir, nil)
	if err == nil || !strings.Contains(err.Error(), caPath) {
		t.Errorf("damaged CA: error %v does not name %s", err, caPath)
	}
	if !bytes.Equal(readFile(t, caPath), damaged) {
		t.Error("damaged CA was overwritten")
	}
}

// TestSelfSignedDefaultHosts checks the default host list.
func TestSelfSignedDefaultHosts(t *testing.T) {
	s, _, err := SelfSigned(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf := s.Certificates()[0]
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("default leaf does not cover %s: %v", h, err)
		}
	}
}
