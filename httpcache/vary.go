package httpcache

import (
	"net/http"
	"sort"
	"strings"
)

// VaryAbsent is the value VaryValues reports for a request field that is
// absent, distinct from every value a present field can normalise to (field
// values cannot contain NUL, RFC 9110 §5.5).
const VaryAbsent = "\x00"

// VaryFields returns the request fields named by the response's Vary field
// (RFC 9111 §4.1): every field line, comma-split, canonicalised,
// deduplicated and sorted. star reports a "*" member, which means no stored
// response can ever be selected.
func VaryFields(resp http.Header) (fields []string, star bool) {
	for _, line := range resp["Vary"] {
		for line != "" {
			var f string
			if i := strings.IndexByte(line, ','); i >= 0 {
				f, line = line[:i], line[i+1:]
			} else {
				f, line = line, ""
			}
			f = trimOWS(f)
			if f == "*" {
				star = true
				continue
			}
			if !isToken(f) {
				continue
			}
			f = http.CanonicalHeaderKey(f)
			dup := false
			for _, x := range fields {
				if x == f {
					dup = true
					break
				}
			}
			if !dup {
				fields = append(fields, f)
			}
		}
	}
	sort.Strings(fields)
	return fields, star
}

// VaryValues returns, for each named request field, its normalised value for
// a secondary cache key (RFC 9111 §4.1): all field lines combined, list
// members trimmed and joined with ", ", runs of whitespace outside
// quoted-strings collapsed to one space, empty members dropped.
// Accept-Language gets NormalizeAcceptLanguage's canonical form (case,
// order, whitespace and weights) when it is well-formed. An absent field
// yields VaryAbsent; a present but empty one yields "".
func VaryValues(fields []string, req http.Header) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		vals := req[http.CanonicalHeaderKey(f)]
		if len(vals) == 0 {
			out[i] = VaryAbsent
			continue
		}
		if f == "Accept-Language" || http.CanonicalHeaderKey(f) == "Accept-Language" {
			if norm, ok := NormalizeAcceptLanguage(vals); ok {
				out[i] = norm
				continue
			}
		}
		out[i] = normalizeFieldValue(vals)
	}
	return out
}

// normalizeFieldValue combines field lines as a list (RFC 9110 §5.3) and
// removes the whitespace the list syntax allows (§5.6.1).
func normalizeFieldValue(lines []string) string {
	if len(lines) == 1 && isNormalized(lines[0]) {
		return lines[0]
	}
	var b strings.Builder
	for _, line := range lines {
		inQuote := false
		start := 0
		for i := 0; i <= len(line); i++ {
			if i < len(line) {
				c := line[i]
				if inQuote && c == '\\' {
					if i+1 < len(line) {
						i++
					}
					continue
				}
				if c == '"' {
					inQuote = !inQuote
				}
				if c != ',' || inQuote {
					continue
				}
			}
			writeMember(&b, line[start:i])
			start = i + 1
		}
	}
	return b.String()
}

// writeMember appends one list member, trimmed and with whitespace runs
// outside quoted-strings collapsed, preceded by ", " unless it is the first.
// Empty members are dropped.
func writeMember(b *strings.Builder, m string) {
	if m = trimOWS(m); m == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteString(", ")
	}
	inQuote, space := false, false
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case inQuote:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(m) {
				i++
				b.WriteByte(m[i])
			} else if c == '"' {
				inQuote = false
			}
		case isOWS(c):
			space = true
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			if c == '"' {
				inQuote = true
			}
			b.WriteByte(c)
		}
	}
}

// isNormalized reports whether a single field line is already in normal
// form: no quotes, no leading or trailing whitespace, single spaces, and
// every comma followed by exactly one space and a non-empty member.
func isNormalized(s string) bool {
	if s == "" {
		return true
	}
	if isOWS(s[0]) || isOWS(s[len(s)-1]) || s[0] == ',' || s[len(s)-1] == ',' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\t':
			return false
		case ' ':
			if s[i+1] == ' ' || s[i+1] == ',' {
				return false
			}
		case ',':
			if s[i+1] != ' ' || i+2 >= len(s) || s[i+2] == ' ' || s[i+2] == ',' {
				return false
			}
		}
	}
	return true
}
