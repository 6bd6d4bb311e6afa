package compress

import "strings"

// variantSuffix is what VariantETag appends to the opaque-tag, per coding.
// If an upgrade of the encoders changes their output for the same input and
// level (TestGoldenOutput fails), these must change too, for instance to
// "-br.2", so that no entity-tag names two different byte sequences.
var variantSuffix = [...]struct {
	enc    Encoding
	suffix string
}{
	{Brotli, "-br"},
	{Zstd, "-zstd"},
	{Gzip, "-gzip"},
}

// VariantETag returns the entity-tag of the enc-coded variant of a
// representation whose entity-tag is etag: "abc" becomes "abc-br" and
// W/"abc" becomes W/"abc-br". With Identity, etag is returned unchanged; for
// an empty or malformed etag, or an unknown coding, the result is "" and the
// variant goes without an entity-tag.
//
// A content coding is part of the representation data, so a coded variant
// needs an entity-tag distinct from the unencoded one (RFC 9110 §8.8.3.3).
// The variant keeps the strength of the original: the encoders are
// deterministic (single-threaded, fixed level, no timestamps; tested), so
// every node of one build, configured with the same levels, produces the same
// bytes under the same tag, and If-Range can safely resume a download from
// another node. Every node must therefore use the same Config.Levels.
func VariantETag(etag string, enc Encoding) string {
	if enc == Identity {
		return etag
	}
	suffix := ""
	for _, v := range variantSuffix {
		if v.enc == enc {
			suffix = v.suffix
		}
	}
	weak, opaque, ok := parseETag(etag)
	if suffix == "" || !ok {
		return ""
	}
	if weak {
		return `W/"` + opaque + suffix + `"`
	}
	return `"` + opaque + suffix + `"`
}

// OriginalETag maps an entity-tag made by VariantETag back to the original
// entity-tag and the coding: "abc-br" gives ("abc", Brotli). Any other
// entity-tag is returned unchanged with Identity. The edge uses it to carry
// a client's precondition upstream, where only the original tags are known.
// An origin tag that happens to end in "-br" is mistaken for a variant's;
// the upstream comparison then fails and the origin sends a full response,
// which costs bytes but is never wrong.
func OriginalETag(variantETag string) (string, Encoding) {
	weak, opaque, ok := parseETag(variantETag)
	if !ok {
		return variantETag, Identity
	}
	for _, v := range variantSuffix {
		if o, found := strings.CutSuffix(opaque, v.suffix); found {
			if weak {
				return `W/"` + o + `"`, v.enc
			}
			return `"` + o + `"`, v.enc
		}
	}
	return variantETag, Identity
}

// OriginalETags rewrites the members of If-Match or If-None-Match field
// lines with OriginalETag, for a request the edge forwards upstream. "*" and
// malformed members are kept as they are.
func OriginalETags(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, line := range lines {
		var b strings.Builder
		s := line
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			n := etagLen(s)
			if n == 0 { // "*" or malformed: keep the rest as it is
				if b.Len() > 0 {
					b.WriteString(", ")
				}
				b.WriteString(trimOWS(s))
				break
			}
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			o, _ := OriginalETag(s[:n])
			b.WriteString(o)
			s = s[n:]
		}
		out = append(out, b.String())
	}
	return out
}

// parseETag parses entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE with optional
// surrounding whitespace (RFC 9110 §8.8.3).
func parseETag(s string) (weak bool, opaque string, ok bool) {
	s = trimOWS(s)
	n := etagLen(s)
	if n == 0 || n != len(s) {
		return false, "", false
	}
	if strings.HasPrefix(s, "W/") {
		return true, s[3 : n-1], true
	}
	return false, s[1 : n-1], true
}

// etagLen returns the length of the entity-tag at the start of s, or 0.
func etagLen(s string) int {
	i := 0
	if strings.HasPrefix(s, "W/") {
		i = 2
	}
	if i >= len(s) || s[i] != '"' {
		return 0
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return j + 1
		case c == 0x21 || (0x23 <= c && c <= 0x7e) || c >= 0x80:
		default:
			return 0
		}
	}
	return 0
}
