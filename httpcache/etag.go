package httpcache

import "strings"

// ETag is a parsed entity-tag (RFC 9110 §8.8.3).
type ETag struct {
	Opaque string // the opaque-tag without its quotes
	Weak   bool   // the W/ prefix was present
}

// String returns the entity-tag in its field form, e.g. W/"xyzzy".
func (t ETag) String() string {
	if t.Weak {
		return `W/"` + t.Opaque + `"`
	}
	return `"` + t.Opaque + `"`
}

// ParseETag parses a single entity-tag such as "xyzzy" or W/"xyzzy",
// surrounded by optional whitespace.
func ParseETag(s string) (ETag, bool) {
	t, rest, ok := scanETag(trimOWS(s))
	if !ok || rest != "" {
		return ETag{}, false
	}
	return t, true
}

// scanETag reads one entity-tag at the start of s and returns the rest.
func scanETag(s string) (t ETag, rest string, ok bool) {
	if strings.HasPrefix(s, "W/") {
		t.Weak = true
		s = s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return ETag{}, s, false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			t.Opaque = s[1:i]
			return t, s[i+1:], true
		case c == 0x21 || (0x23 <= c && c <= 0x7e) || c >= 0x80:
		default:
			return ETag{}, s, false
		}
	}
	return ETag{}, s, false
}

// StrongMatch reports whether two entity-tags are equal under strong
// comparison: neither is weak and their opaque-tags are identical (RFC 9110
// §8.8.3.2).
func StrongMatch(a, b string) bool {
	x, ok1 := ParseETag(a)
	y, ok2 := ParseETag(b)
	return ok1 && ok2 && !x.Weak && !y.Weak && x.Opaque == y.Opaque
}

// WeakMatch reports whether two entity-tags are equal under weak comparison:
// their opaque-tags are identical, whether or not either is weak (RFC 9110
// §8.8.3.2).
func WeakMatch(a, b string) bool {
	x, ok1 := ParseETag(a)
	y, ok2 := ParseETag(b)
	return ok1 && ok2 && x.Opaque == y.Opaque
}

// ETagListMatch reports whether the field lines of an If-Match or
// If-None-Match field match the current entity-tag etag, using strong or
// weak comparison. "*" matches any current representation (RFC 9110
// §13.1.1, §13.1.2). Parsing stops at the first malformed member; members
// before it still count.
func ETagListMatch(lines []string, etag string, strong bool) bool {
	cur, curOK := ParseETag(etag)
	for _, s := range lines {
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			if s[0] == '*' {
				return true
			}
			t, rest, ok := scanETag(s)
			if !ok {
				break
			}
			if curOK && t.Opaque == cur.Opaque && (!strong || (!t.Weak && !cur.Weak)) {
				return true
			}
			s = rest
		}
	}
	return false
}
