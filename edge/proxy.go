package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"golang.org/x/sync/singleflight"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/cache/disk"
	"github.com/selfcdn/cdn/compress"
)

// Proxy is the caching reverse proxy of an edge or shield node: the
// http.Handler that answers each request from the tiers or fetches it
// upstream, with the contracts of httputil.ReverseProxy (outgoing
// rewrites the upstream request and picks the shield or origin, lead
// decides what happens to the response: store, pass or stream). It has
// no listeners, admin or TLS of its own: a Node runs it on those, and the
// fast HTTP/1.1 engine asks it for hits (fastHit).
//
// The parts of a request's life and their owners:
//   - handler.go: ServeHTTP checks the request and turns it into a
//     request value; serveCacheable asks the store one question (answer).
//   - cache.Tiered (cache/): lookup across memory and disk, promotion,
//     write-through, size admission and the fall back to pass-through.
//   - flight.go, fetch.go: one flight per key owns the upstream response
//     and its body; its result is a fill, a pass-through or an error.
//   - upstream.go: the pools, retries and the transport.
//   - serve.go: writing a stored or arriving response to one client.
type Proxy struct {
	cfg       Config
	log       *slog.Logger
	mem       *cache.Memory
	disk      *disk.Store // nil without a disk tier; the node opens and closes it
	inv       *cache.Invalidations
	purges    recentPurges  // the last purges applied, for the status page
	store     *cache.Tiered // the tiers as requests see them
	flights   flightGroup
	routes    atomic.Pointer[routes] // sites and upstreams; replaced by Reload
	reloadMu  sync.Mutex             // serialises reloads
	reloaded  chan struct{}          // a reload happened: restart health checks
	transport *http.Transport
	bodiless  *http.Transport // requests without a body (unframed.go)
	metrics   *metrics
	reg       prometheus.Registerer // the node's registry, and the caller's if any
	loopID    string
	via       string // "1.1 <name>"

	// baseCtx is the parent of every request and fetch; cancelled when
	// the node stops.
	baseCtx context.Context
	cancel  context.CancelFunc

	compressCfg compress.Config
	compressing singleflight.Group // builds each compressed variant once
	slicing     singleflight.Group // fetches each slice once (slice.go)
	unsliceable sliceMemo          // objects whose ranges go the usual way

	altSvc string // Alt-Svc value advertising HTTP/3, set by the node before serving

	jobs jobs // fetches and revalidations, which may outlive their requests
}

// jobs tracks the goroutines that may outlive the request that started
// them (a fetch whose body is still being stored, a background
// revalidation), so that the tiers are closed only after the last of them
// has finished with them.
type jobs struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// start runs fn on a goroutine of its own, unless the proxy is stopping.
func (j *jobs) start(fn func()) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return false
	}
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		fn()
	}()
	return true
}

// run runs fn on the caller's goroutine as a job, unless the proxy is
// stopping.
func (j *jobs) run(fn func()) bool {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return false
	}
	j.wg.Add(1)
	j.mu.Unlock()
	defer j.wg.Done()
	fn()
	return true
}

// stop refuses new jobs and waits for the running ones.
func (j *jobs) stop() {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	j.wg.Wait()
}

// newProxy builds the request handling of a node from a checked,
// defaulted cfg: the tiers (opening the disk tier), the routes and the
// metrics, registered with reg.
func newProxy(cfg Config, reg prometheus.Registerer) (*Proxy, error) {
	mem, err := cache.NewMemory(cache.MemoryConfig{Budget: cfg.Memory, MaxObject: cfg.MaxMemoryObject})
	if err != nil {
		return nil, err
	}
	s := &Proxy{
		cfg:         cfg,
		log:         cfg.Logger.With("node", cfg.Name),
		mem:         mem,
		inv:         &cache.Invalidations{},
		transport:   newTransport(&cfg),
		loopID:      cfg.Name,
		via:         "1.1 " + cfg.Name,
		compressCfg: cfg.Compression,
		reloaded:    make(chan struct{}, 1),
		reg:         reg,
	}
	s.bodiless = newBodilessTransport(s.transport, cfg.ConnectTimeout+3*time.Second)
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	rt, err := s.buildRoutes(&cfg)
	if err != nil {
		mem.Close()
		return nil, err
	}
	s.routes.Store(rt)
	s.metrics = newMetrics(s.reg, s)
	if cfg.DiskDir != "" {
		d, err := disk.Open(disk.Config{
			Dir:        cfg.DiskDir,
			MaxBytes:   cfg.DiskSize,
			MaxObject:  cfg.DiskMaxObject,
			Logger:     s.log,
			Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"node": cfg.Name}, s.reg),
			Now:        cfg.Now,
		})
		if err != nil {
			mem.Close()
			return nil, fmt.Errorf("disk tier: %w", err)
		}
		s.disk = d
	}
	tc := cache.TieredConfig{
		Memory:          mem,
		MaxMemoryObject: cfg.MaxMemoryObject,
		MaxDiskObject:   cfg.DiskMaxObject,
		StreamWindow:    cfg.StreamWindow,
		Invalidations:   s.inv,
		Logger:          s.log,
		Registerer:      s.reg,
		ConstLabels:     prometheus.Labels{"node": cfg.Name, "role": string(cfg.Role)},
	}
	if s.disk != nil {
		tc.Disk = s.disk.Tier()
	}
	s.store = cache.NewTiered(tc)
	return s, nil
}

// close releases the tiers once nothing serves any more: fetches are
// cancelled, and the tiers close after the last one has stopped using
// them.
func (s *Proxy) close() {
	s.cancel()
	s.jobs.stop()
	s.transport.CloseIdleConnections()
	s.bodiless.CloseIdleConnections()
	s.mem.Close()
	if s.disk != nil {
		s.disk.Close()
	}
}

func (s *Proxy) healthz(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.baseCtx.Done():
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}
