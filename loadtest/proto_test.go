package loadtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go/http3"

	"github.com/selfcdn/cdn/endpoints"
)

// selfSigned returns a certificate for 127.0.0.1 and localhost and a pool
// trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "loadtest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost", "assets.example.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startH3 serves h over HTTP/3 on 127.0.0.1:0 with cert.
func startH3(t *testing.T, h http.Handler, cert tls.Certificate) *net.UDPAddr {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http3.Server{
		Handler:   h,
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	t.Cleanup(func() {
		srv.Close()
		pc.Close()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Logf("http3 server: %v", err)
		}
	})
	return pc.LocalAddr().(*net.UDPAddr)
}

// protoHandler counts requests by the protocol they arrived over.
func protoHandler(counts map[int]*atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := counts[r.ProtoMajor]; c != nil {
			c.Add(1)
		}
		w.Header().Set("Cache-Status", "edge; fwd=miss; stored")
		w.Write([]byte("body"))
	})
}

func newCounts() map[int]*atomic.Int64 {
	return map[int]*atomic.Int64{1: {}, 2: {}, 3: {}}
}

func TestH2C(t *testing.T) {
	counts := newCounts()
	srv := httptest.NewUnstartedServer(protoHandler(counts))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()

	cfg := baseConfig(srv.URL)
	cfg.Proto = ProtoH2C
	cfg.Requests = 40
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts[2].Load(); got != 40 || counts[1].Load() != 0 {
		t.Errorf("server saw %d HTTP/2 and %d HTTP/1 requests, want 40 and 0", got, counts[1].Load())
	}
	if rep.Total.Protocols["HTTP/2.0"] != 40 {
		t.Errorf("protocols %v", rep.Total.Protocols)
	}
	if rep.Total.Cache.Misses != 40 || rep.Total.Cache.Stored != 40 {
		t.Errorf("cache %+v", rep.Total.Cache)
	}
}

func TestH2OverTLS(t *testing.T) {
	counts := newCounts()
	srv := httptest.NewUnstartedServer(protoHandler(counts))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected below
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	cfg := baseConfig(srv.URL)
	cfg.Proto = ProtoH2
	cfg.TLS.RootCAs = pool
	cfg.Requests = 30
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts[2].Load(); got != 30 {
		t.Errorf("server saw %d HTTP/2 requests, want 30", got)
	}
	if rep.Total.Protocols["HTTP/2.0"] != 30 || rep.Total.Errors != 0 {
		t.Errorf("protocols %v errors %v", rep.Total.Protocols, rep.Total.ErrorsByKind)
	}

	// Without trusting the certificate every request is a TLS error.
	cfg.TLS.RootCAs = nil
	cfg.Requests = 5
	rep, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.ErrorsByKind[errTLS] != 5 {
		t.Errorf("untrusted certificate: errors %v, want 5 tls", rep.Total.ErrorsByKind)
	}
	cfg.TLS.Insecure = true
	rep, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Errors != 0 {
		t.Errorf("insecure: errors %v", rep.Total.ErrorsByKind)
	}
}

func TestH3(t *testing.T) {
	cert, pool := selfSigned(t)
	counts := newCounts()
	addr := startH3(t, protoHandler(counts), cert)

	cfg := baseConfig("https://" + addr.String())
	cfg.Proto = ProtoH3
	cfg.TLS.RootCAs = pool
	cfg.Requests = 30
	cfg.Concurrency = 3
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts[3].Load(); got != 30 {
		t.Errorf("server saw %d HTTP/3 requests, want 30 (errors %v)", got, rep.Total.ErrorsByKind)
	}
	if rep.Total.Protocols["HTTP/3.0"] != 30 {
		t.Errorf("protocols %v", rep.Total.Protocols)
	}
}

// TestH3EndpointsSourceAddress sends HTTP/3 from a region's client network
// to the edge GeoDNS names, checking the QUIC source address and the TLS
// server name (the site, not the edge's address).
func TestH3EndpointsSourceAddress(t *testing.T) {
	cert, pool := selfSigned(t)
	var mu sync.Mutex
	sources := map[string]int{}
	addr := startH3(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, _ := netip.ParseAddrPort(r.RemoteAddr)
		mu.Lock()
		sources[src.Addr().String()+" "+r.Host+" "+r.TLS.ServerName]++
		mu.Unlock()
	}), cert)
	dnsAddr := startDNS(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP("127.0.0.1")})
		w.WriteMsg(m)
	})
	clientNet := netip.MustParsePrefix("127.4.0.0/16")
	ep := &endpoints.File{
		Sites: []string{"assets.example.com"}, DNS: dnsAddr,
		PoPs: []endpoints.PoP{{Name: "ap", ClientNetwork: clientNet.String(),
			Edges: []endpoints.Node{{Name: "edge-ap", Address: "127.0.0.1", Ports: endpoints.Ports{HTTPS: addr.Port}}}}},
	}
	cfg := Config{
		Endpoints: ep, Proto: ProtoH3, TLS: TLSConfig{RootCAs: pool}, Concurrency: 2, Requests: 20,
		Timeout: 5 * time.Second, MaxDuration: 20 * time.Second, Logger: quietLogger(),
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Responses != 20 || rep.Total.Protocols["HTTP/3.0"] != 20 {
		t.Fatalf("responses %d protocols %v errors %v", rep.Total.Responses, rep.Total.Protocols, rep.Total.ErrorsByKind)
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for k, n := range sources {
		f := strings.Fields(k)
		src := netip.MustParseAddr(f[0])
		if !clientNet.Contains(src) || f[1] != "assets.example.com" || f[2] != "assets.example.com" {
			t.Errorf("request from %s for host %s with SNI %s", f[0], f[1], f[2])
		}
		total += n
	}
	if total != 20 || len(rep.PoPs) != 1 || rep.PoPs[0].Name != "ap" {
		t.Errorf("served %d, PoPs %v", total, rep.PoPs)
	}
}
