package tlsutil

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// acmeTestHost is the name certificates are obtained for; the test's DNS
// server points every name at 127.0.0.1.
const acmeTestHost = "edge.selfcdn.test"

// loopbackDNS runs a DNS server on TCP 127.0.0.1:0 (pebble's VA asks over
// TCP) answering A 127.0.0.1 for every name and no AAAA, and returns its
// address.
func loopbackDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{
		Listener:          ln,
		NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(q)
			m.Authoritative = true
			for _, qq := range q.Question {
				if qq.Qtype == dns.TypeA {
					m.Answer = append(m.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
						A:   net.IPv4(127, 0, 0, 1),
					})
				}
			}
			_ = w.WriteMsg(m)
		}),
	}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("DNS server did not start")
	}
	return ln.Addr().String()
}

// pebbleCA is an in-process pebble ACME server.
type pebbleCA struct {
	directory string
	roots     *x509.CertPool // trusted for pebble's HTTPS API
	issuing   *x509.CertPool // pebble's root, which issued certificates chain to
}

// startPebble runs pebble with its VA validating challenges for real
// against 127.0.0.1 on httpPort (HTTP-01) and tlsPort (TLS-ALPN-01),
// resolving names through resolver.
func startPebble(t *testing.T, httpPort, tlsPort int, resolver string) *pebbleCA {
	t.Helper()
	// pebble reads these when its parts are made: validate at once rather
	// than after a random pause, and do not reject nonces at random.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(testWriter{t}, "pebble ", 0)
	}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "default"},
	})
	validator := va.New(logger, httpPort, tlsPort, false, resolver, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	srv := httptest.NewUnstartedServer(front.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	p := &pebbleCA{directory: srv.URL + wfe.DirectoryPath, roots: x509.NewCertPool(), issuing: x509.NewCertPool()}
	p.roots.AddCert(srv.Certificate())
	p.issuing.AddCert(authority.GetRootCert(0).Cert)
	return p
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// managerRef lets listeners started before the manager route to it.
type managerRef struct{ m atomic.Pointer[ACMEManager] }

func (r *managerRef) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	m := r.m.Load()
	if m == nil {
		http.NotFound(w, req)
		return
	}
	m.HTTPChallengeHandler(http.NotFoundHandler()).ServeHTTP(w, req)
}

func (r *managerRef) tlsConfig(*tls.ClientHelloInfo) (*tls.Config, error) {
	return r.m.Load().TLSConfig(nil), nil
}

// TestACME obtains a certificate from an in-process pebble, which
// validates a real challenge (RFC 8555 §8.3 HTTP-01, RFC 8737
// TLS-ALPN-01) by connecting to this process's listeners on 127.0.0.1,
// then completes a handshake verified against pebble's root.
func TestACME(t *testing.T) {
	if testing.Short() {
		t.Skip("ACME issuance against in-process pebble takes a few seconds")
	}
	resolver := loopbackDNS(t)
	tests := []struct {
		name                     string
		disableHTTP, disableALPN bool
	}{
		{"http-01", false, true},
		{"tls-alpn-01", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := &managerRef{}
			// The edge's plain-HTTP listener, routing challenges through
			// HTTPChallengeHandler.
			httpSrv := httptest.NewServer(ref)
			t.Cleanup(httpSrv.Close)
			// The edge's HTTPS listener, using TLSConfig.
			tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetConfigForClient: ref.tlsConfig})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tlsLn.Close() })
			go acceptHandshakes(tlsLn)

			httpPort := httpSrv.Listener.Addr().(*net.TCPAddr).Port
			tlsPort := tlsLn.Addr().(*net.TCPAddr).Port
			pebble := startPebble(t, httpPort, tlsPort, resolver)

			storage := filepath.Join(t.TempDir(), "acme")
			cfg := ACMEConfig{
				Hosts:                   []string{acmeTestHost},
				Email:                   "ops@selfcdn.test",
				CA:                      pebble.directory,
				RootCAs:                 pebble.roots,
				Storage:                 storage,
				ListenHost:              "127.0.0.1",
				HTTPPort:                httpPort,
				TLSALPNPort:             tlsPort,
				DisableHTTPChallenge:    tt.disableHTTP,
				DisableTLSALPNChallenge: tt.disableALPN,
				Logger:                  testLogger(t),
			}
			m, err := NewACMEManager(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(m.Close)
			ref.m.Store(m)
			ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
			defer cancel()
			if err := m.Manage(ctx); err != nil {
				t.Fatal(err)
			}

			leaf := m.Certificate(acmeTestHost)
			if leaf == nil {
				t.Fatal("no certificate after Manage")
			}
			st, err := handshake(tlsLn.Addr().String(), &tls.Config{
				ServerName: acmeTestHost, RootCAs: pebble.issuing, NextProtos: []string{"h2"},
			})
			if err != nil {
				t.Fatalf("handshake verified against pebble's root: %v", err)
			}
			if !st.PeerCertificates[0].Equal(leaf) || st.NegotiatedProtocol != "h2" {
				t.Errorf("served serial %s proto %q, want %s h2",
					st.PeerCertificates[0].SerialNumber, st.NegotiatedProtocol, leaf.SerialNumber)
			}
			// Without SNI the host's certificate is still served.
			if st, err := handshake(tlsLn.Addr().String(), &tls.Config{InsecureSkipVerify: true}); err != nil ||
				!st.PeerCertificates[0].Equal(leaf) {
				t.Errorf("handshake without SNI: %v", err)
			}
			// Keys in storage are private to the owner.
			checkKeyModes(t, storage)

			// A restart with the same storage serves the stored
			// certificate without a new order.
			m.Close()
			m2, err := ACME(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m2.Close()
			if got := m2.Certificate(acmeTestHost); got == nil || !got.Equal(leaf) {
				t.Error("restart with the same storage did not reuse the certificate")
			}
		})
	}
}

// acceptHandshakes completes handshakes on ln (for TLS-ALPN-01 and for the
// test's clients), writes one byte and closes, until ln is closed.
func acceptHandshakes(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if c.(*tls.Conn).Handshake() == nil {
				_, _ = c.Write([]byte{'x'})
			}
		}()
	}
}

// checkKeyModes fails if any *.key file under dir is readable by others.
func checkKeyModes(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".key") {
			return err
		}
		n++
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, readable by others", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("no key files found under %s", dir)
	}
}

// TestACMEConfigValidate checks that every problem is reported with its
// field path.
func TestACMEConfigValidate(t *testing.T) {
	err := ACMEConfig{
		Hosts:                   []string{"ok.example.com", "*.example.com", "bad name"},
		Email:                   "nobody",
		CA:                      "http://acme.example.com/dir",
		HTTPPort:                70000,
		DisableHTTPChallenge:    true,
		DisableTLSALPNChallenge: true,
	}.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{"hosts[1]", "hosts[2]", "email", "ca ", "http_port", "disable_http_challenge"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if err := (ACMEConfig{}).Validate(); err == nil || !strings.Contains(err.Error(), "hosts") {
		t.Errorf("empty config: %v", err)
	}
	if err := (ACMEConfig{Hosts: []string{"cdn.example.com"}}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}
