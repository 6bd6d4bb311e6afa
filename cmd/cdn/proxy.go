package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/fwdproxy"
)

// cmdProxy runs a forward proxy node until ctx is cancelled. SIGHUP
// reloads the access rules (from the cluster file) and the htpasswd file.
func cmdProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("proxy", "(--config FILE --node NAME | [--listen ADDR] [quick flags])", stderr)
	cfgPath := fs.String("config", "", "cluster file (YAML); run the proxy node named by --node")
	node := fs.String("node", "", "this node's name in the cluster file (an entry of proxies.nodes)")
	listen := fs.String("listen", "127.0.0.1:3128", "quick mode: client listen address (HTTP/1.1 and h2c)")
	admin := fs.String("admin", "", "admin listen address (/metrics, /healthz); empty: none in quick mode")
	name := fs.String("name", fwdproxy.DefaultName, "quick mode: proxy name (Cache-Status, Via when a rule adds it)")
	allow := fs.String("allow", "127.0.0.0/8,::1", "quick mode: comma-separated client CIDRs allowed to use the proxy")
	allowPrivate := fs.String("allow-private", "", "quick mode: comma-separated special destination ranges clients may reach (e.g. 127.0.0.0/8); default none")
	connectPorts := fs.String("connect-ports", "443", "quick mode: comma-separated ports or ranges CONNECT may reach")
	htpasswd := fs.String("htpasswd", "", "quick mode: htpasswd file of bcrypt hashes; every request then needs Proxy-Authorization")
	memory := fs.String("memory", "256MiB", "quick mode: cache budget for plain HTTP responses")
	idle := fs.Duration("tunnel-idle-timeout", fwdproxy.DefaultTunnelIdleTimeout, "quick mode: close tunnels idle this long")
	maxTunnels := fs.Int("max-tunnels", fwdproxy.DefaultMaxTunnels, "quick mode: most open tunnels (-1: no limit)")
	maxConns := fs.Int("max-conns-per-client", fwdproxy.DefaultMaxConnsPerClient, "quick mode: most connections per client address (-1: no limit)")
	accessLog := fs.String("access-log", "-", `JSON access log file; "-" is stdout, "" none (overrides proxies.access_log when set explicitly)`)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var cfg fwdproxy.Config
	var budget int64
	var maxObject int64
	logPath := *accessLog
	var loadRules func() ([]fwdproxy.Rule, map[string][]string, error)
	switch {
	case *cfgPath != "":
		if *node == "" {
			return usageError{"--node is required with --config"}
		}
		cl, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		n, err := cl.FindNode(*node)
		if err != nil {
			return err
		}
		if n.Role != config.RoleProxy {
			return usageError{fmt.Sprintf("node %q is a %s, not a proxy (see proxies.nodes)", *node, n.Role)}
		}
		cfg, err = fwdproxy.ConfigFromCluster(cl.Proxies, n.Name)
		if err != nil {
			return fmt.Errorf("cluster file %s: %w", *cfgPath, err)
		}
		*listen = net.JoinHostPort(n.Address, strconv.Itoa(cl.Proxies.Port))
		if !set["admin"] {
			*admin = net.JoinHostPort(n.Address, strconv.Itoa(cl.Proxies.Admin))
		}
		if !set["access-log"] {
			logPath = cl.Proxies.AccessLog
		}
		budget, maxObject = int64(cl.Proxies.Memory), int64(cl.Proxies.MaxObject)
		path := *cfgPath
		loadRules = func() ([]fwdproxy.Rule, map[string][]string, error) {
			cl, err := config.Load(path)
			if err != nil {
				return nil, nil, err
			}
			rules, err := fwdproxy.RulesFromConfig(cl.Proxies.Rules)
			return rules, cl.Proxies.Groups, err
		}
	default:
		rules, err := quickRules(*allow, *allowPrivate, *connectPorts)
		if err != nil {
			return usageError{err.Error()}
		}
		b, err := config.ParseByteSize(*memory)
		if err != nil {
			return usageError{fmt.Sprintf("--memory %q: %v", *memory, err)}
		}
		budget, maxObject = int64(b), int64(b)/8
		cfg = fwdproxy.Config{Name: *name, Rules: rules, Htpasswd: *htpasswd, TunnelIdleTimeout: *idle,
			MaxTunnels: *maxTunnels, MaxConnsPerClient: *maxConns}
	}

	mem, err := cache.NewMemory(cache.MemoryConfig{Budget: budget, MaxObject: maxObject})
	if err != nil {
		return err
	}
	defer mem.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Cache, cfg.Logger, cfg.Registerer = mem, logger, reg
	switch logPath {
	case "":
	case "-":
		cfg.AccessLog = slog.New(slog.NewJSONHandler(stdout, nil))
	default:
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
		if err != nil {
			return fmt.Errorf("open access log: %w", err)
		}
		defer f.Close()
		cfg.AccessLog = slog.New(slog.NewJSONHandler(f, nil))
	}
	p, err := fwdproxy.New(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	reloadRules := func() error {
		if loadRules == nil {
			return nil // quick mode: the rules come from flags
		}
		rules, groups, err := loadRules()
		if err != nil {
			return err
		}
		return p.Reload(rules, groups)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	errc := make(chan error, 2)
	go func() { errc <- p.Serve(ln) }()
	var adminSrv *http.Server
	if *admin != "" {
		aln, err := net.Listen("tcp", *admin)
		if err != nil {
			return fmt.Errorf("admin listen on %s: %w", *admin, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		mux.HandleFunc("GET /{$}", proxyStatusPage(cfg.Name, p))
		adminSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- adminSrv.Serve(aln) }()
		fmt.Fprintf(stderr, "proxy admin on http://%s/metrics\n", aln.Addr())
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stderr, "proxy listening on %s (try: curl -x http://%s http://example.com/; PAC file: http://%s/proxy.pac)\n", addr, addr, addr)
	logger.Info("proxy listening", "addr", addr, "admin", *admin)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serve on %s: %w", addr, err)
		case <-hup:
			if err := reloadRules(); err != nil {
				logger.Error("reload failed, keeping the previous rules", "err", err)
			} else if err := p.ReloadUsers(); err != nil {
				logger.Error("htpasswd reload failed, keeping the previous users", "err", err)
			} else {
				logger.Info("rules and users reloaded")
			}
		case <-ctx.Done():
			if adminSrv != nil {
				adminSrv.Close()
			}
			p.Close()
			logger.Info("proxy stopped")
			return nil
		}
	}
}

// quickRules builds the rules of quick mode: the given clients may CONNECT
// to connectPorts and send plain HTTP to any port; special destinations
// are reachable only within allowPrivate.
func quickRules(allow, allowPrivate, connectPorts string) ([]fwdproxy.Rule, error) {
	clients, err := prefixList("--allow", allow)
	if err != nil {
		return nil, err
	}
	private, err := prefixList("--allow-private", allowPrivate)
	if err != nil {
		return nil, err
	}
	var ports []string
	for _, p := range strings.Split(connectPorts, ",") {
		if p = strings.TrimSpace(p); p != "" {
			ports = append(ports, p)
		}
	}
	rules := []fwdproxy.Rule{
		{Action: "allow", Clients: clients, Methods: []string{"CONNECT"}, Ports: ports, Private: private},
		{Action: "allow", Clients: clients, Schemes: []string{"http"}, Ports: []string{"1-65535"}, Private: private},
	}
	if err := fwdproxy.CheckRules(rules); err != nil {
		return nil, fmt.Errorf("--connect-ports %q: %w", connectPorts, err)
	}
	return rules, nil
}

func prefixList(flagName, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := config.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a CIDR or address", flagName, f)
		}
		out = append(out, p)
	}
	return out, nil
}
