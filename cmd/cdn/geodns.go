package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/miekg/dns"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/geodns"
)

func cmdGeoDNS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "keygen" {
		return cmdGeoDNSKeygen(args[1:], stdout, stderr)
	}
	fs := newFlagSet("geodns", "--config FILE --node NAME [flags]", stderr)
	cfgPath := fs.String("config", "", "cluster file (YAML)")
	node := fs.String("node", "", "this GeoDNS node's name in the cluster file")
	listen := fs.String("listen", "", "override the DNS listen address (UDP and TCP), e.g. 127.0.0.1:5353")
	admin := fs.String("admin", "", "admin listen address for /metrics, /healthz and /status (default: node address, geodns.admin port)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" || *node == "" {
		return usageError{"--config and --node are required"}
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	load := func() (geodns.Config, string, *config.Cluster, error) {
		cl, err := config.Load(*cfgPath)
		if err != nil {
			return geodns.Config{}, "", nil, err
		}
		gc, addr, err := geodns.FromCluster(cl, *node)
		return gc, addr, cl, err
	}
	gc, addr, cl, err := load()
	if err != nil {
		return err
	}
	if *listen != "" {
		addr = *listen
	}
	reg := prometheus.NewRegistry()
	srv, err := geodns.New(gc, geodns.Options{Name: *node, Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	adminAddr := *admin
	if adminAddr == "" {
		info, _ := cl.FindNode(*node)
		adminAddr = net.JoinHostPort(info.Address, fmt.Sprint(cl.GeoDNS.Admin))
	}
	ln, err := net.Listen("tcp", adminAddr)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	hs := &http.Server{Handler: geodns.AdminHandler(srv, reg), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()

	// SIGHUP reloads the cluster file and the GeoIP database.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				err := srv.ReloadWith(func() (geodns.Config, error) {
					ngc, _, _, err := load()
					return ngc, err
				})
				if err != nil {
					logger.Error("reload failed; keeping the running configuration", "err", err)
				} else {
					logger.Info("reloaded", "config", *cfgPath)
				}
			}
		}
	}()
	go func() {
		select {
		case <-srv.Ready():
			fmt.Fprintf(stdout, "%s dns listening on %s (udp+tcp), admin on %s\n", *node, srv.Addr(), ln.Addr())
		case <-ctx.Done():
		}
	}()
	err = srv.ListenAndServe(ctx, addr)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// cmdGeoDNSKeygen writes a DNSSEC key pair for the zone and prints the DS
// record to give the registrar.
func cmdGeoDNSKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("geodns keygen", "--config FILE | --zone ZONE --key FILE --private FILE", stderr)
	cfgPath := fs.String("config", "", "cluster file: zone and geodns.dnssec.key/private from it")
	zone := fs.String("zone", "", "zone (overrides the cluster file's)")
	keyPath := fs.String("key", "", "public key file to write (overrides geodns.dnssec.key)")
	privPath := fs.String("private", "", "private key file to write (overrides geodns.dnssec.private)")
	force := fs.Bool("force", false, "overwrite existing key files")
	algorithm := fs.String("algorithm", "ecdsap256", "key algorithm: ecdsap256 (13, ECDSAP256SHA256) or ed25519 (15)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath != "" {
		cl, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		if *zone == "" {
			*zone = cl.Zone
		}
		if *keyPath == "" {
			*keyPath = cl.GeoDNS.DNSSEC.Key
		}
		if *privPath == "" {
			*privPath = cl.GeoDNS.DNSSEC.Private
		}
	}
	if *zone == "" || *keyPath == "" || *privPath == "" {
		return usageError{"need a zone and both key files (--config with geodns.dnssec, or --zone, --key and --private)"}
	}
	for _, p := range []string{*keyPath, *privPath} {
		if _, err := os.Stat(p); err == nil && !*force {
			return fmt.Errorf("key file %s exists; a new key needs a rollover (see geodns/README.md), or --force", p)
		}
	}
	var alg uint8
	switch *algorithm {
	case "ecdsap256":
		alg = dns.ECDSAP256SHA256
	case "ed25519":
		alg = dns.ED25519
	default:
		return usageError{fmt.Sprintf("--algorithm %q: ecdsap256 or ed25519", *algorithm)}
	}
	k, priv, ds, err := geodns.GenerateKeyAlgorithm(*zone, alg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*privPath, []byte(priv), 0o600); err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	pub := fmt.Sprintf("; DNSSEC key of %s, key tag %d, algorithm %d (%s)\n%s\n", k.Hdr.Name, k.KeyTag(), k.Algorithm, dns.AlgorithmToString[k.Algorithm], k.String())
	if err := os.WriteFile(*keyPath, []byte(pub), 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s and %s (key tag %d)\nDS record for the parent zone (registrar):\n%s\n", *keyPath, *privPath, k.KeyTag(), ds.String())
	return nil
}
