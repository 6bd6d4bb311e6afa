package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/l4"
)

// cmdL4 runs a layer-4 balancer: either a balancer of pops[].balancers in
// the cluster file (--config, --node), in front of its PoP's edges, or a
// quick one from flags (--listen, --backend).
func cmdL4(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("l4", "(--config FILE --node NAME | --listen ADDR --backend ADDR[,WEIGHT]...) [flags]", stderr)
	cfgPath := fs.String("config", "", "cluster file (YAML)")
	node := fs.String("node", "", "this balancer's name in pops[].balancers")
	var listens, udpListens, backends repeated
	fs.Var(&listens, "listen", "quick mode: TCP address to balance, host:port (repeatable)")
	fs.Var(&udpListens, "listen-udp", "quick mode: UDP address to balance, host:port (repeatable)")
	fs.Var(&backends, "backend", "quick mode: backend host:port[,weight] (repeatable; its name is host:port)")
	service := fs.String("service", "", "quick mode: the service name hashed with each flow, the same on every balancer that should agree (default: each listener's port)")
	proxy := fs.String("proxy-protocol", "", "PROXY protocol toward backends: v2, v1 or off (default v2, or l4.proxy_protocol)")
	health := fs.String("health", "", "quick mode: active checks: tcp, http or off (default tcp)")
	admin := fs.String("admin", "", "admin address for /metrics, /healthz, /status, POST /drain (default: cluster mode the node address on ports.admin; quick mode none)")
	perClient := fs.Int("max-conns-per-client", 0, "quick mode: flows per client address (0: unlimited)")
	perBackend := fs.Int64("max-conns-per-backend", 0, "quick mode: flows per backend (0: unlimited)")
	conntrack := fs.Int("conntrack-size", 0, "quick mode: tracked flows (default 1048576)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	pprofOn := fs.Bool("pprof", false, "serve Go's profiler under /debug/pprof/ on the admin listener")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	var cfg l4.Config
	adminAddr := *admin
	var reload func() ([]l4.BackendConfig, error)
	switch {
	case *cfgPath != "" || *node != "":
		if *cfgPath == "" || *node == "" {
			return usageError{"--config and --node go together"}
		}
		if len(listens)+len(udpListens)+len(backends) > 0 {
			return usageError{"--listen, --listen-udp and --backend are for quick mode, not with --config"}
		}
		cl, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		var addr string
		cfg, addr, err = l4.FromCluster(cl, *node)
		if err != nil {
			return err
		}
		if adminAddr == "" {
			adminAddr = net.JoinHostPort(addr, strconv.Itoa(cl.Ports.Admin))
		}
		reload = func() ([]l4.BackendConfig, error) {
			cl, err := config.Load(*cfgPath)
			if err != nil {
				return nil, err
			}
			c, _, err := l4.FromCluster(cl, *node)
			return c.Backends, err
		}
	default:
		if len(listens)+len(udpListens) == 0 || len(backends) == 0 {
			return usageError{"give --config and --node, or --listen (or --listen-udp) and --backend"}
		}
		for _, a := range listens {
			cfg.Listeners = append(cfg.Listeners, l4.ListenerConfig{Network: "tcp", Addr: a, Service: *service})
		}
		for _, a := range udpListens {
			cfg.Listeners = append(cfg.Listeners, l4.ListenerConfig{Network: "udp", Addr: a, Service: *service})
		}
		for _, b := range backends {
			addr, w, _ := strings.Cut(b, ",")
			bc := l4.BackendConfig{Addr: addr}
			if w != "" {
				n, err := strconv.Atoi(w)
				if err != nil || n < 1 {
					return usageError{fmt.Sprintf("--backend %q: weight %q is not a positive integer", b, w)}
				}
				bc.Weight = n
			}
			cfg.Backends = append(cfg.Backends, bc)
		}
		cfg.Health.Type = "tcp"
		if *health != "" {
			cfg.Health.Type = *health
		}
		cfg.MaxConnsPerClient = *perClient
		cfg.MaxConnsPerBackend = *perBackend
		cfg.ConntrackSize = *conntrack
	}
	if *proxy != "" {
		cfg.ProxyProtocol = *proxy
	}
	if err := cfg.Validate(); err != nil {
		if *cfgPath == "" {
			return usageError{err.Error()}
		}
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b, err := l4.New(cfg, logger, reg)
	if err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		return err
	}
	var adminLn net.Listener
	if adminAddr != "" {
		adminLn, err = net.Listen("tcp", adminAddr)
		if err != nil {
			return fmt.Errorf("l4 admin listener: %w", err)
		}
		h := l4Admin(ctx, statusName(*node, "l4"), b, reg, logger)
		if *pprofOn {
			mux := http.NewServeMux()
			mux.Handle("/", h)
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			h = mux
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(adminLn)
		defer hs.Close()
	}
	if reload != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					bs, err := reload()
					if err == nil {
						err = b.SetBackends(bs)
					}
					if err != nil {
						logger.Error("reload failed; keeping the running backends", "err", err)
					} else {
						logger.Info("reloaded backends", "config", *cfgPath, "backends", len(bs))
					}
				}
			}
		}()
	}
	tcp, udp := b.Addrs()
	name := *node
	if name == "" {
		name = "l4"
	}
	line := fmt.Sprintf("%s balancing tcp %v udp %v", name, tcp, udp)
	if adminLn != nil {
		line += fmt.Sprintf(", admin on %s", adminLn.Addr())
	}
	fmt.Fprintln(stdout, line)
	return b.Run(ctx)
}

// l4Admin serves the status page at "/", /metrics, /healthz, /status (the backends as JSON) and
// POST /drain?backend=NAME[&timeout=30s] and POST /undrain?backend=NAME.
func l4Admin(ctx context.Context, name string, b *l4.Balancer, reg *prometheus.Registry, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", l4StatusPage(name, b))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"backends": b.Backends()})
	})
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("backend")
		var timeout time.Duration
		if t := r.URL.Query().Get("timeout"); t != "" {
			d, err := time.ParseDuration(t)
			if err != nil || d <= 0 {
				http.Error(w, fmt.Sprintf("timeout %q is not a positive duration", t), http.StatusBadRequest)
				return
			}
			timeout = d
		}
		closed, err := b.Drain(r.Context(), name, timeout)
		if err != nil && !errors.Is(err, context.Canceled) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "drained %s; %d flows closed at the deadline\n", name, closed)
	})
	mux.HandleFunc("POST /undrain", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Undrain(r.URL.Query().Get("backend")); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}
