package httpcache

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CacheControl is a parsed Cache-Control or CDN-Cache-Control field
// (RFC 9111 §5.2, RFC 9213 §2). Durations are -1 when the directive is absent.
// ParseCacheControl is the only way to get a correct one; the zero value has
// every duration at 0, which means "present with value 0".
type CacheControl struct {
	// MaxAge is max-age (§5.2.1.1 request, §5.2.2.1 response).
	MaxAge time.Duration
	// SMaxAge is s-maxage (§5.2.2.10).
	SMaxAge time.Duration
	// MaxStale is max-stale with a value (§5.2.1.2).
	MaxStale time.Duration
	// MinFresh is min-fresh (§5.2.1.3).
	MinFresh time.Duration
	// StaleWhileRevalidate is stale-while-revalidate (RFC 5861 §3).
	StaleWhileRevalidate time.Duration
	// StaleIfError is stale-if-error (RFC 5861 §4).
	StaleIfError time.Duration

	// MaxStaleAny is max-stale without a value: any staleness is accepted
	// (§5.2.1.2).
	MaxStaleAny bool

	NoStore         bool // no-store (§5.2.1.5, §5.2.2.5)
	NoCache         bool // unqualified no-cache (§5.2.1.4, §5.2.2.4)
	Private         bool // unqualified private (§5.2.2.7)
	Public          bool // public (§5.2.2.9)
	MustRevalidate  bool // must-revalidate (§5.2.2.2)
	ProxyRevalidate bool // proxy-revalidate (§5.2.2.8)
	MustUnderstand  bool // must-understand (§5.2.2.3)
	NoTransform     bool // no-transform (§5.2.1.6, §5.2.2.6)
	OnlyIfCached    bool // only-if-cached (§5.2.1.7)
	Immutable       bool // immutable (RFC 8246)

	// NoCacheFields lists the canonical field names of qualified no-cache
	// (no-cache="Set-Cookie"), in order of appearance.
	NoCacheFields []string
	// PrivateFields lists the canonical field names of qualified private.
	PrivateFields []string

	// Invalid is set when max-age or s-maxage has an invalid value (missing,
	// non-integer, negative): such a response is to be treated as stale
	// (§4.2.1). Invalid values of the other duration directives make them
	// count as absent.
	Invalid bool

	// Extensions holds unknown directives by lower-cased name with their
	// unquoted values ("" when valueless); nil if there are none (§5.2.3).
	Extensions map[string]string
}

// emptyControl returns a CacheControl with every directive absent.
func emptyControl() CacheControl {
	return CacheControl{
		MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1,
		StaleWhileRevalidate: -1, StaleIfError: -1,
	}
}

// Bits for the directives whose first occurrence wins (§4.2.1).
const (
	seenMaxAge = 1 << iota
	seenSMaxAge
	seenMaxStale
	seenMinFresh
	seenSWR
	seenSIE
)

// ParseCacheControl parses the field lines of a Cache-Control (or
// CDN-Cache-Control) field. Directive names are case-insensitive; arguments
// may be tokens or quoted-strings and follow "=" without whitespace (§5.2);
// when a directive with an argument repeats, its first occurrence wins,
// valid or not (§4.2.1); unparseable fragments are skipped. It never panics and, for a typical
// response field, does not allocate.
func ParseCacheControl(values []string) CacheControl {
	cc := emptyControl()
	var seen uint8
	for _, v := range values {
		for i := 0; i < len(v); {
			var name, val string
			var hasVal, escaped bool
			name, val, hasVal, escaped, i = nextDirective(v, i)
			if name == "" {
				continue
			}
			if escaped {
				val = unquote(val)
			}
			cc.apply(name, val, hasVal, &seen)
		}
	}
	return cc
}

// nextDirective scans the directive starting at or after s[i]. It returns an
// empty name for separators and junk. val is the raw argument: for a
// quoted-string, the text between the quotes with escapes still in place
// (escaped reports whether there are any).
func nextDirective(s string, i int) (name, val string, hasVal, escaped bool, next int) {
	for i < len(s) && (s[i] == ',' || isOWS(s[i])) {
		i++
	}
	start := i
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	name = s[start:i]
	if name == "" {
		return "", "", false, false, skipToComma(s, i)
	}
	// The argument follows "=" directly: cache-directive = token [ "="
	// ( token / quoted-string ) ] (RFC 9111 §5.2) has no whitespace around
	// "=", so "max-age =60" is max-age without an argument and "max-age=
	// 60" max-age with an empty one, both invalid.
	j := i
	if j < len(s) && s[j] == '=' {
		hasVal = true
		j++
		if j < len(s) && s[j] == '"' {
			j++
			vs := j
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' && j+1 < len(s) {
					escaped = true
					j++
				}
				j++
			}
			val = s[vs:j]
			if j < len(s) {
				j++ // closing quote
			}
		} else {
			vs := j
			for j < len(s) && s[j] != ',' && !isOWS(s[j]) {
				j++
			}
			val = s[vs:j]
		}
		i = j
	}
	return name, val, hasVal, escaped, skipToComma(s, i)
}

// skipToComma returns the index just past the next comma that is not inside
// a quoted-string, or len(s).
func skipToComma(s string, i int) int {
	inQuote := false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return i + 1
		}
	}
	return i
}

// unquote removes quoted-pair escapes (RFC 9110 §5.6.4).
func unquote(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// apply records one directive.
func (cc *CacheControl) apply(name, val string, hasVal bool, seen *uint8) {
	var buf [24]byte
	if len(name) <= len(buf) {
		n := copy(buf[:], name)
		for k := 0; k < n; k++ {
			if 'A' <= buf[k] && buf[k] <= 'Z' {
				buf[k] += 'a' - 'A'
			}
		}
		switch string(buf[:n]) {
		case "max-age":
			cc.setDelta(&cc.MaxAge, seenMaxAge, val, hasVal, true, seen)
		case "s-maxage":
			cc.setDelta(&cc.SMaxAge, seenSMaxAge, val, hasVal, true, seen)
		case "min-fresh":
			cc.setDelta(&cc.MinFresh, seenMinFresh, val, hasVal, false, seen)
		case "stale-while-revalidate":
			cc.setDelta(&cc.StaleWhileRevalidate, seenSWR, val, hasVal, false, seen)
		case "stale-if-error":
			cc.setDelta(&cc.StaleIfError, seenSIE, val, hasVal, false, seen)
		case "max-stale":
			if *seen&seenMaxStale != 0 {
				return
			}
			*seen |= seenMaxStale
			if !hasVal {
				cc.MaxStaleAny = true
				return
			}
			if secs, ok := parseDeltaSeconds(val); ok {
				cc.MaxStale = time.Duration(secs) * time.Second
			}
		case "no-store":
			cc.NoStore = true
		case "no-cache":
			if fields, ok := fieldList(val, hasVal, cc.NoCacheFields); ok {
				cc.NoCacheFields = fields
			} else {
				cc.NoCache = true
			}
		case "private":
			if fields, ok := fieldList(val, hasVal, cc.PrivateFields); ok {
				cc.PrivateFields = fields
			} else {
				cc.Private = true
			}
		case "public":
			cc.Public = true
		case "must-revalidate":
			cc.MustRevalidate = true
		case "proxy-revalidate":
			cc.ProxyRevalidate = true
		case "must-understand":
			cc.MustUnderstand = true
		case "no-transform":
			cc.NoTransform = true
		case "only-if-cached":
			cc.OnlyIfCached = true
		case "immutable":
			cc.Immutable = true
		default:
			cc.addExtension(name, val)
		}
		return
	}
	cc.addExtension(name, val)
}

// setDelta records a delta-seconds directive if it is its first occurrence.
// An invalid value sets Invalid when the directive governs freshness.
func (cc *CacheControl) setDelta(dst *time.Duration, bit uint8, val string, hasVal, freshness bool, seen *uint8) {
	if *seen&bit != 0 {
		return
	}
	*seen |= bit
	secs, ok := parseDeltaSeconds(val)
	if !hasVal || !ok {
		if freshness {
			cc.Invalid = true
		}
		return
	}
	*dst = time.Duration(secs) * time.Second
}

// fieldList parses the argument of qualified no-cache or private into
// canonical field names appended to dst. ok is false when the directive is
// unqualified or lists no valid field name: then it is treated as the
// unqualified, more restrictive form.
func fieldList(val string, hasVal bool, dst []string) ([]string, bool) {
	if !hasVal {
		return dst, false
	}
	n := len(dst)
	for val != "" {
		var f string
		if i := strings.IndexByte(val, ','); i >= 0 {
			f, val = val[:i], val[i+1:]
		} else {
			f, val = val, ""
		}
		if f = trimOWS(f); isToken(f) {
			dst = append(dst, http.CanonicalHeaderKey(f))
		}
	}
	return dst, len(dst) > n
}

func (cc *CacheControl) addExtension(name, val string) {
	name = lowerASCII(name)
	if _, dup := cc.Extensions[name]; dup {
		return
	}
	if cc.Extensions == nil {
		cc.Extensions = make(map[string]string, 1)
	}
	cc.Extensions[name] = val
}

// String returns the canonical serialization of cc: known directives in a
// fixed order, then extensions sorted by name. Parsing the result yields cc
// again.
func (cc CacheControl) String() string {
	var b strings.Builder
	sep := func() {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
	}
	delta := func(name string, d time.Duration) {
		if d < 0 {
			return
		}
		sep()
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(int64(d/time.Second), 10))
	}
	flag := func(name string, on bool) {
		if on {
			sep()
			b.WriteString(name)
		}
	}
	fields := func(name string, f []string) {
		if len(f) == 0 {
			return
		}
		sep()
		b.WriteString(name)
		b.WriteString(`="`)
		for i, x := range f {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuotedContent(&b, x)
		}
		b.WriteByte('"')
	}
	if cc.Invalid {
		// Keep the "invalid freshness" fact through a round trip.
		if cc.MaxAge < 0 {
			sep()
			b.WriteString("max-age=invalid")
		} else if cc.SMaxAge < 0 {
			sep()
			b.WriteString("s-maxage=invalid")
		}
	}
	delta("max-age", cc.MaxAge)
	delta("s-maxage", cc.SMaxAge)
	if cc.MaxStaleAny {
		flag("max-stale", true)
	} else {
		delta("max-stale", cc.MaxStale)
	}
	delta("min-fresh", cc.MinFresh)
	delta("stale-while-revalidate", cc.StaleWhileRevalidate)
	delta("stale-if-error", cc.StaleIfError)
	flag("no-store", cc.NoStore)
	flag("no-cache", cc.NoCache)
	fields("no-cache", cc.NoCacheFields)
	flag("private", cc.Private)
	fields("private", cc.PrivateFields)
	flag("public", cc.Public)
	flag("must-revalidate", cc.MustRevalidate)
	flag("proxy-revalidate", cc.ProxyRevalidate)
	flag("must-understand", cc.MustUnderstand)
	flag("no-transform", cc.NoTransform)
	flag("only-if-cached", cc.OnlyIfCached)
	flag("immutable", cc.Immutable)
	if len(cc.Extensions) > 0 {
		names := make([]string, 0, len(cc.Extensions))
		for k := range cc.Extensions {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !isToken(k) {
				continue
			}
			sep()
			b.WriteString(k)
			if v := cc.Extensions[k]; v != "" {
				b.WriteByte('=')
				if isToken(v) {
					b.WriteString(v)
				} else {
					b.WriteByte('"')
					writeQuotedContent(&b, v)
					b.WriteByte('"')
				}
			}
		}
	}
	return b.String()
}

// writeQuotedContent writes s escaping '"' and '\' as quoted-pairs.
func writeQuotedContent(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
}
