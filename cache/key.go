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
// "scheme://host/path?query". Invalid escapes in the query are kept as
// they came, so distinct requests never share a key by accident.
func PrimaryKey(scheme, host, path, rawQuery string, opts KeyOptions) string {
	scheme = strings.ToLower(scheme)
	host = normalizeHost(scheme, host)
	if path == "" {
		path = "/"
	}
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
