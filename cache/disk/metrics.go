package disk

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Operations named in error counts and logs.
const (
	opCreate = "create"
	opWrite  = "write"
	opCommit = "commit"
	opRead   = "read"
	opRemove = "remove"
	opScan   = "scan"
)

// Reasons an entry is dropped as corrupt.
const (
	corruptChecksum = "checksum" // a body block's CRC-32C differs
	corruptLength   = "length"   // the body file's length differs
	corruptMeta     = "meta"     // the metadata file does not decode
	corruptMissing  = "missing"  // the metadata names a body that is gone
)

// Stats is a snapshot of the store's counters.
type Stats struct {
	// Hits and Misses count Get results.
	Hits, Misses int64
	// Stores counts committed objects and markers.
	Stores int64
	// Evictions and EvictedBytes count entries removed to make room.
	Evictions, EvictedBytes int64
	// Corrupt counts entries dropped because verification failed
	// (checksum, length, metadata or a missing body).
	Corrupt int64
	// Errors counts failed file system operations (ENOSPC, EIO, EACCES…).
	Errors int64
	// OrphansRemoved counts files of interrupted writes removed at start.
	OrphansRemoved int64
}

// counters are the store's live counters; metrics read them.
type counters struct {
	hits, misses, stores     atomic.Int64
	evictions, evictedBytes  atomic.Int64
	corrupt, errors, orphans atomic.Int64
}

type metrics struct {
	corrupt *prometheus.CounterVec // by reason
	errors  *prometheus.CounterVec // by operation
	scan    prometheus.Gauge
}

func newMetrics(s *Store, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		corrupt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdn_disk_corrupt_total", Help: "Disk cache entries dropped because verification failed, by reason.",
		}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cdn_disk_errors_total", Help: "Failed file system operations of the disk cache, by operation.",
		}, []string{"op"}),
		scan: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdn_disk_scan_seconds", Help: "Duration of the index rebuild after the last start (0 while it runs).",
		}),
	}
	for _, r := range []string{corruptChecksum, corruptLength, corruptMeta, corruptMissing} {
		m.corrupt.WithLabelValues(r)
	}
	for _, op := range []string{opCreate, opWrite, opCommit, opRead, opRemove, opScan} {
		m.errors.WithLabelValues(op)
	}
	if reg == nil {
		return m, nil
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	cs := []prometheus.Collector{
		m.corrupt, m.errors, m.scan,
		gauge("cdn_disk_used_bytes", "Bytes of disk cache files plus space reserved for writes in progress.", func() float64 { return float64(s.Used()) }),
		gauge("cdn_disk_max_bytes", "Configured limit of the disk cache.", func() float64 { return float64(s.cfg.MaxBytes) }),
		gauge("cdn_disk_objects", "Entries (objects and markers) in the disk cache.", func() float64 { return float64(s.Len()) }),
		gauge("cdn_disk_ready", "1 once the disk cache's index is rebuilt and writes are accepted.", func() float64 { return b2f(s.Ready()) }),
		gauge("cdn_disk_degraded", "1 while the disk cache refuses writes after repeated I/O failures.", func() float64 { return b2f(s.degraded()) }),
		counter("cdn_disk_hits_total", "Disk cache lookups that found an entry.", &s.ctr.hits),
		counter("cdn_disk_misses_total", "Disk cache lookups that found nothing usable.", &s.ctr.misses),
		counter("cdn_disk_stores_total", "Objects and markers committed to the disk cache.", &s.ctr.stores),
		counter("cdn_disk_evictions_total", "Entries evicted from the disk cache to make room.", &s.ctr.evictions),
		counter("cdn_disk_evicted_bytes_total", "Bytes evicted from the disk cache to make room.", &s.ctr.evictedBytes),
		counter("cdn_disk_orphans_removed_total", "Files of interrupted writes removed after a start.", &s.ctr.orphans),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs {
				if done == c {
					break
				}
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return m, nil
}

// Stats returns a snapshot of the counters.
func (s *Store) Stats() Stats {
	c := &s.ctr
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Stores: c.stores.Load(),
		Evictions: c.evictions.Load(), EvictedBytes: c.evictedBytes.Load(),
		Corrupt: c.corrupt.Load(), Errors: c.errors.Load(), OrphansRemoved: c.orphans.Load(),
	}
}
