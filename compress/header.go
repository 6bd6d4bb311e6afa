package compress

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// VaryAddAcceptEncoding makes h's Vary field list Accept-Encoding, once,
// keeping the fields it lists already (RFC 9110 §12.5.5). Vary: * already
// covers it and is left alone. Every response whose coding was negotiated,
// the identity one included, needs it, or a downstream cache could hand a
// compressed variant to a client that cannot decode it.
func VaryAddAcceptEncoding(h http.Header) {
	lines := h.Values("Vary")
	for _, line := range lines {
		for _, f := range strings.Split(line, ",") {
			f = trimOWS(f)
			if f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return
			}
		}
	}
	if n := len(lines); n > 0 && trimOWS(lines[n-1]) != "" {
		h["Vary"][n-1] = trimOWS(lines[n-1]) + ", Accept-Encoding"
		return
	}
	h.Del("Vary")
	h.Set("Vary", "Accept-Encoding")
}

// digestFields are fields whose values are computed over the content as the
// origin sent it, and so are wrong for a compressed variant: Repr-Digest
// covers the representation data, which includes its content coding, and
// Content-Digest the content (RFC 9530 §2, §3); Digest and Content-MD5 are
// their predecessors (RFC 3230, RFC 1864).
var digestFields = [...]string{"Repr-Digest", "Content-Digest", "Digest", "Content-Md5"}

// SetVariantHeader turns h, the header of a complete response as stored
// without a content coding, into the header of its enc-coded variant:
//
//   - Content-Encoding is set to enc;
//   - Content-Length is removed: the edge sets it from the variant's size;
//   - ETag becomes VariantETag(etag, enc), or is removed when that is "";
//   - Repr-Digest, Content-Digest, Digest and Content-MD5 are removed: they
//     describe the uncoded bytes. The edge may add a Repr-Digest of its own
//     over the variant's bytes (see ReprDigestSHA256);
//   - Vary lists Accept-Encoding (VaryAddAcceptEncoding);
//   - Accept-Ranges, Last-Modified, caching fields and the rest are kept:
//     a range request for a variant selects bytes of the coded variant
//     (RFC 9110 §14.1.1), which the edge can serve from the stored copy.
//
// With Identity, only Vary is changed. h must not carry Content-Range: a
// partial response is never compressed.
func SetVariantHeader(h http.Header, enc Encoding) {
	VaryAddAcceptEncoding(h)
	if enc == Identity {
		return
	}
	h.Set("Content-Encoding", string(enc))
	h.Del("Content-Length")
	for _, f := range digestFields {
		h.Del(f)
	}
	if etag := h.Get("Etag"); etag != "" {
		if v := VariantETag(etag, enc); v != "" {
			h.Set("Etag", v)
		} else {
			h.Del("Etag")
		}
	}
}

// ReprDigestSHA256 returns a Repr-Digest field value (RFC 9530 §3) for a
// SHA-256 sum of a variant's bytes, such as sha256.Sum256 returns, e.g.
// "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".
func ReprDigestSHA256(sum []byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}
