package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults for HealthConfig and PassiveConfig fields left zero.
const (
	DefaultHealthPath      = "/"
	DefaultHealthInterval  = 5 * time.Second
	DefaultHealthTimeout   = 2 * time.Second
	DefaultHealthRise      = 2
	DefaultHealthFall      = 3
	DefaultHealthStatusMin = 200
	DefaultHealthStatusMax = 399
	DefaultPassiveCoolDown = 30 * time.Second
)

// HealthConfig configures active HTTP health checks: every Interval each
// backend gets GET Path; a response with a status in [StatusMin, StatusMax]
// within Timeout is a success. A healthy backend goes down after Fall
// consecutive failures, a down one comes back after Rise consecutive
// successes (HAProxy's rise/fall). A zero field takes its default.
type HealthConfig struct {
	// Path is the request path, with an optional query. Default "/".
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Scheme is used for backends whose Addr is host:port. Default "http".
	Scheme string `yaml:"scheme,omitempty" json:"scheme,omitempty"`
	// Host, if set, is sent as the Host header instead of the address.
	Host string `yaml:"host,omitempty" json:"host,omitempty"`
	// Interval between probes of one backend. Default 5s.
	Interval time.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Timeout of one probe, response body included. Default 2s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Rise is how many consecutive successes bring a backend up. Default 2.
	Rise int `yaml:"rise,omitempty" json:"rise,omitempty"`
	// Fall is how many consecutive failures take a backend down. Default 3.
	Fall int `yaml:"fall,omitempty" json:"fall,omitempty"`
	// StatusMin and StatusMax bound the statuses that count as healthy.
	// Defaults 200 and 399.
	StatusMin int `yaml:"status_min,omitempty" json:"status_min,omitempty"`
	StatusMax int `yaml:"status_max,omitempty" json:"status_max,omitempty"`
}

// WithDefaults returns c with every zero field set to its default.
func (c HealthConfig) WithDefaults() HealthConfig {
	if c.Path == "" {
		c.Path = DefaultHealthPath
	}
	if c.Scheme == "" {
		c.Scheme = "http"
	}
	if c.Interval == 0 {
		c.Interval = DefaultHealthInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultHealthTimeout
	}
	if c.Rise == 0 {
		c.Rise = DefaultHealthRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultHealthFall
	}
	if c.StatusMin == 0 {
		c.StatusMin = DefaultHealthStatusMin
	}
	if c.StatusMax == 0 {
		c.StatusMax = DefaultHealthStatusMax
	}
	return c
}

// Validate reports every invalid field, named by its path under "health".
func (c HealthConfig) Validate() error {
	d := c.WithDefaults()
	var errs []error
	if !strings.HasPrefix(d.Path, "/") {
		errs = append(errs, fmt.Errorf("health.path: %q must start with /", d.Path))
	}
	if d.Scheme != "http" && d.Scheme != "https" {
		errs = append(errs, fmt.Errorf("health.scheme: %q must be http or https", d.Scheme))
	}
	if d.Interval <= 0 {
		errs = append(errs, fmt.Errorf("health.interval: must be > 0, got %v", d.Interval))
	}
	if d.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("health.timeout: must be > 0, got %v", d.Timeout))
	}
	if d.Rise < 1 {
		errs = append(errs, fmt.Errorf("health.rise: must be > 0, got %d", d.Rise))
	}
	if d.Fall < 1 {
		errs = append(errs, fmt.Errorf("health.fall: must be > 0, got %d", d.Fall))
	}
	if d.StatusMin < 100 || d.StatusMin > 599 {
		errs = append(errs, fmt.Errorf("health.status_min: must be in 100..599, got %d", d.StatusMin))
	}
	if d.StatusMax < 100 || d.StatusMax > 599 {
		errs = append(errs, fmt.Errorf("health.status_max: must be in 100..599, got %d", d.StatusMax))
	}
	if d.StatusMin > d.StatusMax {
		errs = append(errs, fmt.Errorf("health.status_max: %d is below health.status_min %d", d.StatusMax, d.StatusMin))
	}
	return errors.Join(errs...)
}

// PassiveConfig configures passive health (Envoy's consecutive-errors
// outlier detection): after MaxFails consecutive failures reported through
// Backend.ReportResult, the backend is ejected for CoolDown, then offered
// traffic again.
type PassiveConfig struct {
	// MaxFails is the consecutive failures that eject a backend. 0, the
	// default, turns passive ejection off.
	MaxFails int `yaml:"max_fails,omitempty" json:"max_fails,omitempty"`
	// CoolDown is how long an ejection lasts. Default 30s.
	CoolDown time.Duration `yaml:"cool_down,omitempty" json:"cool_down,omitempty"`
}

// WithDefaults returns c with every zero field set to its default.
func (c PassiveConfig) WithDefaults() PassiveConfig {
	if c.CoolDown == 0 {
		c.CoolDown = DefaultPassiveCoolDown
	}
	return c
}

// Validate reports every invalid field, named by its path under "passive".
func (c PassiveConfig) Validate() error {
	d := c.WithDefaults()
	var errs []error
	if d.MaxFails < 0 {
		errs = append(errs, fmt.Errorf("passive.max_fails: must not be negative, got %d", d.MaxFails))
	}
	if d.CoolDown <= 0 {
		errs = append(errs, fmt.Errorf("passive.cool_down: must be > 0, got %v", d.CoolDown))
	}
	return errors.Join(errs...)
}

// Checker runs active HTTP health checks and records each verdict with
// Backend.SetHealthy.
type Checker struct {
	cfg    HealthConfig // with defaults applied
	client *http.Client
	logger *slog.Logger
	pool   string
}

// NewChecker returns a Checker for cfg. If client is nil, a client of its own
// is used, which does not follow redirects (a 3xx is judged by its status)
// and keeps one idle connection per backend. pool names the backends' pool
// in log lines. A nil logger discards.
func NewChecker(cfg HealthConfig, pool string, client *http.Client, logger *slog.Logger) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pool %q: %w", pool, err)
	}
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 1
		client = &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{cfg: cfg.WithDefaults(), client: client, logger: logger, pool: pool}, nil
}

// Run probes every backend that backends returns, once right away and then
// every Interval, until ctx is done. backends is called once per round, so
// the set may change between rounds; the probes of one round run
// concurrently and Run waits for them before the next round.
func (c *Checker) Run(ctx context.Context, backends func() []*Backend) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	var wg sync.WaitGroup
	for {
		for _, b := range backends() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Check(ctx, b)
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check probes b once, updates its rise/fall counters and, when one reaches
// its threshold, its health. It returns the probe's error, nil on success.
func (c *Checker) Check(ctx context.Context, b *Backend) error {
	err := c.Probe(ctx, b)
	if ctx.Err() != nil {
		return err // shutting down: the verdict is not the backend's fault
	}
	b.probes.Add(1)
	if err != nil {
		b.probeFails.Add(1)
		msg := err.Error()
		b.lastProbeErr.Store(&msg)
		b.probeOK.Store(0)
		n := b.probeFail.Add(1)
		if b.Healthy() && n >= int64(c.cfg.Fall) {
			b.SetHealthy(false)
			c.logger.Warn("backend down", "pool", c.pool, "backend", b.ID(),
				"consecutive_failures", n, "err", err)
		}
		return err
	}
	b.lastProbeErr.Store(nil)
	b.probeFail.Store(0)
	n := b.probeOK.Add(1)
	if !b.Healthy() && n >= int64(c.cfg.Rise) {
		b.SetHealthy(true)
		c.logger.Info("backend up", "pool", c.pool, "backend", b.ID(), "consecutive_successes", n)
	}
	return nil
}

// URL returns the URL Probe requests for b: b.Addr's scheme and host when
// Addr is a URL, else Scheme://Addr, followed by Path.
func (c *Checker) URL(b *Backend) (string, error) {
	addr := b.Addr
	if b.HealthAddr != "" {
		addr = b.HealthAddr
	}
	scheme, host := c.cfg.Scheme, addr
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return "", fmt.Errorf("parse address of backend %q: %w", b.ID(), err)
		}
		scheme, host = u.Scheme, u.Host
	}
	if host == "" {
		return "", fmt.Errorf("backend %q has no address to probe", b.ID())
	}
	return scheme + "://" + host + c.cfg.Path, nil
}

// Probe sends one health request to b and returns nil if it answered with
// an expected status within Timeout. It does not change b's health.
func (c *Checker) Probe(ctx context.Context, b *Backend) error {
	target, err := c.URL(b)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("health probe of backend %q: build request for %s: %w", b.ID(), target, err)
	}
	if c.cfg.Host != "" {
		req.Host = c.cfg.Host
	}
	req.Header.Set("User-Agent", "selfcdn-health-check/1")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("health probe of backend %q: %w", b.ID(), err)
	}
	// Read a bounded amount so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < c.cfg.StatusMin || resp.StatusCode > c.cfg.StatusMax {
		return fmt.Errorf("health probe of backend %q: GET %s: status %d outside %d-%d",
			b.ID(), target, resp.StatusCode, c.cfg.StatusMin, c.cfg.StatusMax)
	}
	return nil
}
