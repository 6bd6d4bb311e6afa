package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/tlsutil"
)

// TLSSetup is what a node needs for HTTPS: the TLS settings, the
// development CA's path when one was made, and a watcher that reloads
// certificate files when they change.
type TLSSetup struct {
	Config *tls.Config
	// CAPath is the development CA certificate to trust, if self-signed.
	CAPath string
	// Watch reloads certificate files on change until ctx ends; nil when
	// there is nothing to watch.
	Watch func(ctx context.Context)
	// WrapHTTP, with ACME, routes HTTP-01 challenges on the HTTP listener.
	WrapHTTP func(http.Handler) http.Handler
	// Manage, with ACME, obtains and renews the certificates; run it once
	// the listeners are up (they answer the challenges).
	Manage func(ctx context.Context) error
}

// ACMEOptions configure ACME certificates for a node.
type ACMEOptions struct {
	Hosts     []string
	Email, CA string
	CARoot    string // PEM file of roots for a private CA's HTTPS
	Storage   string
	HTTPAddr  string // the node's HTTP listen address (HTTP-01)
	TLSAddr   string // the node's TLS listen address (TLS-ALPN-01)
	Logger    *slog.Logger
}

// ACMETLS prepares certificates from an ACME CA: challenges are answered
// on the node's own HTTP and TLS listeners.
func ACMETLS(o ACMEOptions) (*TLSSetup, error) {
	cfg := tlsutil.ACMEConfig{Hosts: o.Hosts, Email: o.Email, CA: o.CA, Storage: o.Storage, Logger: o.Logger}
	if o.CARoot != "" {
		pem, err := os.ReadFile(o.CARoot)
		if err != nil {
			return nil, fmt.Errorf("acme ca root: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme ca root %s: no PEM certificates", o.CARoot)
		}
		cfg.RootCAs = pool
	}
	port := func(addr string) int {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	cfg.HTTPPort, cfg.TLSALPNPort = port(o.HTTPAddr), port(o.TLSAddr)
	if cfg.HTTPPort == 0 {
		cfg.DisableHTTPChallenge = true
	}
	m, err := tlsutil.NewACMEManager(cfg)
	if err != nil {
		return nil, err
	}
	return &TLSSetup{
		Config:   m.TLSConfig(nil),
		WrapHTTP: m.HTTPChallengeHandler,
		Manage:   m.Manage,
	}, nil
}

// ClusterTLS prepares HTTPS for a node from the cluster file's tls section:
// certificate files chosen by SNI (reloaded when they change), or a local
// development CA (tls.self_signed) issuing a certificate for every site
// host, the node's address and localhost. It returns nil when the file
// configures no TLS.
func ClusterTLS(cl *config.Cluster, node config.NodeInfo, logger *slog.Logger) (*TLSSetup, error) {
	t := cl.TLS
	if a := t.ACME; a != nil {
		hosts := a.Hosts
		if len(hosts) == 0 {
			for _, s := range cl.Sites {
				hosts = append(hosts, s.Host)
				hosts = append(hosts, s.Aliases...)
			}
		}
		return ACMETLS(ACMEOptions{Hosts: hosts, Email: a.Email, CA: a.CA, CARoot: a.CARoot, Storage: a.Storage,
			HTTPAddr: net.JoinHostPort(node.Address, strconv.Itoa(cl.Ports.HTTP)),
			TLSAddr:  tlsAddr(cl, node.Address), Logger: logger})
	}
	if !t.SelfSigned && len(t.Certificates) == 0 {
		return nil, nil
	}
	if t.SelfSigned {
		hosts := []string{"localhost", node.Address}
		for _, s := range cl.Sites {
			hosts = append(hosts, s.Host)
			hosts = append(hosts, s.Aliases...)
		}
		return SelfSignedTLS(t.Dir, hosts, logger)
	}
	var pairs []tlsutil.Pair
	for _, c := range t.Certificates {
		pairs = append(pairs, tlsutil.Pair{CertFile: c.Cert, KeyFile: c.Key})
	}
	store, err := tlsutil.NewStore(tlsutil.StoreConfig{Certificates: pairs, Logger: logger})
	if err != nil {
		return nil, err
	}
	return &TLSSetup{
		Config: tlsutil.ServerConfig(store.GetCertificate, nil),
		Watch:  func(ctx context.Context) { store.Watch(ctx, 10*time.Second) },
	}, nil
}

// SelfSignedTLS makes (or reuses) a development CA in dir and a
// certificate for hosts.
func SelfSignedTLS(dir string, hosts []string, logger *slog.Logger) (*TLSSetup, error) {
	store, ca, err := tlsutil.SelfSigned(dir, hosts, tlsutil.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("self-signed certificates in %s: %w", dir, err)
	}
	return &TLSSetup{Config: tlsutil.ServerConfig(store.GetCertificate, nil), CAPath: ca}, nil
}

// tlsAddr is the HTTPS address of a node of the cluster.
func tlsAddr(cl *config.Cluster, addr string) string {
	return net.JoinHostPort(addr, strconv.Itoa(cl.Ports.HTTPS))
}
