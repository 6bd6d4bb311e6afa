package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
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
}

// ClusterTLS prepares HTTPS for a node from the cluster file's tls section:
// certificate files chosen by SNI (reloaded when they change), or a local
// development CA (tls.self_signed) issuing a certificate for every site
// host, the node's address and localhost. It returns nil when the file
// configures no TLS.
func ClusterTLS(cl *config.Cluster, node config.NodeInfo, logger *slog.Logger) (*TLSSetup, error) {
	t := cl.TLS
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
