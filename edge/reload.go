package edge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// routes are the parts of a node's configuration a reload replaces at
// once: the sites with their policies, the origin pools and the shields.
type routes struct {
	sites    map[string]*site
	wildcard *site
	sets     []*upstreamSet
	gen      uint64 // increases with every reload
}

// buildRoutes makes the sites and upstream sets of cfg.
func (s *Proxy) buildRoutes(cfg *Config) (*routes, error) {
	rt := &routes{sites: map[string]*site{}}
	pools := map[string]*upstreamSet{}
	fail := func(err error) (*routes, error) {
		for _, set := range rt.sets {
			set.pool.Close()
		}
		return nil, err
	}
	for name, p := range cfg.Origins {
		set, err := s.newUpstreamSet("origin/"+name, p, false)
		if err != nil {
			return fail(err)
		}
		pools[name] = set
		rt.sets = append(rt.sets, set)
	}
	var shields *upstreamSet
	if len(cfg.Shields) > 0 && cfg.Role == RoleEdge {
		set, err := s.newUpstreamSet("shields", Pool{Policy: cfg.ShieldPolicy, Servers: cfg.Shields, Health: cfg.ShieldHealth,
			Options: cfg.ShieldOptions, Passive: cfg.ShieldPassive}, true)
		if err != nil {
			return fail(err)
		}
		shields = set
		rt.sets = append(rt.sets, set)
	}
	for _, st := range cfg.Sites {
		x := &site{Site: st, origin: pools[st.Origin], shields: shields}
		if st.Host == "*" {
			rt.wildcard = x
			continue
		}
		rt.sites[hostOnly(st.Host)] = x
		for _, a := range st.Aliases {
			rt.sites[hostOnly(a)] = x
		}
	}
	return rt, nil
}

// runHealth runs the current routes' health checks until the node stops,
// restarting them when a reload replaces the routes.
func (s *Proxy) runHealth() {
	for {
		rt := s.routes.Load()
		ctx, cancel := context.WithCancel(s.baseCtx)
		var wg sync.WaitGroup
		for _, set := range rt.sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				set.pool.Run(ctx)
			}()
		}
		select {
		case <-s.baseCtx.Done():
			cancel()
			wg.Wait()
			return
		case <-s.reloaded:
		}
		cancel()
		wg.Wait()
	}
}

// Reload replaces the node's sites, origins, policies and shields with
// those of cfg, atomically: requests already routed finish on the old
// configuration, new ones use the new one, and the cache tiers are kept.
// Settings that belong to the process (name, role, listeners, TLS, cache
// sizes, limits) cannot change on a reload; a cfg that changes them is
// refused, and so is an invalid one, and the old configuration keeps
// serving.
func (s *Proxy) Reload(cfg Config) error {
	err := s.reload(cfg)
	result := "ok"
	if err != nil {
		result = "refused"
		s.log.Error("configuration reload refused; the old configuration keeps serving", "err", err)
	} else {
		s.log.Info("configuration reloaded", "sites", len(cfg.Sites), "origins", len(cfg.Origins), "shields", len(cfg.Shields))
	}
	s.metrics.reloads.WithLabelValues(result).Inc()
	return err
}

func (s *Proxy) reload(cfg Config) error {
	cfg.Logger, cfg.Registerer, cfg.Now = s.cfg.Logger, s.cfg.Registerer, s.cfg.Now
	cfg.TLSConfig, cfg.WrapHTTP = s.cfg.TLSConfig, s.cfg.WrapHTTP
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("edge config: %w", err)
	}
	var fixed []error
	same := func(name string, a, b any) {
		if a != b {
			fixed = append(fixed, fmt.Errorf("%s: %v -> %v needs a restart", name, a, b))
		}
	}
	old := s.cfg
	same("name", old.Name, cfg.Name)
	same("role", old.Role, cfg.Role)
	same("listen", old.Listen, cfg.Listen)
	same("tls listen", old.TLSListen, cfg.TLSListen)
	same("admin", old.Admin, cfg.Admin)
	same("memory", old.Memory, cfg.Memory)
	same("disk", old.DiskDir, cfg.DiskDir)
	if len(fixed) > 0 {
		return errors.Join(fixed...)
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	prev := s.routes.Load()
	// Pools register their metrics by name: the old ones give way first.
	for _, set := range prev.sets {
		set.pool.Close()
	}
	rt, err := s.buildRoutes(&cfg)
	if err != nil {
		for _, set := range prev.sets {
			set.pool.Register()
		}
		return err
	}
	rt.gen = prev.gen + 1
	s.routes.Store(rt)
	select {
	case s.reloaded <- struct{}{}:
	default:
	}
	return nil
}

// reloadMetric counts reloads by result.
func newReloadMetric(reg prometheus.Registerer, labels prometheus.Labels) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdn_config_reloads_total", Help: "Configuration reloads, by result (ok, refused).", ConstLabels: labels,
	}, []string{"result"})
	reg.MustRegister(c)
	return c
}

// ReloadFromSource reads the node's configuration again from where it
// came from (the cluster file) and applies it with Reload.
func (n *Node) ReloadFromSource() error {
	if n.source == nil {
		err := errors.New("this node has no configuration file to reload")
		n.log.Error("configuration reload refused", "err", err)
		return err
	}
	cfg, err := n.source()
	if err != nil {
		n.p.metrics.reloads.WithLabelValues("refused").Inc()
		n.log.Error("configuration reload refused; the old configuration keeps serving", "err", err)
		return err
	}
	return n.Reload(cfg)
}

// reloadHandler serves POST /reload on the admin listener, with the admin
// token.
func (n *Node) reloadHandler(token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !adminTokenOK(r, token) {
			http.Error(w, "admin token required", http.StatusUnauthorized)
			return
		}
		if err := n.ReloadFromSource(); err != nil {
			http.Error(w, "reload refused; the old configuration keeps serving:\n"+err.Error(), http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "reloaded (generation %d)\n", n.p.routes.Load().gen)
	})
}
