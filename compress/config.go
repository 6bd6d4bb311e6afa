package compress

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// DefaultMinSize is the smallest response compressed when Config.MinSize is
// zero: below about 256 bytes, a coding's headers and the lost
// incompressible tail save little or nothing, and a TCP segment carries the
// response either way.
const DefaultMinSize = 256

// Config says what the edge compresses and how. It is plain data; the zero
// value is the default configuration.
type Config struct {
	// MinSize is the smallest content length, in bytes, worth compressing.
	// Zero means DefaultMinSize (256); set 1 to compress any non-empty
	// response.
	MinSize int64
	// MaxSize is the largest content length compressed; zero means no
	// limit. Bigger responses are served as they are, which bounds the CPU
	// one miss can cost.
	MaxSize int64
	// Types lists the media types worth compressing: "type/subtype",
	// "type/*" or "+suffix" entries (see DefaultTypes), compared
	// case-insensitively. If nil, DefaultTypes() is used; an empty non-nil
	// list compresses nothing.
	Types []string
	// Encodings are the codings offered to clients, in order of preference.
	// If nil, DefaultOffer() (br, zstd, gzip) is used.
	Encodings []Encoding
	// Levels maps a coding to its level; a missing coding uses
	// DefaultLevelOf. Every node of a cluster must use the same levels (see
	// VariantETag).
	Levels map[Encoding]Level
}

// Offer returns the codings offered, in order of preference.
func (c *Config) Offer() []Encoding {
	if c.Encodings == nil {
		return defaultOffer[:]
	}
	return c.Encodings
}

// Level returns the level to compress with enc.
func (c *Config) Level(enc Encoding) Level {
	if l, ok := c.Levels[enc]; ok && l != DefaultLevel {
		return l
	}
	return DefaultLevelOf(enc)
}

func (c *Config) minSize() int64 {
	if c.MinSize == 0 {
		return DefaultMinSize
	}
	return c.MinSize
}

// Validate reports every problem of c, each prefixed with its field path
// (min_size, max_size, types[i], encodings[i], levels.<coding>), joined with
// errors.Join; nil if c is usable.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.MinSize < 0 {
		add("min_size", "%d is negative", c.MinSize)
	}
	if c.MaxSize < 0 {
		add("max_size", "%d is negative", c.MaxSize)
	}
	if c.MaxSize > 0 && c.MaxSize < c.minSize() {
		add("max_size", "%d is below min_size %d: nothing would be compressed", c.MaxSize, c.minSize())
	}
	for i, t := range c.Types {
		if !validTypeEntry(t) {
			add(fmt.Sprintf("types[%d]", i), "%q is not type/subtype, type/* or +suffix", t)
		}
	}
	seen := map[Encoding]bool{}
	for i, e := range c.Encodings {
		p := fmt.Sprintf("encodings[%d]", i)
		switch {
		case e == Identity:
			add(p, "identity is always available and is not offered")
		case !e.Known():
			add(p, "%q is not a coding the edge produces (br, zstd, gzip)", string(e))
		case seen[e]:
			add(p, "%s listed twice", e)
		}
		seen[e] = true
	}
	for _, e := range slices.Sorted(maps.Keys(c.Levels)) {
		l := c.Levels[e]
		p := "levels." + e.String()
		switch {
		case e == Identity || !e.Known():
			add(p, "%q is not a coding the edge produces (br, zstd, gzip)", string(e))
		case l != DefaultLevel && !offered(e, l):
			add(p, "level %d is not offered for %s (offered: %v)", l, e, Levels(e))
		}
	}
	return errors.Join(errs...)
}

func offered(e Encoding, l Level) bool {
	for _, x := range Levels(e) {
		if x == l {
			return true
		}
	}
	return false
}

// validTypeEntry reports whether t is a usable Types entry.
func validTypeEntry(t string) bool {
	switch {
	case strings.HasPrefix(t, "+"):
		if len(t) == 1 {
			return false
		}
		for i := 1; i < len(t); i++ {
			if !isTchar(t[i]) {
				return false
			}
		}
		return true
	case strings.HasSuffix(t, "/*"):
		return validMediaType(t[:len(t)-1] + "x")
	}
	return validMediaType(t)
}
