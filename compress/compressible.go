package compress

import "strings"

// Compressible reports whether a response with these header field values
// and size is worth compressing under the default Config; see
// (*Config).Compressible.
func Compressible(contentType, contentEncoding, cacheControl string, size int64) bool {
	var c Config
	return c.Compressible(contentType, contentEncoding, cacheControl, size)
}

// Compressible reports whether the edge should compress a response whose
// Content-Type, Content-Encoding and Cache-Control field values (lines
// joined with ", ") are given, and whose content is size bytes long (-1 when
// unknown, which counts as large enough). It is true only when all hold:
//
//   - the response has no content coding yet: an already compressed
//     response passes untouched, never compressed twice or recoded;
//   - Cache-Control has no no-transform directive (RFC 9111 §5.2.2.6, RFC
//     9110 §7.7): an intermediary must not change the content coding;
//   - the media type is one of c.Types, and is not text/event-stream, whose
//     events must each reach the client when sent;
//   - size is at least c.MinSize (below it the coding's own overhead and
//     the CPU cost outweigh the saving) and at most c.MaxSize when set.
//
// The status code is the caller's to check: only complete responses (200,
// 203) are compressed, never a 206 part.
func (c *Config) Compressible(contentType, contentEncoding, cacheControl string, size int64) bool {
	if ce := trimOWS(contentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	if size >= 0 && (size < c.minSize() || (c.MaxSize > 0 && size > c.MaxSize)) {
		return false
	}
	if hasNoTransform(cacheControl) {
		return false
	}
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = trimOWS(mt)
	if !validMediaType(mt) || strings.EqualFold(mt, "text/event-stream") {
		return false
	}
	types := c.Types
	if types == nil {
		types = defaultTypes[:]
	}
	for _, t := range types {
		if typeMatches(t, mt) {
			return true
		}
	}
	return false
}

// defaultTypes are the media types compressed by default: text, the
// textual application types of the web (scripts, JSON, XML and their
// structured syntax suffixes, RFC 6838 §4.2.8), WebAssembly, HLS playlists,
// and font and image formats stored without compression. WOFF and WOFF2
// fonts, and PNG, JPEG, WebP, AVIF, video and audio are compressed already.
var defaultTypes = [...]string{
	"text/*",
	"+json",
	"+xml",
	"application/json",
	"application/javascript",
	"application/x-javascript",
	"application/ecmascript",
	"application/xml",
	"application/wasm",
	"application/x-ndjson",
	"application/yaml",
	"application/x-yaml",
	"application/toml",
	"application/rtf",
	"application/vnd.apple.mpegurl",
	"application/x-mpegurl",
	"application/vnd.ms-fontobject",
	"application/x-font-ttf",
	"application/x-font-truetype",
	"application/x-font-otf",
	"application/x-font-opentype",
	"application/font-sfnt",
	"font/ttf",
	"font/otf",
	"font/sfnt",
	"font/collection",
	"image/x-icon",
	"image/vnd.microsoft.icon",
	"image/bmp",
}

// DefaultTypes returns the media types compressed when Config.Types is nil.
// Each is a type/subtype, a "type/*" range or a "+suffix" that matches any
// subtype with that structured syntax suffix (RFC 6838 §4.2.8), such as
// "+json" for application/ld+json and "+xml" for image/svg+xml. The slice is
// new on every call.
func DefaultTypes() []string { return append([]string(nil), defaultTypes[:]...) }

// typeMatches reports whether the media type mt (type/subtype, no
// parameters) matches the Types entry t, case-insensitively (RFC 9110
// §8.3.1).
func typeMatches(t, mt string) bool {
	switch {
	case strings.HasPrefix(t, "+"):
		return len(mt) > len(t) && strings.EqualFold(mt[len(mt)-len(t):], t)
	case strings.HasSuffix(t, "/*"):
		p := t[:len(t)-1] // "text/"
		return len(mt) > len(p) && strings.EqualFold(mt[:len(p)], p)
	}
	return strings.EqualFold(t, mt)
}

// validMediaType reports whether s is token "/" token.
func validMediaType(s string) bool {
	i := strings.IndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	for j := 0; j < len(s); j++ {
		if j != i && !isTchar(s[j]) {
			return false
		}
	}
	return true
}

// hasNoTransform reports whether the Cache-Control value holds the
// no-transform directive (RFC 9111 §5.2), skipping quoted-string arguments
// so that private="no-transform, x" does not count.
func hasNoTransform(cc string) bool {
	for cc != "" {
		// One directive: token [ "=" ( token / quoted-string ) ].
		cc = strings.TrimLeft(cc, " \t,")
		n := 0
		for n < len(cc) && cc[n] != ',' && cc[n] != '=' {
			n++
		}
		name := trimOWS(cc[:n])
		cc = cc[n:]
		// An argument is not defined for no-transform; one present still
		// counts, erring on the side of leaving the response alone.
		if strings.EqualFold(name, "no-transform") {
			return true
		}
		if strings.HasPrefix(cc, "=") {
			cc = trimOWS(cc[1:])
			if strings.HasPrefix(cc, `"`) {
				cc = skipQuoted(cc)
			}
			if i := strings.IndexByte(cc, ','); i >= 0 {
				cc = cc[i:]
			} else {
				cc = ""
			}
		}
	}
	return false
}

// skipQuoted returns what follows the quoted-string at the start of s,
// honouring quoted-pairs (RFC 9110 §5.6.4); "" if it is unterminated.
func skipQuoted(s string) string {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return s[i+1:]
		}
	}
	return ""
}
