package cache

import (
	"net/url"
	"sort"
	"strings"
)

// KeyOptions shape the primary cache key of a site.
type KeyOptions struct {
	// IgnoreQuery drops the query string.
	IgnoreQuery bool
	// SortQuery orders query parameters so their order does not matter.
	SortQuery bool
}

// PrimaryKey builds the URL part of a cache key: scheme, lower-cased host
// without a default port, path and query (per opts). The result is
// "scheme://host/path?query". The path goes through NormalizePath and the
// query through NormalizeEscapes (RFC 3986 §6.2.2), so aliases of one URL
// (/gen/p4alia%73 and /gen/p4alias, %2e and %2E) share a key; requests,
// purges and invalidations all build keys here.
func PrimaryKey(scheme, host, path, rawQuery string, opts KeyOptions) string {
	scheme = strings.ToLower(scheme)
	host = normalizeHost(scheme, host)
	path = NormalizePath(path)
	rawQuery = NormalizeEscapes(rawQuery)
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(path) + 1 + len(rawQuery))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(path)
	if opts.IgnoreQuery || rawQuery == "" {
		return b.String()
	}
	b.WriteByte('?')
	if opts.SortQuery {
		b.WriteString(sortQuery(rawQuery))
	} else {
		b.WriteString(rawQuery)
	}
	return b.String()
}

// NormalizePath returns the normal form of an escaped URL path (as
// url.URL.EscapedPath gives it) for a cache key, by RFC 3986 §6.2.2:
// percent-encoded unreserved characters (ALPHA, DIGIT, "-", ".", "_", "~")
// are decoded, the hex digits of every other escape are upper-cased (so
// %2f becomes %2F and is never decoded: a reserved character encoded and
// not encoded mean different things, §2.2), and dot segments are then
// removed (§5.2.4, §6.2.2.3; "%2e%2e" is ".." once decoded). An empty
// path becomes "/". A "%" that starts no valid escape ("%zz", a trailing
// "%"; net/http refuses such request targets anyway) is read as a literal
// "%" and written %25. NormalizePath(NormalizePath(p)) == NormalizePath(p).
//
// A request should also be sent upstream with the normalised path: then
// the origin answers for exactly the resource the key names.
func NormalizePath(path string) string {
	path = NormalizeEscapes(path)
	if strings.Contains(path, ".") {
		path = removeDotSegments(path)
	}
	if path == "" {
		return "/"
	}
	return path
}

// NormalizeEscapes decodes percent-encoded unreserved characters and
// upper-cases the hex digits of the other escapes (RFC 3986 §6.2.2.1,
// §6.2.2.2). A "%" that starts no valid escape becomes %25; everything
// else is kept.
func NormalizeEscapes(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			// A "%" that starts no valid escape stands for itself:
			// written as %25, so that a decoded character after it can
			// never form a new escape ("%%34%31" is not "%41").
			b.WriteString("%25")
			continue
		}
		v := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(s[i+1]))
			b.WriteByte(upperHex(s[i+2]))
		}
		i += 2
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// isUnreserved reports RFC 3986 §2.3's unreserved characters.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986 §5.2.4's remove_dot_segments.
func removeDotSegments(in string) string {
	out := make([]byte, 0, len(in))
	for len(in) > 0 {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			out = popSegment(out)
		case in == "/..":
			in = "/"
			out = popSegment(out)
		case in == "." || in == "..":
			in = ""
		default:
			j := 0
			if in[0] == '/' {
				j = 1
			}
			if k := strings.IndexByte(in[j:], '/'); k >= 0 {
				j += k
			} else {
				j = len(in)
			}
			out = append(out, in[:j]...)
			in = in[j:]
		}
	}
	return string(out)
}

// popSegment removes the last segment and its preceding "/" (if any) from
// the output buffer (RFC 3986 §5.2.4 step 2C).
func popSegment(out []byte) []byte {
	i := len(out) - 1
	for i >= 0 && out[i] != '/' {
		i--
	}
	if i < 0 {
		return out[:0]
	}
	return out[:i]
}

func normalizeHost(scheme, host string) string {
	host = strings.ToLower(host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		port := host[i+1:]
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") || port == "" {
			host = host[:i]
		}
	}
	return strings.TrimSuffix(host, ".")
}

// sortQuery sorts the &-separated parameters by their decoded name, then
// raw value, keeping each parameter's raw text.
func sortQuery(q string) string {
	parts := strings.Split(q, "&")
	type kv struct{ name, raw string }
	kvs := make([]kv, 0, len(parts))
	for _, p := range parts {
		if p == "" {
			continue
		}
		name := p
		if i := strings.IndexByte(p, '='); i >= 0 {
			name = p[:i]
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		kvs = append(kvs, kv{name, p})
	}
	sort.SliceStable(kvs, func(i, j int) bool {
		if kvs[i].name != kvs[j].name {
			return kvs[i].name < kvs[j].name
		}
		return kvs[i].raw < kvs[j].raw
	})
	var b strings.Builder
	for i, p := range kvs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.raw)
	}
	return b.String()
}

// VariantKey appends the normalised values of the Vary'd request fields to
// a primary key. Field names and values are length-prefixed so that no
// value can forge another variant's key.
func VariantKey(primary string, fields, values []string) string {
	if len(fields) == 0 {
		return primary
	}
	var b strings.Builder
	b.WriteString(primary)
	b.WriteString("\x00vary")
	for i, f := range fields {
		b.WriteByte(0)
		writeLenPrefixed(&b, strings.ToLower(f))
		v := ""
		if i < len(values) {
			v = values[i]
		}
		writeLenPrefixed(&b, v)
	}
	return b.String()
}

func writeLenPrefixed(b *strings.Builder, s string) {
	var n [10]byte
	i := len(n)
	l := uint64(len(s))
	for {
		i--
		n[i] = byte('0' + l%10)
		l /= 10
		if l == 0 {
			break
		}
	}
	b.Write(n[i:])
	b.WriteByte(':')
	b.WriteString(s)
}
