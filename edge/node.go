package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/quic-go/quic-go/http3"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/purge"
)

// Node is one edge or shield process: its listeners (listen.go), the
// admin listener (admin.go), TLS, and the background jobs (health checks,
// the purge consumer, certificate renewal), around the Proxy that handles
// the requests. New builds one from a Config; NewFromCluster from a
// cluster file, NewQuick from quick-mode settings. Run runs it.
type Node struct {
	cfg      Config
	p        *Proxy
	log      *slog.Logger
	registry *prometheus.Registry   // served on the admin listener
	reg      prometheus.Registerer  // registry, and the caller's if any
	source   func() (Config, error) // where ReloadFromSource reads the configuration; nil: none

	mu         sync.Mutex // guards what follows
	addrs      map[string]net.Addr
	running    []*http.Server
	engines    []*fastEngine // fast HTTP/1.1 engines of the running listeners
	fronts     []front       // what accepts for net/http: fast engines, the TLS front
	h3         *http3.Server
	adminExtra map[string]http.Handler     // added before Run
	background []func(ctx context.Context) // run by Run until shutdown
	afterStop  []func()                    // run by Run once everything has stopped

	readyOnce sync.Once
	ready     chan struct{}
}

// New checks cfg and builds a node. Run starts it.
func New(cfg Config) (*Node, error) {
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("edge config: %w", err)
	}
	n := &Node{
		cfg:   cfg,
		log:   cfg.Logger.With("node", cfg.Name),
		addrs: map[string]net.Addr{},
		ready: make(chan struct{}),
	}
	n.registry = prometheus.NewRegistry()
	n.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.reg = n.registry
	if cfg.Registerer != nil {
		n.reg = multiRegisterer{n.registry, cfg.Registerer}
	}
	p, err := newProxy(cfg, n.reg)
	if err != nil {
		return nil, err
	}
	n.p = p
	return n, nil
}

// multiRegisterer registers with the node's own registry (served on the
// admin listener) and the caller's.
type multiRegisterer struct {
	own   *prometheus.Registry
	other prometheus.Registerer
}

func (m multiRegisterer) Register(c prometheus.Collector) error {
	if err := m.own.Register(c); err != nil {
		return err
	}
	return m.other.Register(c)
}

func (m multiRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := m.Register(c); err != nil {
			panic(err)
		}
	}
}

func (m multiRegisterer) Unregister(c prometheus.Collector) bool {
	m.other.Unregister(c)
	return m.own.Unregister(c)
}

// Proxy returns the node's request handler.
func (n *Node) Proxy() *Proxy { return n.p }

// Invalidations returns the node's purge rules, for the purge API.
func (n *Node) Invalidations() *cache.Invalidations { return n.p.inv }

// Memory returns the node's memory tier.
func (n *Node) Memory() *cache.Memory { return n.p.mem }

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Ready is closed once every listener is bound.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Addr returns the bound address of a listener: "http", "https", "http3"
// or "admin".
func (n *Node) Addr(name string) net.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrs[name]
}

// fromBalancer reports whether a peer is a layer-4 balancer that sends
// PROXY protocol headers.
func (n *Node) fromBalancer(a netip.Addr) bool {
	for _, p := range n.cfg.ProxyProtocolFrom {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Synced reports whether the node is in sync with the purge bus: it has
// announced itself and applied every purge in the log. A node without a
// purge bus is always in sync.
func (n *Node) Synced() bool { return n.p.store.Synced() }

// ApplyPurge installs the rules of a purge event (Proxy.ApplyPurge).
func (n *Node) ApplyPurge(ev purge.Event) error { return n.p.ApplyPurge(ev) }

// Reload replaces the node's sites, origins, policies and shields
// (Proxy.Reload).
func (n *Node) Reload(cfg Config) error { return n.p.Reload(cfg) }

// ClusterOptions say which node of a cluster file to build, and how.
type ClusterOptions struct {
	// Cluster is the loaded cluster file. Required.
	Cluster *config.Cluster
	// Path is where the cluster file was read from; with it, the node
	// reloads it on ReloadFromSource (SIGHUP, POST /reload).
	Path string
	// Node is this node's name in it. Required.
	Node string
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives metrics besides the node's own registry.
	Registerer prometheus.Registerer
	// AccessLog logs every request.
	AccessLog bool
	// PurgeURLs, if set, are the purge bus's NATS URLs (the simulation
	// runs the bus itself). Otherwise the cluster file's purge.nats
	// decides; with embedded, the first node on this machine runs the
	// server and the others join it.
	PurgeURLs []string
	// NoPurge leaves the node off the purge bus.
	NoPurge bool
	// Adjust, if non-nil, may change the node's Config before the node is
	// built (command-line overrides; the simulation's link relays). It
	// must not keep the pointer.
	Adjust func(*Config)
	// OnTLS, if non-nil, is told of the TLS setup (to print the
	// development CA's path).
	OnTLS func(*TLSSetup)
}

// NewFromCluster builds the named edge or shield node of a cluster file:
// its Config (FromCluster), its certificates (ClusterTLS, watched and,
// with ACME, obtained once the listeners are up) and its place on the
// purge bus. `cdn edge --config` and the simulation both build nodes here,
// and Run runs everything the node needs.
func NewFromCluster(o ClusterOptions) (*Node, error) {
	cl := o.Cluster
	cfg, err := FromCluster(cl, o.Node)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	info, err := cl.FindNode(o.Node)
	if err != nil {
		return nil, err
	}
	ts, err := ClusterTLS(cl, info, log)
	if err != nil {
		return nil, err
	}
	if ts != nil {
		cfg.TLSConfig, cfg.WrapHTTP = ts.Config, ts.WrapHTTP
		if o.OnTLS != nil {
			o.OnTLS(ts)
		}
	}
	cfg.Logger, cfg.Registerer, cfg.AccessLog = log, o.Registerer, o.AccessLog
	if o.Adjust != nil {
		o.Adjust(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if ts != nil {
		n.addTLSJobs(ts)
	}
	if o.Path != "" {
		n.source = func() (Config, error) {
			cl, err := config.Load(o.Path)
			if err != nil {
				return Config{}, err
			}
			cfg, err := FromCluster(cl, o.Node)
			if err != nil {
				return Config{}, err
			}
			cfg.AccessLog = o.AccessLog
			if o.Adjust != nil {
				o.Adjust(&cfg)
			}
			return cfg, nil
		}
		if cl.AdminToken() != "" {
			n.HandleAdmin("POST /reload", n.reloadHandler(cl.AdminToken()))
		}
	}
	if !o.NoPurge {
		if err := n.joinClusterBus(cl, o.PurgeURLs); err != nil {
			n.p.close()
			return nil, err
		}
	}
	return n, nil
}

// AddTLS runs a TLS setup's background work (certificate file watching,
// ACME renewal) with the node. Call it before Run.
func (n *Node) AddTLS(ts *TLSSetup) { n.addTLSJobs(ts) }

func (n *Node) addTLSJobs(ts *TLSSetup) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ts.Watch != nil {
		n.background = append(n.background, ts.Watch)
	}
	if ts.Manage != nil {
		n.background = append(n.background, func(ctx context.Context) {
			select {
			case <-n.ready:
				// The listeners answer the CA's challenges from now on.
				if err := ts.Manage(ctx); err != nil && ctx.Err() == nil {
					n.log.Error("ACME certificates could not be obtained", "err", err)
				}
			case <-ctx.Done():
			}
		})
	}
}

// joinClusterBus attaches the node to the purge bus the cluster file
// names. With purge.nats.embedded (a single machine), the first node to
// start runs the NATS server on purge.nats.listen, and stops it after the
// node has stopped; the others connect to it.
func (n *Node) joinClusterBus(cl *config.Cluster, urls []string) error {
	nc := cl.Purge.NATS
	var embedded *purge.EmbeddedServer
	if len(urls) == 0 {
		urls = nc.URLs
		if nc.Embedded != nil && *nc.Embedded {
			// The first node on this machine to bind purge.nats.listen
			// runs the server; a node that finds the port taken joins the
			// server there at once instead of waiting for one that cannot
			// bind. Binding is the election: there is no check-then-act.
			es, err := purge.StartEmbeddedContext(context.Background(), purge.EmbeddedConfig{Listen: nc.Listen, StoreDir: nc.StoreDir, Stream: nc.Stream, Logger: n.log})
			switch {
			case err == nil:
				embedded = es
				urls = []string{es.ClientURL()}
				n.log.Info("running the embedded purge bus", "url", es.ClientURL())
			case errors.Is(err, syscall.EADDRINUSE):
				urls = []string{"nats://" + nc.Listen}
				n.log.Info("joining the purge bus another node runs", "url", urls[0])
			default:
				return fmt.Errorf("start the embedded purge bus: %w", err)
			}
		}
	}
	err := n.AttachPurge(PurgeOptions{
		URLs:    urls,
		Stream:  nc.Stream,
		Token:   cl.AdminToken(),
		Timeout: cl.Purge.Timeout.D(),
	})
	if err != nil {
		if embedded != nil {
			embedded.Shutdown()
		}
		return fmt.Errorf("join the purge bus: %w", err)
	}
	if embedded != nil {
		n.mu.Lock()
		n.afterStop = append(n.afterStop, embedded.Shutdown)
		n.mu.Unlock()
	}
	return nil
}

// AttachLocalPurge gives a node without a cluster (quick mode) the purge
// API for itself alone: a purge bus of its own, in the process, on a
// loopback port, with the same token rules as a cluster's. Call it before
// Run.
func (n *Node) AttachLocalPurge(token string) error {
	es, err := purge.StartEmbedded(purge.EmbeddedConfig{Listen: "127.0.0.1:0", Name: n.cfg.Name + "-purge", Logger: n.log})
	if err != nil {
		return fmt.Errorf("start the local purge bus: %w", err)
	}
	if err := n.AttachPurge(PurgeOptions{URLs: []string{es.ClientURL()}, Token: token, Timeout: 5 * time.Second}); err != nil {
		es.Shutdown()
		return err
	}
	n.mu.Lock()
	n.afterStop = append(n.afterStop, es.Shutdown)
	n.mu.Unlock()
	return nil
}
