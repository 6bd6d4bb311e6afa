package origin

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http/httpguts"
)

// DefaultFileCacheControl is the Cache-Control sent with files when
// Config.FileCacheControl is empty.
const DefaultFileCacheControl = "public, max-age=60"

// NoCacheControl as Config.FileCacheControl sends files without Cache-Control.
const NoCacheControl = "none"

// Config configures a Server. The zero value serves the embedded demo site
// and synthetic objects with the documented defaults.
type Config struct {
	// Root is the directory whose files are served. If empty, the embedded
	// demo site is served.
	Root string
	// FileCacheControl is the Cache-Control value sent with files. If
	// empty, DefaultFileCacheControl is used; NoCacheControl sends none.
	FileCacheControl string
	// MaxSize is the largest size= a synthetic object may have. If 0,
	// DefaultMaxGenSize (8 GiB) is used.
	MaxSize int64
	// DigestCacheSize is how many Repr-Digest values are remembered. If 0,
	// DefaultDigestCacheSize is used.
	DigestCacheSize int
	// Logger receives errors and debug events. If nil, nothing is logged.
	Logger *slog.Logger
	// Registerer receives the server's metrics. If nil, no metrics are kept.
	// Servers sharing one registry each need it wrapped with a distinct
	// value of the same label (prometheus.WrapRegistererWith).
	Registerer prometheus.Registerer
	// Now is the clock used for Date, Expires and the time a seed was set.
	// If nil, time.Now is used.
	Now func() time.Time
}

// Validate reports every problem in c, each naming its field.
func (c Config) Validate() error {
	var errs []error
	if strings.ContainsRune(c.Root, 0) {
		errs = append(errs, fieldError("Root", "%q contains a NUL byte", c.Root))
	}
	if c.FileCacheControl != "" && !httpguts.ValidHeaderFieldValue(c.FileCacheControl) {
		errs = append(errs, fieldError("FileCacheControl", "%q is not a valid header field value", c.FileCacheControl))
	}
	if c.MaxSize < 0 {
		errs = append(errs, fieldError("MaxSize", "%d is negative", c.MaxSize))
	}
	if c.DigestCacheSize < 0 {
		errs = append(errs, fieldError("DigestCacheSize", "%d is negative", c.DigestCacheSize))
	}
	return errors.Join(errs...)
}

// fieldError is a configuration problem prefixed with its field path.
func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
}
