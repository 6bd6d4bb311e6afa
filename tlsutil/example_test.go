package tlsutil_test

import (
	"crypto/tls"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/selfcdn/cdn/tlsutil"
)

// Development mode: a local CA and a certificate for the hosts, served to
// HTTPS and HTTP/3 listeners.
func ExampleSelfSigned() {
	dir, err := os.MkdirTemp("", "cdn-tls")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, caPath, err := tlsutil.SelfSigned(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		log.Fatal(err)
	}
	https := tlsutil.ServerConfig(store.GetCertificate, nil) // h2, http/1.1
	h3 := https.Clone()
	h3.NextProtos = []string{"h3"}

	fmt.Println("trust:", filepath.Base(caPath))
	fmt.Println("names:", store.Certificates()[0].DNSNames, store.Certificates()[0].IPAddresses)
	fmt.Println("alpn:", https.NextProtos, h3.NextProtos, https.MinVersion == tls.VersionTLS12)
	// Output:
	// trust: ca.pem
	// names: [localhost] [127.0.0.1]
	// alpn: [h2 http/1.1] [h3] true
}
