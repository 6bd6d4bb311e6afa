package geodns

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EdgeHealth is the health of one edge, for status pages.
type EdgeHealth struct {
	PoP     string `json:"pop"`
	Edge    string `json:"edge"`
	URL     string `json:"url,omitempty"` // empty: not probed, always healthy
	Healthy bool   `json:"healthy"`
	// Probed is false until the first probe result: such an edge is not
	// served unless no edge of its PoP has been probed yet.
	Probed bool `json:"probed"`
	// Successes and Failures count consecutive probe results.
	Successes int       `json:"successes"`
	Failures  int       `json:"failures"`
	LastCheck time.Time `json:"last_check,omitzero"`  // zero before the first probe
	LastError string    `json:"last_error,omitempty"` // of the last failed probe
}

// edgeState is the live health of one edge. It outlives snapshots: a
// reload keeps the state of every edge whose PoP, name and URL are
// unchanged.
type edgeState struct {
	pop, name, url string
	healthy        atomic.Bool // read by queries through rebuilt answers
	probed         atomic.Bool // a first probe result came in

	mu        sync.Mutex // guards the fields below
	successes int
	failures  int
	lastCheck time.Time
	lastErr   string
}

// up: not probed, or probed and healthy.
func (e *edgeState) up() bool { return e.url == "" || e.probed.Load() && e.healthy.Load() }

// unknown: probed but without a result yet.
func (e *edgeState) unknown() bool { return e.url != "" && !e.probed.Load() }

func edgeKey(pop string, e Edge) string { return pop + "\x00" + e.Name + "\x00" + probeTarget(e) }

// probeTarget is what an edge's probe checks: its health URL, tcp://
// host:port for a TCP connect check, or "" for none.
func probeTarget(e Edge) string {
	if e.HealthURL == "" && e.HealthAddr != "" {
		return "tcp://" + e.HealthAddr
	}
	return e.HealthURL
}

// record applies one probe result with the rise and fall thresholds and
// reports whether the edge changed state. Edges start unknown: the first
// result decides at once, later ones need rise or fall in a row.
func (e *edgeState) record(err error, at time.Time, rise, fall int) (changed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastCheck = at
	if !e.probed.Load() {
		if err == nil {
			e.successes, e.failures = 1, 0
		} else {
			e.successes, e.failures = 0, 1
			e.lastErr = err.Error()
		}
		e.healthy.Store(err == nil)
		e.probed.Store(true)
		return true
	}
	up := e.healthy.Load()
	if err == nil {
		e.successes++
		e.failures = 0
		if !up && e.successes >= rise {
			e.healthy.Store(true)
			return true
		}
		return false
	}
	e.lastErr = err.Error()
	e.failures++
	e.successes = 0
	if up && e.failures >= fall {
		e.healthy.Store(false)
		return true
	}
	return false
}

func (e *edgeState) status() EdgeHealth {
	e.mu.Lock()
	defer e.mu.Unlock()
	return EdgeHealth{
		PoP: e.pop, Edge: e.name, URL: e.url, Healthy: e.up(), Probed: e.url == "" || e.probed.Load(),
		Successes: e.successes, Failures: e.failures, LastCheck: e.lastCheck, LastError: e.lastErr,
	}
}

// probe GETs url and expects a 2xx status within timeout; a tcp:// target
// must accept a TCP connection within timeout.
func probe(ctx context.Context, client *http.Client, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if addr, ok := strings.CutPrefix(url, "tcp://"); ok {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		c.Close()
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	// Drain a little so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health check %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// maxConcurrentProbes bounds the probes in flight in one round.
const maxConcurrentProbes = 64

// runHealth probes every edge of the current snapshot each interval until
// ctx is done. Results are applied under s.mu so that a concurrent Reload
// sees either the old or the new health, never half.
func (s *Server) runHealth(ctx context.Context) {
	for {
		sn := s.snap.Load()
		h := sn.cfg.Health
		start := time.Now()
		if !h.Disabled {
			s.healthRound(ctx, sn, h)
		}
		wait := h.Interval - time.Since(start)
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *Server) healthRound(ctx context.Context, sn *snapshot, h HealthConfig) {
	type outcome struct {
		e   *edgeState
		err error
	}
	var probes []*edgeState
	for _, ps := range sn.pops {
		for _, e := range ps.edges {
			if e.url != "" {
				probes = append(probes, e)
			}
		}
	}
	if len(probes) == 0 {
		return
	}
	results := make([]outcome, len(probes))
	sem := make(chan struct{}, maxConcurrentProbes)
	var wg sync.WaitGroup
	for i, e := range probes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = outcome{e: e, err: probe(ctx, s.client, e.url, h.Timeout)}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: the failures are ours, not the edges'
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, r := range results {
		if r.e.record(r.err, now, h.Rise, h.Fall) {
			changed = true
			up := r.e.up()
			s.metrics.setEdge(r.e.pop, r.e.name, up)
			if up {
				s.log.Info("edge healthy", "pop", r.e.pop, "edge", r.e.name, "url", r.e.url)
			} else {
				s.log.Warn("edge unhealthy", "pop", r.e.pop, "edge", r.e.name, "url", r.e.url, "err", r.err)
			}
		}
	}
	if changed {
		// The current snapshot may be newer than sn; it shares the states.
		s.snap.Load().refreshAnswers()
	}
}

// HealthStatus returns the health of every edge of the current
// configuration, in config order.
func (s *Server) HealthStatus() []EdgeHealth {
	sn := s.snap.Load()
	var out []EdgeHealth
	for _, ps := range sn.pops {
		for _, e := range ps.edges {
			st := e.status()
			if sn.cfg.Health.Disabled {
				st.Healthy = true
			}
			out = append(out, st)
		}
	}
	return out
}

// allDown logs, at most once per allDownLogEvery, that no edge of a family
// is healthy anywhere and every address of a PoP is being answered.
func (s *Server) allDown(pop, name string, qtype uint16) {
	now := s.now().UnixNano()
	last := s.lastAllDownLog.Load()
	if now-last < int64(allDownLogEvery) || !s.lastAllDownLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Error("no healthy edge anywhere: answering every edge of the nearest PoP",
		"pop", pop, "name", name, "qtype", qtypeLabel(qtype))
}

const allDownLogEvery = 10 * time.Second
