package main

import (
	"context"
	"errors"
	"fmt"
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
	srv, err := geodns.New(gc, geodns.Options{Logger: logger, Registerer: reg})
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
