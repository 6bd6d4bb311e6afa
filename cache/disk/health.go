package disk

import (
	"errors"
	"sync"
	"time"
)

// logEvery is the least time between two log lines about one kind of
// failure; lines in between are counted and reported with the next.
const logEvery = 10 * time.Second

// health tracks I/O failures: it rate-limits their logging and, after
// DegradeAfter failures in a row, marks the store degraded for DegradeFor,
// during which Create refuses at once (the edge serves from memory or
// passes through) instead of failing slowly on a sick disk.
type health struct {
	mu            sync.Mutex
	consecutive   int
	degradedUntil time.Time
	lastLog       map[string]time.Time
	suppressed    map[string]int
}

// allowLog reports whether a line about kind may be logged now, and how
// many were suppressed since the last one. Callers hold h.mu.
func (h *health) allowLog(kind string, now time.Time) (bool, int) {
	if h.lastLog == nil {
		h.lastLog = map[string]time.Time{}
		h.suppressed = map[string]int{}
	}
	if last, ok := h.lastLog[kind]; ok && now.Sub(last) < logEvery {
		h.suppressed[kind]++
		return false, 0
	}
	n := h.suppressed[kind]
	h.lastLog[kind] = now
	h.suppressed[kind] = 0
	return true, n
}

// ioError records a failed file system operation: counted, logged
// (rate-limited), and degrading the store after too many in a row.
// Policy refusals (full, too large, not ready) are not failures.
func (s *Store) ioError(op string, err error) {
	if err == nil || errors.Is(err, errPolicy) {
		return
	}
	s.ctr.errors.Add(1)
	s.m.errors.WithLabelValues(op).Inc()
	now := s.now()
	h := &s.health
	h.mu.Lock()
	h.consecutive++
	degradeNow := s.cfg.DegradeAfter > 0 && h.consecutive >= s.cfg.DegradeAfter && !now.Before(h.degradedUntil)
	if degradeNow {
		h.degradedUntil = now.Add(s.cfg.DegradeFor)
		h.consecutive = 0
	}
	logIt, suppressed := h.allowLog(op, now)
	h.mu.Unlock()
	if logIt {
		s.log.Warn("disk cache operation failed", "op", op, "err", err, "suppressed", suppressed)
	}
	if degradeNow {
		s.log.Error("disk cache degraded after repeated failures: refusing writes", "for", s.cfg.DegradeFor, "dir", s.dir)
	}
}

// ioOK records a successful write, ending a run of failures.
func (s *Store) ioOK() {
	h := &s.health
	h.mu.Lock()
	h.consecutive = 0
	h.mu.Unlock()
}

// degraded reports whether writes are refused for a cool-down.
func (s *Store) degraded() bool {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	return s.now().Before(h.degradedUntil)
}

// corrupt counts an entry dropped for reason and logs it (rate-limited,
// never degrading the store: one bad file says nothing of the disk).
func (s *Store) corrupt(reason, path string, err error) {
	s.ctr.corrupt.Add(1)
	s.m.corrupt.WithLabelValues(reason).Inc()
	h := &s.health
	h.mu.Lock()
	logIt, suppressed := h.allowLog("corrupt", s.now())
	h.mu.Unlock()
	if logIt {
		s.log.Warn("disk cache entry failed verification, dropped", "reason", reason, "path", path, "err", err, "suppressed", suppressed)
	}
}
