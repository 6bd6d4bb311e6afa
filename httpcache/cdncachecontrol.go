package httpcache

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// ParseCDNCacheControl parses the field lines of CDN-Cache-Control (RFC
// 9213 §2.1), which is a Structured Fields Dictionary (RFC 8941 §3.2; the
// parser is github.com/dunglas/httpsfv, tested against the RFC's own test
// vectors). ok is false when the field must be ignored as a whole, so that
// the cache falls back to Cache-Control and Expires (RFC 9213 §2.1: "If a
// targeted field ... is empty, or a parsing error is encountered, that field
// MUST be ignored"):
//
//   - the lines do not parse as a Dictionary (`max-age=10000, &&&&&`,
//     upper-case keys, spaces around "=");
//   - max-age or s-maxage is not a non-negative Integer (`max-age="10000"`,
//     `max-age=1.5`, `max-age=-1`, `max-age` alone, which is Boolean true).
//
// Directives map onto CacheControl as Cache-Control's do (RFC 9213 §2.1:
// the directives are those of Cache-Control). A directive whose value is
// Boolean false is absent. stale-while-revalidate and stale-if-error that
// are not non-negative Integers count as absent (as in ParseCacheControl).
// no-cache and private take an optional String (or Inner List) of field
// names; another value is read as the unqualified directive. Parameters are
// ignored. Values above 2^31 seconds become 2^31 (RFC 9111 §1.2.2).
func ParseCDNCacheControl(values []string) (cc CacheControl, ok bool) {
	cc = emptyControl()
	if !notBlank(values) {
		return cc, false
	}
	d, err := httpsfv.UnmarshalDictionary(values)
	if err != nil {
		return cc, false
	}
	for _, name := range d.Names() {
		m, _ := d.Get(name)
		item, isItem := m.(httpsfv.Item)
		if isItem {
			if b, isBool := item.Value.(bool); isBool && !b {
				if name == "max-age" || name == "s-maxage" {
					return emptyControl(), false
				}
				continue // "?0": the directive is absent
			}
		}
		switch name {
		case "max-age", "s-maxage":
			secs, valid := sfDelta(m)
			if !valid {
				return emptyControl(), false
			}
			if name == "max-age" {
				cc.MaxAge = secs
			} else {
				cc.SMaxAge = secs
			}
		case "stale-while-revalidate":
			if secs, valid := sfDelta(m); valid {
				cc.StaleWhileRevalidate = secs
			}
		case "stale-if-error":
			if secs, valid := sfDelta(m); valid {
				cc.StaleIfError = secs
			}
		case "no-store":
			cc.NoStore = true
		case "no-cache":
			if f := sfFieldNames(m); len(f) > 0 {
				cc.NoCacheFields = f
			} else {
				cc.NoCache = true
			}
		case "private":
			if f := sfFieldNames(m); len(f) > 0 {
				cc.PrivateFields = f
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
		case "immutable":
			cc.Immutable = true
		default:
			if cc.Extensions == nil {
				cc.Extensions = make(map[string]string, 1)
			}
			cc.Extensions[name] = sfString(m)
		}
	}
	return cc, true
}

// sfDelta reads a member as delta-seconds: a non-negative Integer.
func sfDelta(m httpsfv.Member) (time.Duration, bool) {
	item, ok := m.(httpsfv.Item)
	if !ok {
		return 0, false
	}
	n, ok := item.Value.(int64)
	if !ok || n < 0 {
		return 0, false
	}
	return time.Duration(min(n, 1<<31)) * time.Second, true
}

// sfFieldNames reads the field-name list of no-cache or private: a String
// holding a comma-separated list, or an Inner List of Strings or Tokens.
// Names that are not tokens are dropped.
func sfFieldNames(m httpsfv.Member) []string {
	var raw []string
	switch v := m.(type) {
	case httpsfv.Item:
		s, ok := v.Value.(string)
		if !ok {
			return nil
		}
		raw = strings.Split(s, ",")
	case httpsfv.InnerList:
		for _, it := range v.Items {
			switch x := it.Value.(type) {
			case string:
				raw = append(raw, x)
			case httpsfv.Token:
				raw = append(raw, string(x))
			}
		}
	}
	var out []string
	for _, f := range raw {
		if f = trimOWS(f); isToken(f) {
			out = append(out, http.CanonicalHeaderKey(f))
		}
	}
	return out
}

// sfString renders an extension's value the way ParseCacheControl records
// one: "" for Boolean true, else the bare item's text.
func sfString(m httpsfv.Member) string {
	item, ok := m.(httpsfv.Item)
	if !ok {
		s, err := httpsfv.Marshal(m.(httpsfv.InnerList))
		if err != nil {
			return ""
		}
		return s
	}
	switch v := item.Value.(type) {
	case bool:
		if v {
			return ""
		}
		return "?0"
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		return v
	case httpsfv.Token:
		return string(v)
	}
	s, err := httpsfv.Marshal(httpsfv.NewItem(item.Value))
	if err != nil {
		return ""
	}
	return s
}
