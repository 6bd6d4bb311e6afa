package cache

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// DiskTier is the disk tier as the cache core uses it. The disk package's
// Store provides it through its Tier method.
type DiskTier interface {
	// Get returns the entry under key (a body or a marker).
	Get(key string) (*Object, bool)
	// Create starts a new entry of size bytes (-1 if unknown); it fails
	// at once when the entry cannot fit.
	Create(key string, size int64) (DiskWriter, error)
	// Delete removes the entry under key.
	Delete(key string)
	// SetMarker stores a Vary or pass marker.
	SetMarker(o *Object) error
	// UpdateHead replaces a stored entry's head.
	UpdateHead(key string, h *Head) error
	// Ready reports whether writes are accepted (the index is rebuilt).
	Ready() bool
	// WaitReady blocks until Ready or ctx ends.
	WaitReady(ctx context.Context) error
}

// TieredConfig describes a Tiered store.
type TieredConfig struct {
	// Memory is the memory tier. Required.
	Memory *Memory
	// Disk is the disk tier; nil means memory only.
	Disk DiskTier
	// MaxMemoryObject is the largest body held in memory, whether to
	// store it or while it arrives. Required.
	MaxMemoryObject int64
	// MaxDiskObject is the largest body stored on disk.
	MaxDiskObject int64
	// StreamWindow bounds what a body that is not stored buffers ahead of
	// its slowest reader. 0 means 256 KiB.
	StreamWindow int64
	// Invalidations are the purge rules; nil means a new empty set.
	Invalidations *Invalidations
	// Logger receives store failures; nil discards them.
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers none.
	Registerer prometheus.Registerer
	// ConstLabels are added to every metric (node, role).
	ConstLabels prometheus.Labels
}

// Tiered is the cache as the edge sees it: lookups across memory and disk
// through Vary markers with purge rules applied, admission of new bodies by
// size and room (memory, disk, or stream through), promotion of small disk
// hits into memory, write-through of memory objects to disk, and §4.4
// invalidation. It knows no HTTP server types.
type Tiered struct {
	cfg    TieredConfig
	mem    *Memory
	disk   DiskTier
	inv    *Invalidations
	log    *slog.Logger
	synced atomic.Pointer[func() bool]

	stored    *prometheus.CounterVec // by tier
	notStored *prometheus.CounterVec // by reason
	errors    *prometheus.CounterVec // by tier, op
}

// PromoteMax is the largest disk object copied into the memory tier on a
// hit (larger ones are served from disk, with sendfile where possible).
const PromoteMax = 1 << 20

// NewTiered returns a tiered store over the given tiers.
func NewTiered(cfg TieredConfig) *Tiered {
	if cfg.Invalidations == nil {
		cfg.Invalidations = &Invalidations{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tiered{cfg: cfg, mem: cfg.Memory, disk: cfg.Disk, inv: cfg.Invalidations, log: cfg.Logger}
	t.stored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdn_cache_stores_total", Help: "Objects stored, by tier.", ConstLabels: cfg.ConstLabels,
	}, []string{"tier"})
	t.notStored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdn_cache_not_stored_total", Help: "Upstream responses not stored (or no longer stored mid-body), by reason.", ConstLabels: cfg.ConstLabels,
	}, []string{"reason"})
	t.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdn_cache_store_errors_total", Help: "Failed writes to a cache tier, by tier and operation.", ConstLabels: cfg.ConstLabels,
	}, []string{"tier", "op"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(t.stored, t.notStored, t.errors)
	}
	return t
}

// Memory returns the memory tier.
func (t *Tiered) Memory() *Memory { return t.mem }

// Invalidations returns the purge rules.
func (t *Tiered) Invalidations() *Invalidations { return t.inv }

// HasDisk reports whether there is a disk tier.
func (t *Tiered) HasDisk() bool { return t.disk != nil }

// SetSynced installs the check of whether the node is in sync with the
// purge bus. While it reports false, every hit counts as stale: a node
// that may have missed a purge revalidates before serving.
func (t *Tiered) SetSynced(fn func() bool) { t.synced.Store(&fn) }

// Synced reports whether the node is in sync with the purge bus (always,
// without one).
func (t *Tiered) Synced() bool { return t.isSynced() }

func (t *Tiered) isSynced() bool {
	if fn := t.synced.Load(); fn != nil {
		return (*fn)()
	}
	return true
}

// NotStored counts a response that is not stored, by reason.
func (t *Tiered) NotStored(reason string) { t.notStored.WithLabelValues(reason).Inc() }

// Errors returns how many writes to tier failed in op.
func (t *Tiered) Errors(tier, op string) float64 {
	var m dto.Metric
	if err := t.errors.WithLabelValues(tier, op).Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// fail logs and counts a failed tier write.
func (t *Tiered) fail(tier, op, key string, err error) {
	t.errors.WithLabelValues(tier, op).Inc()
	t.log.Warn("cache store failed", "tier", tier, "op", op, "key", key, "err", err)
}

// LookupKind is what a lookup found.
type LookupKind int

// Lookup kinds.
const (
	// Miss: nothing usable is stored; fetch under Lookup.Key.
	Miss LookupKind = iota
	// Found: Lookup.Object is stored; its freshness decides hit or
	// revalidation, and Lookup.Verdict says whether a purge made it stale.
	Found
	// Pass: recent responses for this URL could not be stored; fetch
	// without collapsing.
	Pass
)

// Lookup is the answer to one lookup. Close it when the response is done.
type Lookup struct {
	Kind LookupKind
	// Key is the full cache key for a fetch (the variant's, through a
	// Vary marker).
	Key string
	// Object is the stored response (Found).
	Object *Object
	// Verdict is Valid, or Stale when a soft purge or a purge bus out of
	// sync requires revalidation.
	Verdict Verdict
	// VaryMiss is set when the URL is known but not this variant.
	VaryMiss bool
	// Unsynced is set when the node may have missed purges (it is not in
	// sync with the purge bus): nothing stored may be served without a
	// successful revalidation, stale or not.
	Unsynced bool
}

// Close releases a disk body opened during the lookup and not used.
func (l *Lookup) Close() {
	if l.Object != nil {
		if ob, ok := l.Object.Body.(*openedBody); ok {
			ob.closeUnused()
		}
	}
}

// Lookup finds the usable stored object for a primary key. varyValues
// returns the request's values of the given fields (Vary).
func (t *Tiered) Lookup(primary string, varyValues func(fields []string) []string) Lookup {
	l := Lookup{Key: primary}
	o, ok := t.get(primary, true)
	if ok && o.Pass {
		l.Kind = Pass
		return l
	}
	if ok && o.VaryFields != nil {
		l.Key = VariantKey(primary, o.VaryFields, varyValues(o.VaryFields))
		o, ok = t.get(l.Key, true)
		if !ok {
			l.VaryMiss = true
			return l
		}
	}
	if !ok || o.Body == nil {
		return l
	}
	v := t.inv.CheckObject(o)
	if !t.isSynced() {
		l.Unsynced = true
		if v == Valid {
			v = Stale
		}
	}
	if v == Purged {
		if ob, ok := o.Body.(*openedBody); ok {
			ob.closeUnused()
		}
		t.Remove(o.Key)
		return l
	}
	l.Kind, l.Object, l.Verdict = Found, o, v
	return l
}

// get looks key up in memory, then on disk. With promote, small disk
// objects are copied into memory and larger disk bodies are opened at
// once, so an entry evicted between lookup and serving is a miss rather
// than a response cut short after its headers.
func (t *Tiered) get(key string, promote bool) (*Object, bool) {
	if o, ok := t.mem.Get(key); ok {
		return o, true
	}
	if t.disk == nil {
		return nil, false
	}
	o, ok := t.disk.Get(key)
	if !ok {
		return nil, false
	}
	if o.Body == nil {
		if promote {
			t.mem.Set(o) // a marker
		}
		return o, true
	}
	if !promote {
		return o, true
	}
	rc, err := o.Body.Open(0)
	if err != nil {
		return nil, false
	}
	if size := o.Size(); size <= PromoteMax && t.mem.Fits(size) {
		b := make([]byte, size)
		_, err = io.ReadFull(rc, b)
		rc.Close()
		if err != nil {
			// Corrupt or gone: the disk tier has dropped it; a miss.
			return nil, false
		}
		m := NewObject(o.Key, o.Primary, o.Head(), Bytes(b))
		m.Site, m.Tags = o.Site, o.Tags
		t.mem.Set(m)
		return m, true
	}
	d := NewObject(o.Key, o.Primary, o.Head(), &openedBody{Body: o.Body, first: rc})
	d.Site, d.Tags, d.VaryFields = o.Site, o.Tags, o.VaryFields
	return d, true
}

// openedBody is a disk body already opened at offset 0 during lookup;
// the first Open(0) hands out that reader, and Lookup.Close closes it if
// nobody took it (HEAD, 304, ranges).
type openedBody struct {
	Body
	mu    sync.Mutex
	first io.ReadCloser
}

func (b *openedBody) Open(off int64) (io.ReadCloser, error) {
	b.mu.Lock()
	first := b.first
	b.first = nil
	b.mu.Unlock()
	if first != nil {
		if off == 0 {
			return first, nil
		}
		first.Close()
	}
	return b.Body.Open(off)
}

func (b *openedBody) closeUnused() {
	b.mu.Lock()
	first := b.first
	b.first = nil
	b.mu.Unlock()
	if first != nil {
		first.Close()
	}
}

// Remove deletes key from every tier.
func (t *Tiered) Remove(key string) {
	t.mem.Del(key)
	if t.disk != nil {
		t.disk.Delete(key)
	}
}

// SetPass remembers for ttl that responses for primary cannot be stored,
// so requests for it go upstream without waiting on each other.
func (t *Tiered) SetPass(primary string, ttl time.Duration) {
	t.mem.SetTTL(&Object{Key: primary, Primary: primary, Pass: true}, ttl)
}

// Admit decides where a new body of size bytes (-1 if unknown) for key
// goes, and returns the Fill that receives it. A body that fits in memory
// is kept there; a larger one, or one of unknown length, goes to disk when
// there is room; otherwise it streams through without being stored, and
// the request still succeeds. onStop, if non-nil, is called when the body
// stops being stored mid-way (see FillConfig.OnStop).
func (t *Tiered) Admit(key string, size int64, onStop func(reason string)) *Fill {
	maxMem := t.cfg.MaxMemoryObject
	stop := func(reason string) {
		t.NotStored(stopLabel(reason))
		t.log.Debug("body no longer stored; streaming it", "key", key, "reason", reason)
		if onStop != nil {
			onStop(reason)
		}
	}
	fc := FillConfig{Size: size, MaxMemory: maxMem, Window: t.cfg.StreamWindow, OnStop: stop}
	switch {
	case size >= 0 && size <= maxMem && t.mem.Fits(size):
		fc.Mode = FillMemory
	case t.disk != nil && size <= t.cfg.MaxDiskObject:
		if size < 0 {
			// Unknown length: keep it in memory while it fits, then move
			// it to a disk entry.
			fc.Mode = FillMemory
			fc.Spill = func() (DiskWriter, error) {
				w, err := t.disk.Create(key, -1)
				if err != nil {
					return nil, err
				}
				return w, nil
			}
			break
		}
		w, err := t.disk.Create(key, size)
		if err != nil {
			t.NotStored("disk-full")
			t.log.Debug("disk tier refused an object; streaming it", "key", key, "err", err)
			fc.Mode, fc.Reason = FillStream, "disk-full"
			break
		}
		fc.Mode, fc.Writer = FillDisk, w
	case size < 0:
		fc.Mode = FillMemory // until it outgrows memory
	default:
		t.NotStored("too-large")
		fc.Mode, fc.Reason = FillStream, "too-large"
	}
	return NewFill(fc)
}

// stopLabel turns a stop reason into a bounded metric label.
func stopLabel(reason string) string {
	switch {
	case reason == "too-large":
		return "too-large"
	case len(reason) >= 5 && reason[:5] == "disk:":
		return "disk-write"
	default:
		return "too-large-for-memory"
	}
}

// Commit stores a complete fill as obj (its key, head, site and tags),
// with marker (a Vary marker, or nil) for the URL, unless a purge rule
// already covers it. It reports whether anything was stored. A memory
// object is written through to disk by WriteThrough, which the caller
// runs once clients have their response.
func (t *Tiered) Commit(f *Fill, obj, marker *Object) (stored bool) {
	if t.inv.CheckObject(obj) == Purged {
		return false
	}
	if marker != nil {
		t.mem.Set(marker)
	}
	switch f.Mode() {
	case FillDisk:
		w, _ := f.Writer()
		if err := w.CommitOpen(obj); err != nil {
			t.fail("disk", "commit", obj.Key, err)
			return false
		}
		t.stored.WithLabelValues("disk").Inc()
		if marker != nil {
			if err := t.disk.SetMarker(marker); err != nil {
				t.fail("disk", "marker", marker.Key, err)
			}
		}
		return true
	case FillMemory:
		b, ok := f.Bytes()
		if !ok {
			return false
		}
		obj.Body = Bytes(b)
		if !t.mem.Set(obj) {
			t.NotStored("memory-rejected")
			t.log.Debug("memory tier rejected an object", "key", obj.Key, "size", len(b))
			return false
		}
		t.stored.WithLabelValues("memory").Inc()
		// Ristretto applies new keys asynchronously: wait until the set is
		// visible, so a request arriving after the flight ends finds the
		// object instead of starting a new fetch.
		t.mem.Wait()
		return true
	}
	return false
}

// Put stores a complete object whose body is already in memory (a slice
// of a larger one, fetched whole), unless a purge rule covers it or it
// does not fit the memory tier, and writes it through to disk. It reports
// whether it was stored.
func (t *Tiered) Put(ctx context.Context, obj *Object) bool {
	b, ok := obj.Body.(Bytes)
	if !ok || !t.mem.Fits(int64(len(b))) || t.inv.CheckObject(obj) == Purged {
		return false
	}
	if !t.mem.Set(obj) {
		return false
	}
	t.stored.WithLabelValues("memory").Inc()
	t.mem.Wait()
	t.WriteThrough(ctx, obj, nil)
	return true
}

// WriteThrough copies a memory object (and its Vary marker) to the disk
// tier, so it survives a restart. It waits a little for a disk tier that
// is still rebuilding its index.
func (t *Tiered) WriteThrough(ctx context.Context, o, marker *Object) {
	if t.disk == nil || o.Size() > t.cfg.MaxDiskObject {
		return
	}
	b, ok := o.Body.(Bytes)
	if !ok {
		return
	}
	if !t.disk.Ready() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := t.disk.WaitReady(wctx)
		cancel()
		if err != nil {
			t.fail("disk", "write-through", o.Key, err)
			return
		}
	}
	w, err := t.disk.Create(o.Key, int64(len(b)))
	if err != nil {
		// Full or degraded: memory only. Counted, but not logged per object.
		t.errors.WithLabelValues("disk", "write-through").Inc()
		return
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		t.fail("disk", "write-through", o.Key, err)
		return
	}
	if err := w.CommitOpen(o); err != nil {
		t.fail("disk", "write-through", o.Key, err)
		return
	}
	w.Close()
	if marker != nil {
		if err := t.disk.SetMarker(marker); err != nil {
			t.fail("disk", "marker", marker.Key, err)
		}
	}
}

// UpdateHead replaces a stored object's head after a revalidation (RFC
// 9111 §4.3.4), in memory and on disk.
func (t *Tiered) UpdateHead(o *Object, h *Head) {
	o.SetHead(h)
	if t.disk != nil {
		if err := t.disk.UpdateHead(o.Key, h); err != nil && !isNotExist(err) {
			t.fail("disk", "update-head", o.Key, err)
		}
	}
}

// Invalidate marks what is stored for primary as stale (RFC 9111 §4.4):
// the next request revalidates it. A Vary marker is removed instead, which
// makes every variant of the URL unreachable. No purge rule is added, so
// any number of unsafe requests costs nothing on later hits.
func (t *Tiered) Invalidate(primary string) {
	if o, ok := t.mem.Get(primary); ok {
		t.invalidateObject(o, false)
	}
	if t.disk != nil {
		if o, ok := t.disk.Get(primary); ok {
			t.invalidateObject(o, true)
		}
	}
}

func (t *Tiered) invalidateObject(o *Object, onDisk bool) {
	switch {
	case o.Pass:
		return
	case o.VaryFields != nil:
		t.Remove(o.Key)
		return
	}
	h := o.Head()
	if h == nil {
		return
	}
	nh := h.Clone()
	nh.Lifetime, nh.Heuristic = 0, false
	if onDisk {
		if err := t.disk.UpdateHead(o.Key, nh); err != nil && !isNotExist(err) {
			t.fail("disk", "invalidate", o.Key, err)
			t.disk.Delete(o.Key)
		}
		return
	}
	o.SetHead(nh)
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Stream returns a Fill that stores nothing: a pass-through body on its
// way to one reader, bounded by the stream window.
func (t *Tiered) Stream(size int64) *Fill {
	return NewFill(FillConfig{Mode: FillStream, Size: size, Window: t.cfg.StreamWindow, Reason: "pass"})
}
