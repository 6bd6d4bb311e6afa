package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// client sends one request or query at a time. Each client owns its
// connections, source address and random generator.
type client interface {
	// do sends the request for ticket i. ok is false when the workload has
	// no request for i (a trace is exhausted); the client then stops.
	do(ctx context.Context, i int64) (r result, ok bool)
	close()
}

// Run generates the load cfg describes and reports on it. It returns when
// the run's bounds are reached or ctx is cancelled; a cancelled run still
// returns its partial report (with Interrupted set) and a nil error. Errors
// are for configurations that cannot run; failed requests are counted in
// the report instead.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load test config: %w", err)
	}
	c := cfg.withDefaults()

	var (
		clients []client
		targets []string
		wdesc   string
		err     error
	)
	switch c.Mode {
	case ModeDNS:
		clients, targets, err = newDNSClients(c)
		wdesc = fmt.Sprintf("%s queries for %d names", c.DNS.Type, len(c.DNS.Names))
		if len(c.DNS.Subnets) > 0 || c.Endpoints != nil {
			wdesc += " with client subnets"
		}
	default:
		var objects int
		clients, targets, objects, err = newHTTPClients(c)
		wdesc = c.Workload.describe(objects)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, cl := range clients {
			cl.close()
		}
	}()

	// Origin offload: with no warmup, the "before" reading is taken now,
	// before the first request leaves; otherwise when the warmup ends.
	offloadBefore := make(chan offloadReading, 1)
	if c.OriginStats != "" && c.Warmup == 0 {
		n, err := readOriginTotal(ctx, c.OriginStats, c.Timeout)
		offloadBefore <- offloadReading{n, err}
	}

	now := c.Now
	start := now()
	measureStart := start.Add(c.Warmup)
	end := start.Add(c.MaxDuration)
	if c.Duration > 0 {
		end = measureStart.Add(c.Duration)
	}
	hardEnd := start.Add(c.MaxDuration)
	if end.After(hardEnd) {
		end = hardEnd
	}
	runCtx, cancel := context.WithDeadline(ctx, hardEnd)
	defer cancel()

	rep := &Report{
		Mode: string(c.Mode), Targets: targets, Workload: wdesc, Loop: "closed",
		Concurrency: c.Concurrency, Started: start.UTC().Round(0), WarmupSeconds: c.Warmup.Seconds(),
	}
	if c.Mode == ModeHTTP {
		rep.Proto = string(c.Proto)
	}
	if c.Rate > 0 {
		rep.Loop, rep.TargetRate = "open", c.Rate
	}

	e := &engine{
		cfg: c, start: start, measureStart: measureStart, end: end,
		rec: newRecorder(measureStart, c.MaxDuration+c.Timeout),
	}
	if c.Rate > 0 {
		e.interval = float64(time.Second) / c.Rate
	}

	if c.OriginStats != "" && c.Warmup > 0 {
		go func() {
			t := time.NewTimer(measureStart.Sub(now()))
			defer t.Stop()
			select {
			case <-t.C:
			case <-runCtx.Done():
			}
			n, err := readOriginTotal(runCtx, c.OriginStats, c.Timeout)
			offloadBefore <- offloadReading{n, err}
		}()
	}

	stopProgress := e.startProgress(runCtx)
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.loop(runCtx, cl)
		}()
	}
	wg.Wait()
	finished := now()
	stopProgress()

	elapsed := finished.Sub(measureStart)
	if elapsed < 0 {
		elapsed = 0
	}
	rep.ElapsedSeconds = elapsed.Seconds()
	e.rec.fill(rep, elapsed)
	switch {
	case ctx.Err() != nil:
		rep.Interrupted, rep.StopReason = true, "interrupted"
	case runCtx.Err() != nil || !finished.Before(hardEnd):
		rep.Interrupted, rep.StopReason = true, fmt.Sprintf("max duration %s reached", c.MaxDuration)
	case e.exhausted.Load():
		rep.StopReason = "trace replayed"
	case c.Requests > 0 && e.measured.Load() >= c.Requests:
		rep.StopReason = fmt.Sprintf("%d requests sent", c.Requests)
	default:
		rep.StopReason = fmt.Sprintf("duration %s reached", c.Duration)
	}

	if c.OriginStats != "" {
		rep.Offload = e.offload(ctx, offloadBefore, rep.Total.Requests)
	}
	return rep, nil
}

// engine hands out tickets to clients and records what they get.
//
// Ticket i of an open-loop run is scheduled at start + i/Rate, whoever
// takes it and whenever they do; its latency runs from that scheduled time.
// So when the server stalls, the requests scheduled during the stall record
// the time they waited for a free client, as a real user's would, instead
// of the generator quietly sending fewer requests (coordinated omission).
type engine struct {
	cfg          Config
	start        time.Time
	measureStart time.Time
	end          time.Time
	interval     float64 // ns between scheduled requests; 0 for closed loop
	rec          *recorder

	next      atomic.Int64 // next ticket
	measured  atomic.Int64 // measured tickets handed out
	exhausted atomic.Bool  // a trace ran out
}

func (e *engine) loop(ctx context.Context, cl client) {
	for ctx.Err() == nil {
		i := e.next.Add(1) - 1
		var intended time.Time
		if e.interval > 0 {
			intended = e.start.Add(time.Duration(float64(i) * e.interval))
			if !intended.Before(e.end) {
				return
			}
			if !sleepUntil(ctx, intended, e.cfg.Now) {
				return
			}
		} else {
			intended = e.cfg.Now()
			if !intended.Before(e.end) {
				return
			}
		}
		if e.cfg.Requests > 0 && !intended.Before(e.measureStart) {
			if e.measured.Add(1) > e.cfg.Requests {
				return
			}
		}
		reqCtx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
		r, ok := cl.do(reqCtx, i)
		cancel()
		if !ok {
			e.exhausted.Store(true)
			return
		}
		if ctx.Err() != nil && r.errKind != "" && r.errKind != errStatus4xx && r.errKind != errStatus5xx && r.errKind != errRcode {
			// The run was stopped, not the server: this is no error.
			r.cancelled = true
		}
		done := e.cfg.Now()
		e.rec.record(&r, intended, done)
		if e.cfg.observe != nil {
			e.cfg.observe(i, intended, done)
		}
	}
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time, now func() time.Time) bool {
	d := t.Sub(now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type offloadReading struct {
	total int64
	err   error
}

func (e *engine) offload(ctx context.Context, before <-chan offloadReading, clientRequests int64) *Offload {
	o := &Offload{URL: e.cfg.OriginStats, ClientRequests: clientRequests}
	var b offloadReading
	select {
	case b = <-before:
	case <-ctx.Done():
		b.err = fmt.Errorf("run interrupted before reading origin stats: %w", ctx.Err())
	}
	if b.err != nil {
		o.Error = b.err.Error()
		e.cfg.Logger.Warn("origin offload not computed", "url", e.cfg.OriginStats, "err", b.err)
		return o
	}
	o.Before = b.total
	// Read "after" even when ctx is cancelled: a Ctrl-C'd run still
	// deserves its partial numbers.
	after, err := readOriginTotal(context.WithoutCancel(ctx), e.cfg.OriginStats, e.cfg.Timeout)
	if err != nil {
		o.Error = err.Error()
		e.cfg.Logger.Warn("origin offload not computed", "url", e.cfg.OriginStats, "err", err)
		return o
	}
	o.After = after
	o.OriginRequests = after - b.total
	if clientRequests > 0 {
		o.Ratio = 1 - float64(o.OriginRequests)/float64(clientRequests)
	}
	return o
}

// startProgress writes a progress line every ProgressInterval until the
// returned function is called.
func (e *engine) startProgress(ctx context.Context) (stop func()) {
	w := e.cfg.Progress
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(e.cfg.ProgressInterval)
		defer t.Stop()
		var lastReq int64
		last := e.cfg.Now()
		total := e.end.Sub(e.start)
		for {
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-ctx.Done():
				fmt.Fprintln(w)
				return
			case <-t.C:
			}
			now := e.cfg.Now()
			all := e.rec.progAll.Load()
			rate := float64(all-lastReq) / now.Sub(last).Seconds()
			lastReq, last = all, now
			req := e.rec.progRequests.Load()
			phase := ""
			if now.Before(e.measureStart) {
				phase = " warmup"
			}
			hit := "-"
			if c := e.rec.progCache.Load(); c > 0 {
				hit = fmt.Sprintf("%.1f%%", 100*float64(e.rec.progHits.Load())/float64(c))
			}
			fmt.Fprintf(w, "\r%7.1fs / %s%s  %9s req/s  %d requests  %d errors  hit %s   ",
				now.Sub(e.start).Seconds(), total.Round(time.Second), phase, fmtFloat(rate), req, e.rec.progErrors.Load(), hit)
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// seedFor derives client k's random generator from the run's seed.
func seedFor(seed uint64, k int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(k)+0x9e3779b97f4a7c15))
}

var errNoTarget = errors.New("no target for this request")

// splitTargets separates base URLs from object URLs.
func splitTargets(raw []string) (bases []*url.URL, objects []string) {
	for _, s := range raw {
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		if isBase(u) {
			u.Path = ""
			bases = append(bases, u)
		} else {
			objects = append(objects, s)
		}
	}
	return bases, objects
}
