package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/sim"
)

// cmdSim runs the whole CDN in one process on loopback until ctx is
// cancelled, prints what runs where and commands to try, and writes the
// endpoints file.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", "[--config FILE] [flags]", stderr)
	cfgPath := fs.String("config", "", "cluster file to run in-process instead of the default topology")
	printConfig := fs.Bool("print-config", false, "print the cluster file of the default topology (YAML) and exit")
	writeGeoIP := fs.String("write-geoip", "", "write the simulation's GeoIP City database to FILE and exit")
	clientNets := fs.String("client-networks", "", "with --write-geoip: PoP=CIDR,... client networks to place at each PoP (default 127.N.0.0/16 per PoP)")
	httpPort := fs.Int("http-port", sim.DefaultHTTPPort, "HTTP port of every edge, shield and the origin (default topology)")
	adminPort := fs.Int("admin-port", sim.DefaultAdminPort, "admin port of every node (default topology)")
	dnsPort := fs.Int("dns-port", sim.DefaultDNSPort, "GeoDNS port, UDP and TCP (default topology)")
	natsPort := fs.Int("nats-port", sim.DefaultNATSPort, "embedded purge bus (NATS) port (default topology)")
	workDir := fs.String("work-dir", sim.DefaultWorkDir(), "folder for the generated GeoIP database and the endpoints file")
	endpointsPath := fs.String("endpoints", "", "where to write the endpoints file (default WORK-DIR/endpoints.json)")
	geoip := fs.String("geoip", "", "GeoIP City database to use instead of generating one")
	withTLS := fs.Bool("tls", false, "serve HTTPS and HTTP/3 on every edge with certificates from a development CA (in WORK-DIR/tls)")
	httpsPort := fs.Int("https-port", 8443, "HTTPS and HTTP/3 port of every edge, with --tls")
	latency := fs.Duration("latency", 0, "added round-trip time per 1000 km on edge→shield and →origin links, e.g. 20ms (0: none)")
	accessLog := fs.Bool("access-log", false, "log every request of every edge and shield")
	withL4 := fs.Bool("l4", false, "put two layer-4 balancers (cdn l4) in front of each PoP's edges; GeoDNS answers with them (default topology)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *cfgPath != "" {
		for _, f := range []string{"http-port", "admin-port", "dns-port", "nats-port", "print-config", "tls", "https-port", "l4"} {
			if set[f] {
				return usageError{fmt.Sprintf("--%s applies to the default topology; with --config the cluster file sets it", f)}
			}
		}
	}
	if set["https-port"] && !*withTLS {
		return usageError{"--https-port goes with --tls"}
	}
	if *clientNets != "" && *writeGeoIP == "" {
		return usageError{"--client-networks goes with --write-geoip"}
	}
	opts := sim.Options{
		HTTPPort:      *httpPort,
		AdminPort:     *adminPort,
		DNSPort:       *dnsPort,
		NATSPort:      *natsPort,
		TLS:           *withTLS,
		L4:            *withL4,
		HTTPSPort:     *httpsPort,
		WorkDir:       *workDir,
		EndpointsFile: *endpointsPath,
		GeoIP:         *geoip,
		Latency:       *latency,
		AccessLog:     *accessLog,
		AdminToken:    os.Getenv(config.DefaultTokenEnv),
	}
	if err := opts.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if *cfgPath != "" {
		cl, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		opts.Cluster = cl
	}

	switch {
	case *printConfig:
		b, err := sim.DefaultCluster(opts).Marshal()
		if err != nil {
			return fmt.Errorf("print cluster file: %w", err)
		}
		_, err = stdout.Write(b)
		return err
	case *writeGeoIP != "":
		regions := sim.DefaultRegions()
		if opts.Cluster != nil {
			regions = sim.RegionsFor(opts.Cluster)
		}
		if *clientNets != "" {
			var err error
			if regions, err = parseClientNetworks(*clientNets, regions); err != nil {
				return err
			}
		}
		if err := sim.WriteGeoIP(*writeGeoIP, regions); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s:\n", *writeGeoIP)
		for _, r := range regions {
			fmt.Fprintf(stdout, "  %-18s → %s (%.2f,%.2f)\n", r.Network, r.PoP, r.Location.Lat, r.Location.Lon)
		}
		return nil
	}

	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	opts.Logger = logger
	s, err := sim.Start(ctx, opts)
	if err != nil {
		return err
	}
	prog := "cdn"
	if a := os.Args[0]; strings.ContainsRune(a, filepath.Separator) {
		prog = a
	}
	if err := s.WriteSummary(stdout, prog); err != nil {
		s.Stop()
		return err
	}
	err = s.Wait()
	fmt.Fprintln(stdout, "every node stopped")
	return err
}

// parseClientNetworks reads "pop=cidr,pop=cidr" and sets those PoPs'
// networks in regions; a PoP not named keeps its default network.
func parseClientNetworks(s string, regions []sim.Region) ([]sim.Region, error) {
	out := append([]sim.Region(nil), regions...)
	for _, item := range strings.Split(s, ",") {
		pop, cidr, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, usageError{fmt.Sprintf("--client-networks: %q is not POP=CIDR", item)}
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--client-networks: %s: %v", pop, err)}
		}
		found := false
		for i := range out {
			if out[i].PoP == pop {
				out[i].Network, found = p.Masked(), true
			}
		}
		if !found {
			return nil, usageError{fmt.Sprintf("--client-networks: no PoP named %q", pop)}
		}
	}
	return out, nil
}
