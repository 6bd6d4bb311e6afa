package origin

import (
	"net/http"
	"strings"
	"time"
)

// precondition is the outcome of evaluating a request's conditional header
// fields against the selected representation (RFC 9110 §13.2.2).
type precondition int

const (
	// proceed: every precondition held (or none was sent); respond normally.
	proceed precondition = iota
	// notModified: respond 304 (RFC 9110 §15.4.5).
	notModified
	// preconditionFailed: respond 412 (RFC 9110 §15.5.13).
	preconditionFailed
)

// evalPreconditions applies steps 1 to 4 of RFC 9110 §13.2.2 for a request
// with the given method and header to a representation with the given strong
// entity tag (quoted; "" if none) and last modification time (zero if none).
// Step 5 (If-Range) is evalIfRange's.
func evalPreconditions(method string, h http.Header, etag string, lastModified time.Time) precondition {
	getOrHead := method == http.MethodGet || method == http.MethodHead
	// Step 1: If-Match (§13.1.1), strong comparison.
	if im, ok := h["If-Match"]; ok {
		if !matchETags(im, etag, false) {
			return preconditionFailed
		}
	} else if ius, ok := singleDate(h["If-Unmodified-Since"]); ok && !lastModified.IsZero() {
		// Step 2: If-Unmodified-Since (§13.1.4), only without If-Match.
		if lastModified.Unix() > ius.Unix() {
			return preconditionFailed
		}
	}
	// Step 3: If-None-Match (§13.1.2), weak comparison.
	if inm, ok := h["If-None-Match"]; ok {
		if matchETags(inm, etag, true) {
			if getOrHead {
				return notModified
			}
			return preconditionFailed
		}
		return proceed
	}
	// Step 4: If-Modified-Since (§13.1.3), only GET and HEAD, only without
	// If-None-Match.
	if getOrHead && !lastModified.IsZero() {
		if ims, ok := singleDate(h["If-Modified-Since"]); ok && lastModified.Unix() <= ims.Unix() {
			return notModified
		}
	}
	return proceed
}

// hasPreconditions reports whether a request carries any of the header
// fields evalPreconditions looks at.
func hasPreconditions(h http.Header) bool {
	for _, k := range [...]string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// evalIfRange reports whether a Range request may be honoured given its
// If-Range field values (RFC 9110 §13.1.5): true when there is no If-Range,
// or it is a strong entity tag equal to etag, or an HTTP-date exactly equal to
// lastModified. Anything else, a weak tag included, means "send it all".
func evalIfRange(values []string, etag string, lastModified time.Time) bool {
	if len(values) == 0 {
		return true
	}
	if len(values) > 1 {
		return false
	}
	v := strings.TrimSpace(values[0])
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		tag, weak, rest, ok := scanETag(v)
		return ok && !weak && strings.TrimSpace(rest) == "" && etag != "" && tag == etag
	}
	t, err := http.ParseTime(v)
	return err == nil && !lastModified.IsZero() && t.Unix() == lastModified.Unix()
}

// singleDate parses a header that must hold exactly one HTTP-date. A field
// that is absent, repeated or invalid is ignored (RFC 9110 §13.1.3, §13.1.4).
func singleDate(values []string) (time.Time, bool) {
	if len(values) != 1 {
		return time.Time{}, false
	}
	t, err := http.ParseTime(strings.TrimSpace(values[0]))
	return t, err == nil
}

// matchETags reports whether any entity tag in an If-Match or If-None-Match
// field (all its lines) matches etag, using the weak comparison function when
// weak is true and the strong one otherwise (RFC 9110 §8.8.3.2). "*" matches
// whenever a current representation exists. A malformed member ends the
// scan of its line: what could be parsed before it still counts.
func matchETags(values []string, etag string, weak bool) bool {
	if etag == "" {
		return false
	}
	for _, line := range values {
		rest := line
		// Each pass consumes at least one byte or stops.
		for {
			rest = strings.TrimLeft(rest, " \t,")
			if rest == "" {
				break
			}
			if rest[0] == '*' {
				return true
			}
			tag, isWeak, r, ok := scanETag(rest)
			if !ok {
				break
			}
			if tag == etag && (weak || !isWeak) {
				return true
			}
			rest = r
		}
	}
	return false
}

// scanETag reads one entity-tag (RFC 9110 §8.8.3) at the start of s and
// returns its opaque-tag with the quotes, whether it was weak, and the rest.
func scanETag(s string) (tag string, weak bool, rest string, ok bool) {
	if strings.HasPrefix(s, "W/") {
		weak = true
		s = s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return "", false, s, false
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", false, s, false
	}
	tag = s[:end+2]
	for i := 1; i < len(tag)-1; i++ {
		// etagc = %x21 / %x23-7E / obs-text
		if c := tag[i]; c < 0x21 || c == 0x7f {
			return "", false, s, false
		}
	}
	return tag, weak, s[end+2:], true
}
