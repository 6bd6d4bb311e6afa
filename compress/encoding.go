// Package compress holds the HTTP response compression rules of the edge:
// content-coding negotiation (RFC 9110 §12.5.3), the normalised
// Accept-Encoding used as a cache key, which responses are worth
// compressing, pooled gzip, brotli and zstd encoders, and the validators and
// header fields of a compressed variant (RFC 9110 §8.4, §8.8.3).
//
// Everything here is pure logic or an encoder over an io.Writer; the package
// performs no network I/O and keeps no state beyond pools of reusable
// encoders.
package compress

import "strings"

// Encoding is a content coding (RFC 9110 §8.4.1), named by its registered
// token. The zero value is Identity.
type Encoding string

// The content codings the edge produces, plus two values Negotiate returns.
const (
	// Identity is no content coding at all: the representation as the
	// origin sent it. It is the zero value; its token is "identity".
	Identity Encoding = ""
	// Gzip is the gzip coding (RFC 9110 §8.4.1.3).
	Gzip Encoding = "gzip"
	// Brotli is the br coding (RFC 7932).
	Brotli Encoding = "br"
	// Zstd is the zstd coding (RFC 8878, windows limited to 8 MiB by RFC
	// 9659).
	Zstd Encoding = "zstd"
	// NotAcceptable is returned by Negotiate when the request excludes every
	// offered coding and identity as well ("identity;q=0" or "*;q=0" with
	// nothing else acceptable). It is not a token, so it never names a real
	// coding; see Negotiate for what the edge does with it.
	NotAcceptable Encoding = "(not acceptable)"
)

// defaultOffer is what DefaultOffer returns; Negotiate reads it directly to
// stay free of allocations.
var defaultOffer = [...]Encoding{Brotli, Zstd, Gzip}

// DefaultOffer returns the codings the edge offers, in its order of
// preference: br, zstd, gzip. Brotli and zstd compress text better than gzip
// at a similar cost to decode, and every current browser accepts at least one
// of them; RFC 9110 §12.5.3 leaves the choice among equally weighted codings
// to the server. The slice is new on every call.
func DefaultOffer() []Encoding { return append([]Encoding(nil), defaultOffer[:]...) }

// String returns the coding's token: "identity" for Identity.
func (e Encoding) String() string {
	if e == Identity {
		return "identity"
	}
	return string(e)
}

// Known reports whether e is a coding this package can produce: Identity,
// Gzip, Brotli or Zstd.
func (e Encoding) Known() bool {
	switch e {
	case Identity, Gzip, Brotli, Zstd:
		return true
	}
	return false
}

// ParseEncoding maps a content-coding token, as found in Content-Encoding or
// Accept-Encoding, to the Encoding it names, case-insensitively (RFC 9110
// §8.4.1). "x-gzip" is gzip (§8.4.1.3) and "identity" is Identity. It
// reports false for codings this package does not produce (deflate,
// compress, dcb ...).
func ParseEncoding(token string) (Encoding, bool) {
	token = strings.Trim(token, " \t")
	switch {
	case token == "" || strings.EqualFold(token, "identity"):
		return Identity, true
	case strings.EqualFold(token, "gzip"), strings.EqualFold(token, "x-gzip"):
		return Gzip, true
	case strings.EqualFold(token, "br"):
		return Brotli, true
	case strings.EqualFold(token, "zstd"):
		return Zstd, true
	}
	return "", false
}
