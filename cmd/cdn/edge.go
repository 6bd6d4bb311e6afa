package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/edge"
	"github.com/selfcdn/cdn/purge"
)

func cmdEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("edge", "(--config FILE --node NAME | --listen ADDR --origin URL) [flags]", stderr)
	cfgPath := fs.String("config", "", "cluster file (YAML); run the node named by --node")
	node := fs.String("node", "", "this node's name in the cluster file")
	listen := fs.String("listen", "", "quick mode: HTTP listen address (HTTP/1.1 and h2c), e.g. 127.0.0.1:8080")
	origin := fs.String("origin", "", "quick mode: the origin's base URL; every request goes there")
	admin := fs.String("admin", "", "admin listen address (/metrics, /healthz, /status)")
	name := fs.String("name", "edge-1", "quick mode: node name (Cache-Status, Via, CDN-Loop)")
	memory := config.ByteSize(256 << 20)
	fs.Var(&memory, "memory", "quick mode: memory tier budget")
	maxObj := config.ByteSize(0)
	fs.Var(&maxObj, "max-memory-object", "largest object kept in memory (default min(16MiB, memory/4))")
	diskDir := fs.String("disk", "", "quick mode: disk tier folder (objects survive restarts); empty: memory only")
	diskSize := config.ByteSize(10 << 30)
	fs.Var(&diskSize, "disk-size", "quick mode: most bytes the disk tier holds")
	diskMax := config.ByteSize(0)
	fs.Var(&diskMax, "disk-max-object", "largest object stored on disk (default min(1GiB, disk-size/8))")
	tlsListen := fs.String("tls-listen", "", "HTTPS listen address (HTTP/1.1 and h2)")
	selfSigned := fs.Bool("self-signed", false, "serve --tls-listen with a certificate from a local development CA (made in --tls-dir; trust its ca.pem)")
	tlsDir := fs.String("tls-dir", "cdn-tls", "where --self-signed keeps the development CA and certificates")
	acmeHosts := fs.String("acme-hosts", "", "obtain certificates for these comma-separated hosts from an ACME CA (serves --tls-listen; challenges on --listen and --tls-listen)")
	acmeEmail := fs.String("acme-email", "", "ACME account contact address")
	acmeCA := fs.String("acme-ca", "", "ACME directory URL (default: Let's Encrypt production)")
	acmeRoot := fs.String("acme-ca-root", "", "PEM roots trusted for a private ACME server's HTTPS")
	acmeStorage := fs.String("acme-storage", "cdn-acme", "where ACME accounts, keys and certificates are kept")
	allow0RTT := fs.Bool("allow-0rtt", false, "accept QUIC 0-RTT early data on HTTP/3 (only safe methods; others get 425 Too Early)")
	noH3 := fs.Bool("no-http3", false, "do not serve HTTP/3 on the --tls-listen port")
	tlsCert := fs.String("tls-cert", "", "certificate file (PEM) for --tls-listen")
	tlsKey := fs.String("tls-key", "", "key file (PEM) for --tls-listen")
	accessLog := fs.Bool("access-log", true, "log every request as a JSON line on stderr")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	var cfg edge.Config
	var clusterFile *config.Cluster
	var tlsSetup *edge.TLSSetup
	switch {
	case *cfgPath != "" && *origin != "":
		return usageError{"--config and --origin are exclusive: use a cluster file or quick mode"}
	case *cfgPath != "":
		if *node == "" {
			return usageError{"--node is required with --config"}
		}
		cl, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		cfg, err = edge.FromCluster(cl, *node)
		if err != nil {
			return err
		}
		clusterFile = cl
		info, _ := cl.FindNode(*node)
		ts, err := edge.ClusterTLS(cl, info, logger)
		if err != nil {
			return err
		}
		if ts != nil {
			tlsSetup = ts
			cfg.TLSConfig = ts.Config
			cfg.WrapHTTP = ts.WrapHTTP
			if ts.CAPath != "" {
				fmt.Fprintf(stdout, "development CA: %s (curl --cacert %s)\n", ts.CAPath, ts.CAPath)
			}
			if ts.Watch != nil {
				go ts.Watch(ctx)
			}
		}
		if *listen != "" {
			cfg.Listen = *listen
		}
		if *admin != "" {
			cfg.Admin = *admin
		}
	case *origin != "":
		if *listen == "" {
			return usageError{"--listen is required in quick mode"}
		}
		cfg = edge.QuickConfig(*name, *listen, *origin)
		cfg.Admin = *admin
		cfg.Memory = int64(memory)
		if *diskDir != "" {
			cfg.DiskDir, cfg.DiskSize = *diskDir, int64(diskSize)
		}
	default:
		return usageError{"give --config FILE --node NAME, or --listen ADDR --origin URL (quick mode)"}
	}
	if maxObj > 0 {
		cfg.MaxMemoryObject = int64(maxObj)
	}
	if diskMax > 0 {
		cfg.DiskMaxObject = int64(diskMax)
	}
	if *tlsListen != "" {
		cfg.TLSListen, cfg.TLSCert, cfg.TLSKey = *tlsListen, *tlsCert, *tlsKey
	}
	if *noH3 {
		cfg.DisableHTTP3 = true
	}
	if *allow0RTT {
		cfg.Allow0RTT = true
	}
	switch {
	case *acmeHosts != "" && (cfg.TLSListen == "" || *selfSigned || *tlsCert != ""):
		return usageError{"--acme-hosts needs --tls-listen, and excludes --self-signed and --tls-cert"}
	case *acmeHosts != "":
		ts, err := edge.ACMETLS(edge.ACMEOptions{
			Hosts: strings.Split(*acmeHosts, ","), Email: *acmeEmail, CA: *acmeCA, CARoot: *acmeRoot,
			Storage: *acmeStorage, HTTPAddr: cfg.Listen, TLSAddr: cfg.TLSListen, Logger: logger,
		})
		if err != nil {
			return err
		}
		tlsSetup = ts
		cfg.TLSConfig, cfg.WrapHTTP = ts.Config, ts.WrapHTTP
	case *selfSigned && cfg.TLSListen == "":
		return usageError{"--self-signed needs --tls-listen"}
	case *selfSigned && (*tlsCert != "" || *tlsKey != ""):
		return usageError{"--self-signed and --tls-cert/--tls-key are exclusive"}
	case *selfSigned:
		host, _, err := net.SplitHostPort(cfg.TLSListen)
		if err != nil {
			return usageError{fmt.Sprintf("--tls-listen %q: %v", cfg.TLSListen, err)}
		}
		hosts := []string{"localhost", "127.0.0.1"}
		if host != "" && host != "0.0.0.0" && host != "::" {
			hosts = append(hosts, host)
		}
		ts, err := edge.SelfSignedTLS(*tlsDir, hosts, logger)
		if err != nil {
			return err
		}
		cfg.TLSConfig = ts.Config
		fmt.Fprintf(stdout, "development CA: %s (curl --cacert %s)\n", ts.CAPath, ts.CAPath)
	case cfg.TLSListen != "" && cfg.TLSConfig == nil && (*tlsCert == "" || *tlsKey == ""):
		return usageError{"--tls-listen needs --tls-cert and --tls-key, or --self-signed"}
	}
	cfg.AccessLog = *accessLog
	cfg.Logger = logger
	srv, err := edge.New(cfg)
	if err != nil {
		return err
	}
	if clusterFile != nil {
		stop, err := joinPurgeBus(srv, clusterFile, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	if tlsSetup != nil && tlsSetup.Manage != nil {
		go func() {
			select {
			case <-srv.Ready():
				// The listeners answer the CA's challenges from now on.
				if err := tlsSetup.Manage(ctx); err != nil && ctx.Err() == nil {
					logger.Error("ACME certificates could not be obtained", "err", err)
				}
			case <-ctx.Done():
			}
		}()
	}
	go func() {
		select {
		case <-srv.Ready():
			for _, l := range []string{"http", "https", "http3", "admin"} {
				if a := srv.Addr(l); a != nil {
					fmt.Fprintf(stdout, "%s %s listening on %s\n", cfg.Name, l, a)
				}
			}
		case <-ctx.Done():
		}
	}()
	return srv.Run(ctx)
}

func cmdConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", "--config FILE", stderr)
	cfgPath := fs.String("config", "", "cluster file to check")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usageError{"--config is required"}
	}
	cl, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	b, err := cl.Marshal()
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

// newLogger returns a JSON logger at the given level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("invalid --log-level %q", level)}
	}
	if w == nil {
		w = os.Stderr
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// joinPurgeBus connects a cluster node to the purge bus. With
// purge.nats.embedded (a single machine), the first node to start runs the
// NATS server on purge.nats.listen and the others connect to it; a larger
// deployment names a NATS cluster in purge.nats.urls.
//
// The node runs its purge consumer itself; the returned func stops the
// embedded server, if this node runs it, after the node has stopped.
func joinPurgeBus(srv *edge.Server, cl *config.Cluster, logger *slog.Logger) (func(), error) {
	n := cl.Purge.NATS
	urls := n.URLs
	var embedded *purge.EmbeddedServer
	if *n.Embedded {
		// Another node on this machine may run it already: then join it
		// at once instead of waiting for a server that cannot bind.
		err := errors.New("address in use")
		var es *purge.EmbeddedServer
		if ln, lerr := net.Listen("tcp", n.Listen); lerr == nil {
			ln.Close()
			es, err = purge.StartEmbedded(purge.EmbeddedConfig{Listen: n.Listen, StoreDir: n.StoreDir, Stream: n.Stream, Logger: logger})
		}
		if err == nil {
			embedded = es
			urls = []string{es.ClientURL()}
			logger.Info("running the embedded purge bus", "url", es.ClientURL())
		} else {
			urls = []string{"nats://" + n.Listen}
			logger.Info("joining the purge bus another node runs", "url", urls[0], "reason", err)
		}
	}
	err := srv.AttachPurge(edge.PurgeOptions{
		URLs:    urls,
		Stream:  n.Stream,
		Token:   cl.AdminToken(),
		Timeout: cl.Purge.Timeout.D(),
		Logger:  logger,
	})
	stop := func() {
		if embedded != nil {
			embedded.Shutdown()
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}
