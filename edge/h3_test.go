package edge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// selfSigned writes a certificate for 127.0.0.1 and localhost and returns
// the file paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "edge test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost", "assets.example.com"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// The same object over HTTP/1.1, HTTP/2 and HTTP/3: identical bodies,
// hits after the first, Alt-Svc advertising HTTP/3.
func TestThreeProtocols(t *testing.T) {
	o := startOrigin(t)
	certFile, keyFile, pool := selfSigned(t)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	cfg.Now = o.clock.Now
	cfg.TLSListen, cfg.TLSCert, cfg.TLSKey = "127.0.0.1:0", certFile, keyFile
	e := startEdge(t, cfg)
	httpsURL := "https://" + e.Addr("https").String()
	h3URL := "https://" + e.Addr("http3").String()
	p := uniq(t) + "?size=70000&cc=max-age%3D60"

	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	h3tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer h3tr.Close()
	h3 := &http.Client{Transport: h3tr}

	var bodies []string
	for i, c := range []struct {
		client *http.Client
		url    string
		proto  int
	}{{h1, httpsURL, 1}, {h2, httpsURL, 2}, {h3, h3URL, 3}} {
		resp, err := c.client.Get(c.url + p)
		if err != nil {
			t.Fatalf("HTTP/%d: %v", c.proto, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("HTTP/%d body: %v", c.proto, err)
		}
		if resp.ProtoMajor != c.proto {
			t.Fatalf("got %s, want HTTP/%d", resp.Proto, c.proto)
		}
		checkDigest(t, result{resp.StatusCode, resp.Header, b})
		if i > 0 {
			mustContain(t, resp.Proto+" Cache-Status", resp.Header.Get("Cache-Status"), "hit")
		}
		if c.proto < 3 {
			mustContain(t, "Alt-Svc", resp.Header.Get("Alt-Svc"), `h3=":`)
		}
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatal("bodies differ between protocols")
	}

	// Concurrent streams on one HTTP/3 connection, misses and hits.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := p
			if i%2 == 0 {
				path = uniq(t) + "?size=5000&cc=max-age%3D60"
			}
			resp, err := h3.Get(h3URL + path)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				errs <- err
				return
			}
			checkDigest(t, result{resp.StatusCode, resp.Header, b})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h3URL, "https://127.0.0.1:") {
		t.Fatal(h3URL)
	}
}
