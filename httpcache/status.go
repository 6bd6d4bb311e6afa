package httpcache

import (
	"strconv"
	"strings"
)

// Values of Status.Fwd (RFC 9211 §2.2).
const (
	FwdBypass   = "bypass"
	FwdMethod   = "method"
	FwdURIMiss  = "uri-miss"
	FwdVaryMiss = "vary-miss"
	FwdMiss     = "miss"
	FwdRequest  = "request"
	FwdStale    = "stale"
	FwdPartial  = "partial"
)

// Status is one cache's member of the Cache-Status field (RFC 9211 §2).
type Status struct {
	Cache     string // the cache's name: an sf-token when valid, else an sf-string
	Hit       bool   // hit (§2.1)
	Fwd       string // fwd (§2.2), one of the Fwd constants; "" to omit
	FwdStatus int    // fwd-status (§2.3); 0 to omit
	TTL       *int64 // ttl in seconds, negative when stale (§2.4); nil to omit
	Stored    bool   // stored (§2.5)
	Collapsed bool   // collapsed (§2.6)
	Key       string // key (§2.7), an sf-string; "" to omit
	Detail    string // detail (§2.8): an sf-token when valid, else an sf-string; "" to omit
}

// maxSFInteger bounds an sf-integer (RFC 8941 §3.3.1).
const maxSFInteger = 999_999_999_999_999

// String serializes s as a Structured Field List member (RFC 8941 §4.1.1),
// e.g. `edge-1; hit; ttl=42` or `edge-1; fwd=stale; fwd-status=304; ttl=30;
// stored`. Parameters come in the order hit, fwd, fwd-status, ttl,
// collapsed, stored, key, detail, as in the RFC's examples (§3).
func (s Status) String() string {
	b := make([]byte, 0, 64)
	b = appendTokenOrString(b, s.Cache)
	if s.Hit {
		b = append(b, "; hit"...)
	}
	if s.Fwd != "" {
		b = append(b, "; fwd="...)
		b = appendTokenOrString(b, s.Fwd)
	}
	if s.FwdStatus != 0 {
		b = append(b, "; fwd-status="...)
		b = strconv.AppendInt(b, clampSF(int64(s.FwdStatus)), 10)
	}
	if s.TTL != nil {
		b = append(b, "; ttl="...)
		b = strconv.AppendInt(b, clampSF(*s.TTL), 10)
	}
	if s.Collapsed {
		b = append(b, "; collapsed"...)
	}
	if s.Stored {
		b = append(b, "; stored"...)
	}
	if s.Key != "" {
		b = append(b, "; key="...)
		b = appendSFString(b, s.Key)
	}
	if s.Detail != "" {
		b = append(b, "; detail="...)
		b = appendTokenOrString(b, s.Detail)
	}
	return string(b)
}

func clampSF(v int64) int64 {
	return min(max(v, -maxSFInteger), maxSFInteger)
}

// isSFToken reports whether s is an sf-token: ALPHA or "*", then tchar, ":"
// or "/" (RFC 8941 §3.3.4).
func isSFToken(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isTchar(c) && c != ':' && c != '/' {
			return false
		}
	}
	return true
}

func appendTokenOrString(b []byte, s string) []byte {
	if isSFToken(s) {
		return append(b, s...)
	}
	return appendSFString(b, s)
}

// appendSFString appends s as an sf-string (RFC 8941 §4.1.6): '"' and '\'
// escaped; bytes outside printable ASCII, which an sf-string cannot carry,
// replaced by '?'.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// AppendCacheStatus returns the Cache-Status field value existing (the
// upstream's, "" if none) with s appended as its last member: the cache
// closest to the user comes last (RFC 9211 §2).
func AppendCacheStatus(existing string, s Status) string {
	existing = strings.TrimRight(trimOWS(existing), ", \t")
	if existing == "" {
		return s.String()
	}
	return existing + ", " + s.String()
}
