package edge

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/compress"
	"github.com/selfcdn/cdn/httpcache"
)

// Compression. An edge compresses a compressible response that arrived
// uncompressed once per encoding and keeps each compressed variant in the
// memory tier beside the original, so a hit never compresses again.
// Freshness, revalidation and purges are decided on the original; a
// variant is only another body for it, rebuilt if the original's head
// changes. Clients' Accept-Encoding is normalised to the one encoding the
// edge would choose (br, zstd, gzip or identity), so an object has at most
// four variants whatever the variety of request headers. Shields never
// compress: they pass origin responses to the edges unchanged.

// maxCompressSize bounds what is compressed in the request path.
const maxCompressSize = 8 << 20

// variantBody is a compressed variant: its bytes and the header that goes
// with them (Content-Encoding, variant ETag, Repr-Digest of these bytes).
type variantBody struct {
	cache.Bytes
	header http.Header
	source *cache.Head // the original's head it was built from
}

// encodingFor returns the encoding to serve a request with fields h for a head, Identity when the
// response is not to be compressed.
func (s *Proxy) encodingFor(h http.Header, hi *headDerived) compress.Encoding {
	if !hi.compressible {
		return compress.Identity
	}
	enc := compress.Encoding(compress.NormalizeAcceptEncoding(h.Values("Accept-Encoding")))
	if enc == compress.NotAcceptable {
		// RFC 9110 §12.5.3 allows answering identity rather than 406.
		return compress.Identity
	}
	return enc
}

// compressible reports whether a stored response is one the edge compresses.
func (s *Proxy) compressible(h *cache.Head, size int64) bool {
	if s.cfg.Role != RoleEdge || s.cfg.DisableCompression || h.Status != http.StatusOK || size < 0 || size > maxCompressSize {
		return false
	}
	hdr := http.Header(h.Header)
	return s.compressCfg.Compressible(hdr.Get("Content-Type"), hdr.Get("Content-Encoding"), strings.Join(hdr.Values("Cache-Control"), ", "), size)
}

// variant returns the compressed variant of a complete stored object,
// building it on first use (concurrent requests for one variant build it
// once).
func (s *Proxy) variant(key string, head *cache.Head, body cache.Body, enc compress.Encoding, hi *headDerived) (*variantBody, error) {
	vkey := key + "\x00ce=" + string(enc)
	if o, ok := s.mem.Get(vkey); ok {
		if vb, ok := o.Body.(*variantBody); ok && vb.source == head {
			return vb, nil
		}
	}
	v, err, _ := s.compressing.Do(vkey, func() (any, error) {
		rc, err := body.Open(0)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		var buf bytes.Buffer
		buf.Grow(int(body.Size() / 3))
		w, err := compress.NewWriter(&buf, enc, s.compressCfg.Level(enc))
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, rc); err != nil {
			w.Close()
			return nil, fmt.Errorf("compress %s: %w", enc, err)
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		out := buf.Bytes()
		h := hi.client.Clone()
		compress.SetVariantHeader(h, enc)
		sum := sha256.Sum256(out)
		h.Set("Repr-Digest", compress.ReprDigestSHA256(sum[:]))
		vb := &variantBody{Bytes: cache.Bytes(out), header: h, source: head}
		o := cache.NewObject(vkey, key, head, vb)
		s.mem.Set(o)
		s.metrics.compressIn.WithLabelValues(string(enc)).Add(float64(body.Size()))
		s.metrics.compressOut.WithLabelValues(string(enc)).Add(float64(len(out)))
		return vb, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*variantBody), nil
}

// varyValues is httpcache.VaryValues with Accept-Encoding normalised, so
// origin responses that vary on it make at most a handful of variants.
func varyValues(fields []string, h http.Header) []string {
	vals := httpcache.VaryValues(fields, h)
	for i, f := range fields {
		if f == "Accept-Encoding" {
			vals[i] = compress.NormalizeAcceptEncoding(h.Values("Accept-Encoding"))
		}
	}
	return vals
}
