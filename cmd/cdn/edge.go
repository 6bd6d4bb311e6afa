package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/edge"
)

func cmdEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("edge", "(--config FILE --node NAME | --listen ADDR --origin URL) [flags]", stderr)
	cfgPath := fs.String("config", "", "cluster file (YAML); run the node named by --node")
	node := fs.String("node", "", "this node's name in the cluster file")
	listen := fs.String("listen", "", "quick mode: HTTP listen address (HTTP/1.1 and h2c), e.g. 127.0.0.1:8080")
	origin := fs.String("origin", "", "quick mode: the origin's base URL; every request goes there")
	admin := fs.String("admin", "", "admin listen address (/metrics, /healthz, /status)")
	name := fs.String("name", "edge-1", "quick mode: node name (Cache-Status, Via, CDN-Loop)")
	memory := config.DefaultMemory
	fs.Var(&memory, "memory", "quick mode: memory tier budget")
	maxObj := config.ByteSize(0)
	fs.Var(&maxObj, "max-memory-object", "largest object kept in memory (default min(16MiB, memory/4))")
	diskDir := fs.String("disk", "", "quick mode: disk tier folder (objects survive restarts); empty: memory only")
	diskSize := config.DefaultDiskSize
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
	tokenEnv := fs.String("admin-token-env", config.DefaultTokenEnv, "quick mode: variable holding the admin token, for the purge API (and /metrics and /status with --protect-admin)")
	protectAdmin := fs.Bool("protect-admin", false, "quick mode: require the admin token on /metrics and /status")
	noPurge := fs.Bool("no-purge", false, "quick mode: no purge API on the admin listener")
	trustedProxies := fs.String("trusted-proxies", "", "quick mode: comma-separated CIDRs of proxies in front whose X-Forwarded-For/-Proto/-Host are believed")
	accessLog := fs.Bool("access-log", true, "log every request as a JSON line on stderr")
	pprofOn := fs.Bool("pprof", false, "serve Go's profiler under /debug/pprof/ on the admin listener (behind the admin token when one is set)")
	engine := fs.String("http1-engine", "", "what serves HTTP/1.1 on the HTTP listener: fast (plain hits by the edge's own engine, the rest by net/http) or stdlib (default: ports.http_engine, or fast)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if e := *engine; e != "" && e != edge.EngineFast && e != edge.EngineStdlib {
		return usageError{fmt.Sprintf("--http1-engine %q: fast or stdlib", e)}
	}
	printCA := func(ts *edge.TLSSetup) {
		if ts.CAPath != "" {
			fmt.Fprintf(stdout, "development CA: %s (curl --cacert %s)\n", ts.CAPath, ts.CAPath)
		}
	}
	overrides := func(cfg *edge.Config) {
		if *listen != "" {
			cfg.Listen = *listen
		}
		if *admin != "" {
			cfg.Admin = *admin
		}
		if *engine != "" {
			cfg.HTTP1Engine = *engine
		}
		if *pprofOn {
			cfg.Pprof = true
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
	}
	var srv *edge.Node
	switch {
	case *cfgPath != "" && *origin != "":
		return usageError{"--config and --origin are exclusive: use a cluster file or quick mode"}
	case *cfgPath != "":
		if *node == "" {
			return usageError{"--node is required with --config"}
		}
		if *selfSigned || *acmeHosts != "" {
			return usageError{"with --config, certificates come from the cluster file's tls section"}
		}
		if quick := quickFlagsSet(fs); len(quick) > 0 {
			return usageError{fmt.Sprintf("%s: quick-mode flags, but --config runs a node of a cluster file; set these in the file, or drop --config", strings.Join(quick, ", "))}
		}
		cl, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		srv, err = edge.NewFromCluster(edge.ClusterOptions{
			Cluster: cl, Path: *cfgPath, Node: *node, Logger: logger, AccessLog: *accessLog, Adjust: overrides,
			OnTLS: printCA,
		})
		if err != nil {
			return err
		}
	case *origin != "":
		if *listen == "" {
			return usageError{"--listen is required in quick mode"}
		}
		var trusted []netip.Prefix
		for _, c := range strings.Split(*trustedProxies, ",") {
			if c = strings.TrimSpace(c); c == "" {
				continue
			}
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return usageError{fmt.Sprintf("--trusted-proxies: %q is not a CIDR", c)}
			}
			trusted = append(trusted, p.Masked())
		}
		q := edge.QuickOptions{
			Name: *name, Listen: *listen, Origin: *origin, Admin: *admin,
			Memory: int64(memory), DiskDir: *diskDir, DiskSize: int64(diskSize), TrustedProxies: trusted,
			TLSListen: *tlsListen, TLSCert: *tlsCert, TLSKey: *tlsKey, SelfSigned: *selfSigned, TLSDir: *tlsDir,
			ACME:  edge.ACMEOptions{Email: *acmeEmail, CA: *acmeCA, CARoot: *acmeRoot, Storage: *acmeStorage, Logger: logger},
			Token: os.Getenv(*tokenEnv), ProtectAdmin: *protectAdmin, NoPurge: *noPurge,
			Logger: logger, AccessLog: *accessLog, Adjust: overrides, OnTLS: printCA,
		}
		if *acmeHosts != "" {
			q.ACME.Hosts = strings.Split(*acmeHosts, ",")
		}
		if *protectAdmin && q.Token == "" {
			return usageError{fmt.Sprintf("--protect-admin needs a token in $%s", *tokenEnv)}
		}
		srv, err = edge.NewQuick(q)
		var qe edge.QuickOptionError
		if errors.As(err, &qe) {
			return usageError{qe.Error()}
		}
		if err != nil {
			return err
		}
	default:
		return usageError{"give --config FILE --node NAME, or --listen ADDR --origin URL (quick mode)"}
	}
	// SIGHUP reloads the cluster file, as nginx and Caddy do; the reload
	// is logged and counted, and a bad file is refused.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				srv.ReloadFromSource()
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		select {
		case <-srv.Ready():
			for _, l := range []string{"http", "https", "http3", "admin"} {
				if a := srv.Addr(l); a != nil {
					fmt.Fprintf(stdout, "%s %s listening on %s\n", srv.Name(), l, a)
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

// quickOnly are the edge flags that describe a whole quick-mode node;
// with --config the cluster file says these things, so they are refused
// rather than silently mixed in.
var quickOnly = []string{"listen", "name", "memory", "disk", "disk-size", "tls-listen", "tls-cert", "tls-key",
	"tls-dir", "acme-email", "acme-ca", "acme-ca-root", "acme-storage", "admin-token-env", "protect-admin", "no-purge", "trusted-proxies"}

// quickFlagsSet lists the quick-mode flags given on the command line.
func quickFlagsSet(fs *flag.FlagSet) []string {
	var set []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(quickOnly, f.Name) {
			set = append(set, "--"+f.Name)
		}
	})
	return set
}
