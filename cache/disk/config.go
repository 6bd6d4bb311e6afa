package disk

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the optional Config fields.
const (
	// DefaultVerifyMax is the largest body verified in full by the first
	// Get after a start.
	DefaultVerifyMax = 1 << 20
	// DefaultDegradeAfter is how many I/O failures in a row make the store
	// refuse writes for a cool-down.
	DefaultDegradeAfter = 5
	// DefaultDegradeFor is that cool-down.
	DefaultDegradeFor = 30 * time.Second
)

// Config describes a disk store. The zero value of every field except Dir
// and MaxBytes is usable.
type Config struct {
	// Dir is the store's folder, created if missing. The store owns it: a
	// folder that is neither empty nor an earlier store is refused.
	Dir string
	// MaxBytes bounds the bytes of the store's files on disk (each file's
	// size rounded up to 4 KiB). Required.
	MaxBytes int64
	// MaxObject is the largest body stored; 0 means MaxBytes/8.
	MaxObject int64
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers none. Wrap
	// it with prometheus.WrapRegistererWith to add node labels when
	// several stores share one registry.
	Registerer prometheus.Registerer
	// Now is the clock for the degraded cool-down and log rate limits;
	// nil means time.Now.
	Now func() time.Time

	// Sync makes Commit, SetMarker and UpdateHead fsync files before
	// renaming them into place. Off by default: a killed process loses
	// nothing that was written (the page cache survives it), and after a
	// power cut every body is verified before it is served (see README).
	// Sync only makes more of the last writes survive a power cut.
	Sync bool
	// VerifyMax is the largest body that the first Get after a start
	// verifies in full before returning it; larger bodies are verified as
	// they are read. 0 means DefaultVerifyMax; negative means none.
	VerifyMax int64
	// DegradeAfter is how many I/O failures in a row make the store
	// refuse writes for DegradeFor. 0 means DefaultDegradeAfter; negative
	// disables degrading.
	DegradeAfter int
	// DegradeFor is the cool-down. 0 means DefaultDegradeFor.
	DegradeFor time.Duration
}

// Validate reports every problem of cfg, each naming its field.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if cfg.Dir == "" {
		add("Dir", "required")
	}
	if cfg.MaxBytes <= 0 {
		add("MaxBytes", "must be positive, got %d", cfg.MaxBytes)
	}
	if cfg.MaxObject < 0 {
		add("MaxObject", "must not be negative, got %d", cfg.MaxObject)
	} else if cfg.MaxBytes > 0 && cfg.MaxObject > cfg.MaxBytes {
		add("MaxObject", "must not exceed MaxBytes (%d), got %d", cfg.MaxBytes, cfg.MaxObject)
	}
	if cfg.DegradeFor < 0 {
		add("DegradeFor", "must not be negative, got %s", cfg.DegradeFor)
	}
	return errors.Join(errs...)
}

// withDefaults returns cfg with zero fields filled in.
func (cfg Config) withDefaults() Config {
	if cfg.MaxObject == 0 {
		cfg.MaxObject = cfg.MaxBytes / 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.VerifyMax == 0 {
		cfg.VerifyMax = DefaultVerifyMax
	}
	if cfg.DegradeAfter == 0 {
		cfg.DegradeAfter = DefaultDegradeAfter
	}
	if cfg.DegradeFor == 0 {
		cfg.DegradeFor = DefaultDegradeFor
	}
	return cfg
}
