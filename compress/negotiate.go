package compress

import "strings"

// Negotiate chooses the content coding of the response to a request whose
// Accept-Encoding field lines are acceptEncoding (nil when the request has
// no such field), among the codings offered, which are listed in the
// server's order of preference. If offered is nil, DefaultOffer() is used.
// Identity is always available and need not be offered.
//
// The rules are those of RFC 9110 §12.5.3:
//
//   - No Accept-Encoding field: Identity. The RFC allows any coding, but
//     also says the user agent may not be able to process it; like every
//     widely deployed server, the edge sends the representation unchanged.
//   - A field that is empty (or holds nothing well-formed): Identity, since
//     the user agent "does not want any content coding".
//   - Each member is a coding with an optional weight ";q=" (§12.4.2);
//     tokens compare case-insensitively, "x-gzip" is "gzip" (§8.4.1.3),
//     whitespace around members and ";" is allowed, and a malformed member
//     (bad token, bad qvalue, unknown parameter) is ignored on its own. A
//     coding listed twice takes its highest weight.
//   - An offered coding takes the weight of its own member, else that of
//     "*", else it is not acceptable. Weight 0 means not acceptable.
//   - The acceptable offered coding with the highest weight wins; equal
//     weights go to the earlier offered coding (br, zstd, gzip by default).
//   - Identity is acceptable unless excluded by "identity;q=0", or by
//     "*;q=0" without a member for identity. It wins only when its weight,
//     explicit or from "*", is higher than every offered coding's; when
//     it is merely not excluded it is the fallback.
//   - When nothing offered is acceptable and identity is excluded too,
//     Negotiate returns NotAcceptable. RFC 9110 §12.1 then leaves the edge
//     two choices: answer 406 (Not Acceptable), or disregard the field and
//     send Identity. The edge should do the latter, as nginx and Varnish do:
//     a representation the client may refuse is more useful than an error.
//
// Negotiate does not allocate when offered has at most 8 members.
func Negotiate(acceptEncoding []string, offered []Encoding) Encoding {
	if len(acceptEncoding) == 0 {
		return Identity
	}
	if offered == nil {
		if len(acceptEncoding) == 1 {
			if e, ok := commonHeader(acceptEncoding[0]); ok {
				return e
			}
		}
		offered = defaultOffer[:]
	}
	var buf [8]int
	var qs []int
	if len(offered) <= len(buf) {
		qs = buf[:len(offered)]
	} else {
		qs = make([]int, len(offered))
	}
	for i := range qs {
		qs[i] = -1
	}
	star, ident := -1, -1
	seen := false
	sc := scanner{lines: acceptEncoding}
	for {
		coding, q, ok := sc.next()
		if !ok {
			break
		}
		seen = true
		switch {
		case coding == "*":
			star = max(star, q)
		case strings.EqualFold(coding, "identity"):
			ident = max(ident, q)
		default:
			for i, o := range offered {
				if codingIs(coding, o) {
					qs[i] = max(qs[i], q)
				}
			}
		}
	}
	if !seen {
		return Identity
	}
	best, bestQ := Identity, 0
	for i, o := range offered {
		if o == Identity || o == NotAcceptable {
			continue
		}
		q := qs[i]
		if q < 0 {
			q = star
		}
		if q > bestQ {
			best, bestQ = o, q
		}
	}
	identQ, identOK := 0, true // merely not excluded: the fallback
	switch {
	case ident >= 0:
		identQ, identOK = ident, ident > 0
	case star >= 0:
		identQ, identOK = star, star > 0
	}
	switch {
	case bestQ > 0 && bestQ >= identQ:
		return best
	case identOK:
		return Identity
	}
	return NotAcceptable
}

// NormalizeAcceptEncoding maps the Accept-Encoding field lines of a request
// to the secondary cache key of the variant the edge serves it: "br",
// "zstd", "gzip", "" (identity) or, rarely, string(NotAcceptable), for which
// the edge answers 406 or looks up "" (see Negotiate). It is
// string(Negotiate(values, nil)): whatever the variety of client headers,
// the cache holds at most one variant per coding. With an offer other than
// the default, string(Negotiate(values, offer)) is the key. It does not
// allocate.
func NormalizeAcceptEncoding(values []string) string {
	return string(Negotiate(values, nil))
}

// commonHeader answers, for the default offer, the Accept-Encoding values
// that nearly all requests carry, saving the parse on the hot path. Each
// answer is what the general rules give (tested).
func commonHeader(v string) (Encoding, bool) {
	switch v {
	case "gzip, deflate, br, zstd", "gzip, deflate, br", "gzip, deflate, br, zstd, dcb, dcz",
		"deflate, gzip, br, zstd", "gzip,deflate,br", "gzip, br", "br, gzip", "br":
		return Brotli, true
	case "gzip, deflate", "gzip", "gzip,deflate":
		return Gzip, true
	case "identity", "":
		return Identity, true
	}
	return "", false
}

// codingIs reports whether the Accept-Encoding token names the offered
// coding o.
func codingIs(token string, o Encoding) bool {
	if strings.EqualFold(token, string(o)) {
		return true
	}
	return o == Gzip && strings.EqualFold(token, "x-gzip")
}

// scanner walks the members of Accept-Encoding field lines without
// allocating: #( codings [ weight ] ), RFC 9110 §12.5.3, §12.4.2.
type scanner struct {
	lines []string
	s     string // rest of the current line
}

// next returns the next well-formed member's coding token and its weight in
// thousandths (1000 when absent), skipping malformed members.
func (sc *scanner) next() (coding string, q int, ok bool) {
	for {
		for sc.s == "" {
			if len(sc.lines) == 0 {
				return "", 0, false
			}
			sc.s, sc.lines = sc.lines[0], sc.lines[1:]
		}
		var member string
		if i := strings.IndexByte(sc.s, ','); i >= 0 {
			member, sc.s = sc.s[:i], sc.s[i+1:]
		} else {
			member, sc.s = sc.s, ""
		}
		if coding, q, ok := parseMember(member); ok {
			return coding, q, true
		}
	}
}

// parseMember parses one list member: OWS token [ OWS ";" OWS "q=" qvalue ]
// OWS. Parameter names are case-insensitive (RFC 9110 §5.6.6).
func parseMember(m string) (coding string, q int, ok bool) {
	m = trimOWS(m)
	n := 0
	for n < len(m) && isTchar(m[n]) {
		n++
	}
	if n == 0 {
		return "", 0, false
	}
	coding, m = m[:n], trimOWS(m[n:])
	if m == "" {
		return coding, 1000, true
	}
	if m[0] != ';' {
		return "", 0, false
	}
	m = trimOWS(m[1:])
	if len(m) < 2 || (m[0] != 'q' && m[0] != 'Q') || m[1] != '=' {
		return "", 0, false
	}
	q, ok = parseQValue(m[2:])
	if !ok {
		return "", 0, false
	}
	return coding, q, true
}

// parseQValue parses qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
// (RFC 9110 §12.4.2) into thousandths.
func parseQValue(s string) (int, bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	s = s[1:]
	if s == "" {
		return q, true
	}
	if s[0] != '.' || len(s) > 4 {
		return 0, false
	}
	scale := 100
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || (q == 1000 && c != '0') {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return q, true
}

// trimOWS removes optional whitespace (SP, HTAB) at both ends (RFC 9110
// §5.6.3).
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
