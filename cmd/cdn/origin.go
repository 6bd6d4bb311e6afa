package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/selfcdn/cdn/origin"
)

// originMetricsPath is where cdn origin exposes its Prometheus metrics.
const originMetricsPath = "/_origin/metrics"

// cmdOrigin serves files and synthetic objects over HTTP/1.1 and h2c until
// ctx is cancelled.
func cmdOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("origin", "[--listen ADDR] [--root DIR] [--file-cc VALUE] [--max-size N] [--log-level LEVEL]", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	root := fs.String("root", "", "directory of files to serve; empty serves the embedded demo site")
	fileCC := fs.String("file-cc", origin.DefaultFileCacheControl, `Cache-Control sent with files; "none" sends none`)
	maxSize := fs.Int64("max-size", origin.DefaultMaxGenSize, "largest size= of a synthetic object, in bytes")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := origin.New(origin.Config{
		Root:             *root,
		FileCacheControl: *fileCC,
		MaxSize:          *maxSize,
		Logger:           logger,
		Registerer:       reg,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == originMetricsPath {
			metrics.ServeHTTP(w, r)
			return
		}
		srv.ServeHTTP(w, r)
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	hs := &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: net/http cancels a request's
		// context when the read deadline passes, and bodies of several GiB
		// and long delay= values are legitimate here.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "origin listening on http://%s\n", addr)
	logger.Info("origin listening", "addr", addr, "root", *root, "metrics", originMetricsPath)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		hs.Close()
		logger.Warn("shutdown: closed connections still in use", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", addr, err)
	}
	logger.Info("origin stopped")
	return nil
}
