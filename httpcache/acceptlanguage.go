package httpcache

import (
	"sort"
	"strconv"
	"strings"
)

// NormalizeAcceptLanguage returns the canonical form of Accept-Language
// field lines (RFC 9110 §12.5.4) for a secondary cache key (RFC 9111 §4.1
// allows normalising "in a manner that is known to have identical
// semantics"): language ranges lower-cased (they are case-insensitive,
// RFC 4647 §2.1), whitespace removed, weights written in their shortest
// form with q=1 omitted, a range repeated later dropped, and the members
// sorted by weight, highest first, then by range. "en-US,fr;q=0.5" and
// "fr; Q=0.50 , EN-us" yield "en-us, fr;q=0.5". ok is false when a member
// is not a language range with an optional weight; the caller then keeps
// the generic list normalisation, which never merges distinct values.
func NormalizeAcceptLanguage(lines []string) (norm string, ok bool) {
	type member struct {
		lang string
		q    int // thousandths
	}
	var ms []member
	for _, line := range lines {
		for _, raw := range strings.Split(line, ",") {
			raw = trimOWS(raw)
			if raw == "" {
				continue
			}
			lang, params, _ := strings.Cut(raw, ";")
			lang = lowerASCII(trimOWS(lang))
			if !isLanguageRange(lang) {
				return "", false
			}
			q := 1000
			if params != "" {
				name, val, found := strings.Cut(params, "=")
				if !found || !equalFoldASCII(trimOWS(name), "q") {
					return "", false
				}
				var okq bool
				if q, okq = parseQValue(trimOWS(val)); !okq {
					return "", false
				}
			}
			dup := false
			for _, m := range ms {
				if m.lang == lang {
					dup = true
					break
				}
			}
			if !dup {
				ms = append(ms, member{lang, q})
			}
		}
	}
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].q != ms[j].q {
			return ms[i].q > ms[j].q
		}
		return ms[i].lang < ms[j].lang
	})
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.lang)
		if m.q != 1000 {
			b.WriteString(";q=")
			b.WriteString(formatQValue(m.q))
		}
	}
	return b.String(), true
}

// isLanguageRange reports whether s (lower-cased) is a language-range of
// RFC 4647 §2.1: "*" or 1*8ALPHA *("-" 1*8alphanum).
func isLanguageRange(s string) bool {
	if s == "*" {
		return true
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for k := 0; k < len(sub); k++ {
			c := sub[k]
			alpha := 'a' <= c && c <= 'z'
			if !alpha && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// parseQValue parses qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
// (RFC 9110 §12.4.2) into thousandths.
func parseQValue(s string) (int, bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	whole := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return whole, true
	}
	if s[1] != '.' || len(s) > 5 {
		return 0, false
	}
	frac, scale := 0, 100
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		frac += int(s[i]-'0') * scale
		scale /= 10
	}
	if whole == 1000 && frac != 0 {
		return 0, false
	}
	return whole + frac, true
}

// formatQValue writes thousandths below 1000 in the shortest form: 0, 0.5,
// 0.25, 0.125.
func formatQValue(q int) string {
	if q == 0 {
		return "0"
	}
	s := strconv.Itoa(1000 + q)[1:] // three digits
	return "0." + strings.TrimRight(s, "0")
}
