package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/purge"
)

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
func NewFromCluster(o ClusterOptions) (*Server, error) {
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
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if ts != nil {
		s.addTLSJobs(ts)
	}
	if o.Path != "" {
		s.source = func() (Config, error) {
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
			s.HandleAdmin("POST /reload", s.reloadHandler(cl.AdminToken()))
		}
	}
	if !o.NoPurge {
		if err := s.joinClusterBus(cl, o.PurgeURLs); err != nil {
			s.mem.Close()
			if s.disk != nil {
				s.disk.Close()
			}
			return nil, err
		}
	}
	return s, nil
}

// AddTLS runs a TLS setup's background work (certificate file watching,
// ACME renewal) with the node. Call it before Run.
func (s *Server) AddTLS(ts *TLSSetup) { s.addTLSJobs(ts) }

func (s *Server) addTLSJobs(ts *TLSSetup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts.Watch != nil {
		s.background = append(s.background, ts.Watch)
	}
	if ts.Manage != nil {
		s.background = append(s.background, func(ctx context.Context) {
			select {
			case <-s.ready:
				// The listeners answer the CA's challenges from now on.
				if err := ts.Manage(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("ACME certificates could not be obtained", "err", err)
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
func (s *Server) joinClusterBus(cl *config.Cluster, urls []string) error {
	n := cl.Purge.NATS
	var embedded *purge.EmbeddedServer
	if len(urls) == 0 {
		urls = n.URLs
		if n.Embedded != nil && *n.Embedded {
			// The first node on this machine to bind purge.nats.listen
			// runs the server; a node that finds the port taken joins the
			// server there at once instead of waiting for one that cannot
			// bind. Binding is the election: there is no check-then-act.
			es, err := purge.StartEmbeddedContext(context.Background(), purge.EmbeddedConfig{Listen: n.Listen, StoreDir: n.StoreDir, Stream: n.Stream, Logger: s.log})
			switch {
			case err == nil:
				embedded = es
				urls = []string{es.ClientURL()}
				s.log.Info("running the embedded purge bus", "url", es.ClientURL())
			case errors.Is(err, syscall.EADDRINUSE):
				urls = []string{"nats://" + n.Listen}
				s.log.Info("joining the purge bus another node runs", "url", urls[0])
			default:
				return fmt.Errorf("start the embedded purge bus: %w", err)
			}
		}
	}
	err := s.AttachPurge(PurgeOptions{
		URLs:    urls,
		Stream:  n.Stream,
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
		s.mu.Lock()
		s.afterStop = append(s.afterStop, embedded.Shutdown)
		s.mu.Unlock()
	}
	return nil
}

// AttachLocalPurge gives a node without a cluster (quick mode) the purge
// API for itself alone: a purge bus of its own, in the process, on a
// loopback port, with the same token rules as a cluster's. Call it before
// Run.
func (s *Server) AttachLocalPurge(token string) error {
	es, err := purge.StartEmbedded(purge.EmbeddedConfig{Listen: "127.0.0.1:0", Name: s.cfg.Name + "-purge", Logger: s.log})
	if err != nil {
		return fmt.Errorf("start the local purge bus: %w", err)
	}
	if err := s.AttachPurge(PurgeOptions{URLs: []string{es.ClientURL()}, Token: token, Timeout: 5 * time.Second}); err != nil {
		es.Shutdown()
		return err
	}
	s.mu.Lock()
	s.afterStop = append(s.afterStop, es.Shutdown)
	s.mu.Unlock()
	return nil
}
