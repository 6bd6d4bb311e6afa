// Package sim runs the whole CDN in one process on loopback: GeoDNS, the
// edges of every PoP, the shields and the project's origin, each node on
// its own 127.x.y.z address and all on the same ports, started from one
// cluster file through edge.FromCluster and geodns.FromCluster exactly as
// separate processes would be. A generated GeoIP City database places one
// loopback client network per PoP at that PoP's location, so GeoDNS takes
// its production path for clients that send from those networks.
//
// `cdn sim` is the command; tests use Start, kill and restart nodes with
// KillNode and StartNode, and read where everything listens from
// Endpoints.
package sim

import (
	"path/filepath"

	"context"
	"errors"
	"fmt"
	"github.com/selfcdn/cdn/purge"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/edge"
	"github.com/selfcdn/cdn/endpoints"
	"github.com/selfcdn/cdn/geodns"
	"github.com/selfcdn/cdn/l4"
	"github.com/selfcdn/cdn/origin"
)

// RoleOrigin is the role of the origin servers the simulation runs.
const RoleOrigin config.Role = "origin"

// NodeInfo describes one node of the simulation.
type NodeInfo struct {
	// Name is the node's name in the cluster file ("origin" for the
	// simulation's first origin server, "origin-2", ... for further ones).
	Name string
	// Role is edge, shield, geodns or origin.
	Role config.Role
	// PoP is the edge's PoP; empty for other roles.
	PoP string
	// Address is the node's IP address.
	Address string
	// Listen maps a listener name (http, admin, dns) to its host:port.
	Listen map[string]string
	// Running reports whether the node is up (KillNode stops it).
	Running bool
}

// node is one node and its current incarnation.
type node struct {
	info  NodeInfo
	url   string         // origin only: the base URL it serves
	osrv  *origin.Server // origin only: the handler, kept across restarts
	count int            // incarnations started, guarded by Sim.mu

	// Current incarnation, guarded by Sim.mu; nil done means not running.
	cancel context.CancelFunc
	done   chan struct{}
	killed bool
	err    error
	edge   *edge.Node
	dns    *geodns.Server
	http   *http.Server // origin, or GeoDNS admin
}

// Sim is a running simulation.
type Sim struct {
	opts    Options
	cl      *config.Cluster
	regions []Region
	token   string
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards nodes' live fields
	nodes  map[string]*node
	order  []string          // node names in start order
	links  map[string]string // from+"\x00"+upstream URL → relay URL
	relays []*relay

	ep        *endpoints.File
	purgeDone chan struct{}
	nats      *purge.EmbeddedServer // the embedded purge bus, if any
	natsURLs  []string

	waitOnce sync.Once
	waitErr  error

	fwd *simProxy // the forward proxy (proxy.go)
}

// Start runs every node of the cluster and returns once each listens, or
// the first error (and then stops what it started). The simulation runs
// until ctx is done or Stop is called; call Wait or Stop to release it.
func Start(ctx context.Context, opts Options) (*Sim, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("simulation options: %w", err)
	}
	opts.applyDefaults()
	var cl *config.Cluster
	custom := opts.Cluster != nil
	if custom {
		var err error
		if cl, err = cloneCluster(opts.Cluster); err != nil {
			return nil, err
		}
	} else {
		cl = DefaultCluster(opts)
	}
	regions := opts.Regions
	if regions == nil {
		if custom {
			regions = RegionsFor(cl)
		} else {
			regions = DefaultRegions()
		}
	}
	token, err := opts.adminToken(cl)
	if err != nil {
		return nil, err
	}
	cl.Purge.Token = token
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("create work dir %s: %w", opts.WorkDir, err)
	}
	if len(cl.GeoDNS.Nodes) > 0 {
		cl.GeoDNS.GeoIP = opts.geoIPPath()
		if opts.GeoIP == "" {
			if err := WriteGeoIP(cl.GeoDNS.GeoIP, regions); err != nil {
				return nil, err
			}
		}
	}
	s := &Sim{
		opts:      opts,
		cl:        cl,
		regions:   regions,
		token:     token,
		log:       opts.Logger,
		nodes:     map[string]*node{},
		links:     map[string]string{},
		purgeDone: make(chan struct{}),
	}
	s.addNodes()
	if err := checkLoopback(s.neededAddrs()); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	fail := func(err error) (*Sim, error) {
		s.cancel()
		close(s.purgeDone)
		s.Wait()
		return nil, err
	}
	if err := s.buildLinks(); err != nil {
		return fail(err)
	}
	if err := s.startBus(); err != nil {
		return fail(err)
	}
	for _, name := range s.order {
		if err := s.StartNode(name); err != nil {
			return fail(err)
		}
	}
	if err := s.waitSynced(); err != nil {
		return fail(err)
	}
	if err := s.startProxy(); err != nil {
		return fail(err)
	}
	go func() {
		defer close(s.purgeDone)
		if opts.Purge == nil {
			return
		}
		if err := opts.Purge(s.ctx, s.cl); err != nil && s.ctx.Err() == nil {
			s.log.Error("purge hook stopped", "err", err)
		}
	}()
	s.ep = s.buildEndpoints()
	if err := endpoints.Write(opts.EndpointsPath(), s.ep); err != nil {
		s.cancel()
		s.Wait()
		return nil, err
	}
	return s, nil
}

// waitSynced waits until every edge and shield has announced itself on
// the purge bus and applied its log. Before that, a purge through the
// admin API would not wait for the nodes still joining, and they would
// serve no stale content; the simulation is ready only once they all count.
func (s *Sim) waitSynced() error {
	if len(s.natsURLs) == 0 {
		return nil
	}
	deadline := time.Now().Add(s.opts.ReadyTimeout)
	for _, name := range s.order {
		srv := s.Edge(name)
		if srv == nil {
			continue
		}
		for !srv.Synced() {
			if time.Now().After(deadline) {
				return fmt.Errorf("node %s: not in sync with the purge bus after %s", name, s.opts.ReadyTimeout)
			}
			select {
			case <-s.ctx.Done():
				return s.ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// startBus starts the purge bus before any node: the embedded NATS server
// with JetStream (purge.nats.embedded, the default), or nothing when the
// cluster file names an external NATS cluster. Every edge and shield then
// joins it (see prepareEdge).
func (s *Sim) startBus() error {
	n := s.cl.Purge.NATS
	if n.Embedded == nil || !*n.Embedded {
		s.natsURLs = n.URLs
		return nil
	}
	ns, err := purge.StartEmbedded(purge.EmbeddedConfig{
		Listen:   n.Listen,
		StoreDir: filepath.Join(s.opts.WorkDir, "nats"),
		Stream:   n.Stream,
		Logger:   s.log,
	})
	if err != nil {
		return fmt.Errorf("start the purge bus: %w", err)
	}
	s.nats = ns
	s.natsURLs = []string{ns.ClientURL()}
	return nil
}

// cloneCluster deep-copies a cluster through its YAML form, which also
// applies defaults and validates it.
func cloneCluster(cl *config.Cluster) (*config.Cluster, error) {
	b, err := cl.Marshal()
	if err != nil {
		return nil, fmt.Errorf("copy cluster file: %w", err)
	}
	c, err := config.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("cluster file: %w", err)
	}
	return c, nil
}

func hostPort(addr string, port int) string { return net.JoinHostPort(addr, strconv.Itoa(port)) }

// addNodes lists the nodes in start order: origins, shields, edges, GeoDNS.
func (s *Sim) addNodes() {
	add := func(n *node) {
		s.nodes[n.info.Name] = n
		s.order = append(s.order, n.info.Name)
	}
	cl := s.cl
	seen := map[string]bool{}
	for _, name := range sortedKeys(cl.Origins) {
		for _, srv := range cl.Origins[name].Servers {
			u, err := url.Parse(srv.URL)
			if err != nil || u.Scheme != "http" || u.Hostname() != OriginAddress || seen[u.Host] {
				continue
			}
			seen[u.Host] = true
			n := "origin"
			if len(seen) > 1 {
				n = fmt.Sprintf("origin-%d", len(seen))
			}
			port := u.Port()
			if port == "" {
				port = "80"
			}
			add(&node{
				info: NodeInfo{Name: n, Role: RoleOrigin, Address: u.Hostname(),
					Listen: map[string]string{"http": net.JoinHostPort(u.Hostname(), port)}},
				url: "http://" + net.JoinHostPort(u.Hostname(), port),
			})
		}
	}
	listens := func(n config.Node) map[string]string {
		return map[string]string{"http": hostPort(n.Address, cl.Ports.HTTP), "admin": hostPort(n.Address, cl.Ports.Admin)}
	}
	for _, n := range cl.Shields.Nodes {
		add(&node{info: NodeInfo{Name: n.Name, Role: config.RoleShield, Address: n.Address, Listen: listens(n)}})
	}
	for _, p := range cl.PoPs {
		for _, n := range p.Edges {
			add(&node{info: NodeInfo{Name: n.Name, Role: config.RoleEdge, PoP: p.Name, Address: n.Address, Listen: listens(n)}})
		}
	}
	for _, p := range cl.PoPs {
		for _, n := range p.Balancers {
			add(&node{info: NodeInfo{Name: n.Name, Role: config.RoleBalancer, PoP: p.Name, Address: n.Address,
				Listen: map[string]string{"http": hostPort(n.Address, cl.Ports.HTTP)}}})
		}
	}
	for _, n := range cl.GeoDNS.Nodes {
		add(&node{info: NodeInfo{Name: n.Name, Role: config.RoleGeoDNS, Address: n.Address,
			Listen: map[string]string{"dns": hostPort(n.Address, cl.GeoDNS.Port), "admin": hostPort(n.Address, cl.GeoDNS.Admin)}}})
	}
}

// neededAddrs are the loopback addresses the simulation binds or sends
// from: every node's and one client address per region.
func (s *Sim) neededAddrs() []string {
	var out []string
	for _, name := range s.order {
		out = append(out, s.nodes[name].info.Address)
	}
	for _, r := range s.regions {
		out = append(out, r.ClientAddr().String())
	}
	return out
}

// checkLoopback makes sure every address can be bound. Linux routes all of
// 127.0.0.0/8 to the loopback interface; macOS and the BSDs answer only
// 127.0.0.1 unless aliases are added.
func checkLoopback(addrs []string) error {
	var missing []string
	var firstErr error
	for _, a := range addrs {
		ln, err := net.Listen("tcp", net.JoinHostPort(a, "0"))
		if err != nil {
			if !slices.Contains(missing, a) {
				missing = append(missing, a)
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		ln.Close()
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("cannot bind loopback addresses %v (%w): the simulation gives every node its own 127.x.y.z address; "+
		"Linux routes all of 127.0.0.0/8 to lo by default, other systems need an alias per address, "+
		"e.g. on macOS: for a in %s; do sudo ifconfig lo0 alias $a up; done",
		missing, firstErr, joinSpace(missing))
}

func joinSpace(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

// Cluster returns the cluster file the simulation runs (defaults applied,
// the generated GeoIP path and the admin token filled in). Do not modify it.
func (s *Sim) Cluster() *config.Cluster { return s.cl }

// Regions returns the client regions of the GeoIP database.
func (s *Sim) Regions() []Region { return s.regions }

// Token returns the admin API token.
func (s *Sim) Token() string { return s.token }

// Endpoints returns where everything listens, as written to the endpoints
// file. Do not modify it.
func (s *Sim) Endpoints() *endpoints.File { return s.ep }

// EndpointsPath returns the path of the endpoints file.
func (s *Sim) EndpointsPath() string { return s.opts.EndpointsPath() }

// Nodes returns every node in start order with its current state.
func (s *Sim) Nodes() []NodeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NodeInfo, 0, len(s.order))
	for _, name := range s.order {
		n := s.nodes[name]
		info := n.info
		info.Running = n.done != nil
		out = append(out, info)
	}
	return out
}

// Edge returns the running edge or shield named name, or nil.
func (s *Sim) Edge(name string) *edge.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nodes[name]; ok && n.done != nil {
		return n.edge
	}
	return nil
}

// GeoDNS returns the running GeoDNS node named name, or nil.
func (s *Sim) GeoDNS(name string) *geodns.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nodes[name]; ok && n.done != nil {
		return n.dns
	}
	return nil
}

// Origin returns the origin handler of the origin node named name (its
// counters survive KillNode and StartNode), or nil.
func (s *Sim) Origin(name string) *origin.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nodes[name]; ok {
		return n.osrv
	}
	return nil
}

// KillNode stops a node abruptly, as if its process died: an edge or
// shield drops every connection mid-request ((*edge.Node).Close), an
// origin closes its connections, a GeoDNS node stops answering. It returns
// once the node has stopped.
func (s *Sim) KillNode(name string) error {
	s.mu.Lock()
	n, ok := s.nodes[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("kill node %q: no such node", name)
	}
	if n.done == nil {
		s.mu.Unlock()
		return fmt.Errorf("kill node %q: not running", name)
	}
	n.killed = true
	done, cancel := n.done, n.cancel
	if n.edge != nil {
		n.edge.Close()
	}
	if n.http != nil {
		n.http.Close()
	}
	s.mu.Unlock()
	cancel()
	<-done
	return nil
}

// StartNode starts a node that is not running (at Start, or after
// KillNode) and returns once it listens. A restarted node begins with an
// empty cache, as a restarted process does.
func (s *Sim) StartNode(name string) error {
	s.mu.Lock()
	n, ok := s.nodes[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("start node %q: no such node", name)
	}
	if n.done != nil {
		s.mu.Unlock()
		return fmt.Errorf("start node %q: already running", name)
	}
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return fmt.Errorf("start node %q: the simulation is stopping", name)
	}
	n.count++
	ctx, cancel := context.WithCancel(s.ctx)
	n.cancel, n.done, n.killed, n.err = cancel, make(chan struct{}), false, nil
	n.edge, n.dns, n.http = nil, nil, nil
	var (
		ready <-chan struct{}
		run   func(context.Context) error
		err   error
	)
	switch n.info.Role {
	case config.RoleEdge, config.RoleShield:
		ready, run, err = s.prepareEdge(n)
	case config.RoleGeoDNS:
		ready, run, err = s.prepareGeoDNS(n)
	case config.RoleBalancer:
		ready, run, err = s.prepareBalancer(n)
	case RoleOrigin:
		ready, run, err = s.prepareOrigin(n)
	default:
		err = fmt.Errorf("unknown role %q", n.info.Role)
	}
	if err != nil {
		n.cancel, n.done = nil, nil
		s.mu.Unlock()
		cancel()
		return fmt.Errorf("start node %s: %w", name, err)
	}
	done := n.done
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		defer cancel()
		err := run(ctx)
		errc <- err
		s.mu.Lock()
		unexpected := !n.killed && s.ctx.Err() == nil
		if err != nil && unexpected {
			n.err = err
		}
		n.done, n.cancel = nil, nil
		s.mu.Unlock()
		if unexpected {
			s.log.Error("node stopped", "node", name, "err", err)
		}
	}()
	s.mu.Unlock()

	timer := time.NewTimer(s.opts.ReadyTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case err := <-errc:
		if err == nil {
			err = errors.New("stopped before it was ready")
		}
		return fmt.Errorf("start node %s: %w", name, err)
	case <-timer.C:
		s.KillNode(name)
		return fmt.Errorf("start node %s: not listening after %s", name, s.opts.ReadyTimeout)
	case <-s.ctx.Done():
		return fmt.Errorf("start node %s: %w", name, s.ctx.Err())
	}
}

// registerer returns the shared registerer wrapped with the node's name,
// for a node's first incarnation only: a restarted node would register
// the same series again, so it keeps its metrics on its admin listener.
// Edges and shields label their series with node and role themselves, so
// they get the shared registerer as it is.
func (s *Sim) registerer(n *node) prometheus.Registerer {
	if s.opts.Registerer == nil || n.count > 1 {
		return nil
	}
	if n.info.Role == config.RoleEdge || n.info.Role == config.RoleShield {
		return s.opts.Registerer
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"node": n.info.Name}, s.opts.Registerer)
}

// prepareEdge builds an edge or shield from the cluster file; with link
// delays its upstream URLs point at the link relays (names are kept, so
// consistent hashing and metrics are unchanged). Called with s.mu held.
func (s *Sim) prepareEdge(n *node) (<-chan struct{}, func(context.Context) error, error) {
	srv, err := edge.NewFromCluster(edge.ClusterOptions{
		Cluster:    s.cl,
		Node:       n.info.Name,
		Logger:     s.log,
		Registerer: s.registerer(n),
		AccessLog:  s.opts.AccessLog,
		PurgeURLs:  s.natsURLs,
		NoPurge:    len(s.natsURLs) == 0,
		Adjust: func(cfg *edge.Config) {
			for i, u := range cfg.Shields {
				if r, ok := s.links[n.info.Name+"\x00"+u.URL]; ok {
					cfg.Shields[i].URL = r
				}
			}
			for name, p := range cfg.Origins {
				servers := slices.Clone(p.Servers)
				for i, u := range servers {
					if r, ok := s.links[n.info.Name+"\x00"+u.URL]; ok {
						servers[i].URL = r
					}
				}
				p.Servers = servers
				cfg.Origins[name] = p
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	n.edge = srv
	return srv.Ready(), srv.Run, nil
}

// prepareBalancer builds a layer-4 balancer from the cluster file, as
// `cdn l4 --config` does, and binds its listeners. Called with s.mu held.
func (s *Sim) prepareBalancer(n *node) (<-chan struct{}, func(context.Context) error, error) {
	cfg, _, err := l4.FromCluster(s.cl, n.info.Name)
	if err != nil {
		return nil, nil, err
	}
	b, err := l4.New(cfg, s.log.With("node", n.info.Name), s.registerer(n))
	if err != nil {
		return nil, nil, err
	}
	if err := b.Start(); err != nil {
		return nil, nil, err
	}
	ready := make(chan struct{})
	close(ready)
	return ready, b.Run, nil
}

// prepareGeoDNS builds a GeoDNS node from the cluster file, with an admin
// listener serving /metrics, /healthz and /status as `cdn geodns` does.
// Called with s.mu held.
func (s *Sim) prepareGeoDNS(n *node) (<-chan struct{}, func(context.Context) error, error) {
	gc, addr, err := geodns.FromCluster(s.cl, n.info.Name)
	if err != nil {
		return nil, nil, err
	}
	reg := prometheus.NewRegistry()
	var r prometheus.Registerer = reg
	if shared := s.registerer(n); shared != nil {
		r = teeRegisterer{reg, shared}
	}
	srv, err := geodns.New(gc, geodns.Options{Name: n.info.Name, Logger: s.log.With("node", n.info.Name), Registerer: r})
	if err != nil {
		return nil, nil, err
	}
	n.dns = srv
	adminAddr := n.info.Listen["admin"]
	ln, err := net.Listen("tcp", adminAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen admin on %s: %w", adminAddr, err)
	}
	hs := &http.Server{Handler: geodns.AdminHandler(srv, reg), ReadHeaderTimeout: 5 * time.Second}
	n.http = hs
	run := func(ctx context.Context) error {
		go hs.Serve(ln)
		defer hs.Close()
		err := srv.ListenAndServe(ctx, addr)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	return srv.Ready(), run, nil
}

// prepareOrigin serves the project's origin (demo site and /gen objects)
// on the origin's address. Called with s.mu held.
func (s *Sim) prepareOrigin(n *node) (<-chan struct{}, func(context.Context) error, error) {
	if n.osrv == nil {
		osrv, err := origin.New(origin.Config{Logger: s.log.With("node", n.info.Name), Registerer: s.registerer(n)})
		if err != nil {
			return nil, nil, err
		}
		n.osrv = osrv
	}
	addr := n.info.Listen["http"]
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen http on %s: %w", addr, err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{
		Handler:           n.osrv,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	n.http = hs
	ready := make(chan struct{})
	close(ready) // the listener is bound
	run := func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- hs.Serve(ln) }()
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serve origin on %s: %w", addr, err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
		return nil
	}
	return ready, run, nil
}

// buildLinks starts a delaying relay for every link with a delay: each
// edge to each shield and origin server, each shield to each origin
// server.
func (s *Sim) buildLinks() error {
	if s.opts.Latency == 0 && s.opts.LinkDelay == nil {
		return nil
	}
	place := map[string]config.Location{}
	known := map[string]bool{}
	for name, loc := range s.opts.Places {
		place[name], known[name] = loc, true
	}
	for _, p := range s.cl.PoPs {
		for _, e := range p.Edges {
			place[e.Name], known[e.Name] = p.Location, true
		}
	}
	delay := func(from, to string) time.Duration {
		if s.opts.LinkDelay != nil {
			return s.opts.LinkDelay(from, to)
		}
		if !known[from] || !known[to] {
			return 0
		}
		return OneWayDelay(place[from], place[to], s.opts.Latency)
	}
	add := func(from, to, rawURL string) error {
		d := delay(from, to)
		if d <= 0 {
			return nil
		}
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" {
			return fmt.Errorf("link %s→%s: bad upstream URL %q", from, to, rawURL)
		}
		target := u.Host
		if u.Port() == "" {
			port := "80"
			if u.Scheme == "https" {
				port = "443"
			}
			target = net.JoinHostPort(u.Hostname(), port)
		}
		host := "127.0.0.1"
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			host = u.Hostname()
		}
		r, err := newRelay(host, target, d, from, to, s.log)
		if err != nil {
			return fmt.Errorf("link %s→%s: %w", from, to, err)
		}
		s.relays = append(s.relays, r)
		ru := *u
		ru.Host = r.Addr()
		s.links[from+"\x00"+rawURL] = ru.String()
		s.log.Debug("link delay", "from", from, "to", to, "one_way", d, "via", r.Addr())
		return nil
	}
	var from []string
	for _, n := range s.cl.Shields.Nodes {
		from = append(from, n.Name)
	}
	for _, p := range s.cl.PoPs {
		for _, e := range p.Edges {
			from = append(from, e.Name)
			for _, sh := range s.cl.Shields.Nodes {
				if err := add(e.Name, sh.Name, "http://"+hostPort(sh.Address, s.cl.Ports.HTTP)); err != nil {
					return err
				}
			}
		}
	}
	for _, f := range from {
		for _, name := range sortedKeys(s.cl.Origins) {
			for _, srv := range s.cl.Origins[name].Servers {
				if _, done := s.links[f+"\x00"+srv.URL]; done {
					continue
				}
				if err := add(f, name, srv.URL); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Stop stops every node and waits for them, like Ctrl-C does.
func (s *Sim) Stop() error {
	s.cancel()
	return s.Wait()
}

// Wait blocks until the simulation's context is done and every node has
// stopped, then releases the link relays and origins. It returns the errors
// of nodes that stopped by themselves (not by KillNode or Stop).
func (s *Sim) Wait() error {
	s.waitOnce.Do(func() {
		<-s.ctx.Done()
		var errs []error
		for _, name := range s.order {
			s.mu.Lock()
			n := s.nodes[name]
			done := n.done
			s.mu.Unlock()
			if done != nil {
				<-done
			}
			s.mu.Lock()
			if n.err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", name, n.err))
			}
			if n.osrv != nil {
				n.osrv.Close()
			}
			s.mu.Unlock()
		}
		for _, r := range s.relays {
			r.Close()
		}
		s.waitProxy()
		<-s.purgeDone
		if s.nats != nil {
			s.nats.Shutdown()
		}
		s.waitErr = errors.Join(errs...)
	})
	return s.waitErr
}

// teeRegisterer registers with a node's own registry (served on its admin
// listener) and the simulation's.
type teeRegisterer struct {
	own   *prometheus.Registry
	other prometheus.Registerer
}

func (t teeRegisterer) Register(c prometheus.Collector) error {
	if err := t.own.Register(c); err != nil {
		return err
	}
	if err := t.other.Register(c); err != nil {
		t.own.Unregister(c)
		return err
	}
	return nil
}

func (t teeRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

func (t teeRegisterer) Unregister(c prometheus.Collector) bool {
	t.other.Unregister(c)
	return t.own.Unregister(c)
}
