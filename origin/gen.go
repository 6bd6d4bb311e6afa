package origin

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// genBody is the bodySource of a synthetic object.
type genBody struct{ g generator }

func (b genBody) writeRange(w io.Writer, off, n int64, buf []byte) (int64, error) {
	return b.g.writeRange(w, off, n, buf)
}

// objectKey hashes everything a synthetic body depends on: the name, the
// size, the effective seed, the Content-Type (text or binary), and the
// request's values of the header fields named in vary. The body generator,
// the ETag, the multipart boundary and the digest cache are all keyed by it.
func objectKey(name string, size int64, seed uint64, contentType string, vary []string, h http.Header) [32]byte {
	var stack [256]byte
	b := append(stack[:0], "selfcdn-origin/1\x00"...)
	b = append(b, name...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = binary.BigEndian.AppendUint64(b, seed)
	b = append(b, contentType...)
	b = append(b, 0)
	for _, f := range vary {
		if f == "*" {
			continue
		}
		b = append(b, f...)
		b = append(b, ':')
		for i, v := range h[f] {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, v...)
		}
		b = append(b, 0)
	}
	return sha256.Sum256(b)
}

// formatETag renders a strong entity tag from a key.
func formatETag(key [32]byte) string {
	var b [26]byte
	b[0] = '"'
	hex.Encode(b[1:25], key[:12])
	b[25] = '"'
	return string(b[:])
}

// lastModifiedBase is the latest default Last-Modified of a synthetic object.
var lastModifiedBase = time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)

// defaultLastModified is a synthetic object's Last-Modified when lm= is
// absent: a time in 2019 derived from its name, or the time its seed was last
// set if that is later, so that changing the content moves the date forward.
func defaultLastModified(name string, seedSetAt time.Time) time.Time {
	// FNV-1a, inline so the name does not escape.
	hash := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		hash ^= uint64(name[i])
		hash *= 1099511628211
	}
	t := lastModifiedBase.Add(-time.Duration(hash%(365*24*3600)) * time.Second)
	if seedSetAt.After(t) {
		t = seedSetAt.Truncate(time.Second).UTC()
	}
	return t
}

// serveGen serves a synthetic object at /gen/<name>; see the README for the
// query parameters.
func (s *Server) serveGen(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, genPrefix)
	h := w.Header()
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		h["Allow"] = []string{genAllow}
		s.finish(s.textError(w, http.StatusMethodNotAllowed, "method not allowed"))
		return
	}
	p, err := parseGenParams(r.URL.RawQuery, s.maxSize)
	if err != nil {
		s.finish(s.textError(w, http.StatusBadRequest, err.Error()))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.serveWrite(w, r, p)
		return
	}
	seed, seedSetAt := s.seeds.lookup(name)
	key := objectKey(name, p.size, seed, p.contentType, p.vary, r.Header)

	if p.delay > 0 {
		t := time.NewTimer(p.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.finish(result{})
			return
		}
	}

	f := newFieldWriter(h)
	now := s.now()
	f.set("Date", s.httpDate(now))
	etag := formatETag(key)
	f.set("Etag", etag)
	lm := p.lm
	if !p.hasLM {
		lm = defaultLastModified(name, seedSetAt)
	}
	f.set("Last-Modified", lm.UTC().Format(http.TimeFormat))
	if p.hasCC {
		f.set("Cache-Control", p.cc)
	}
	if p.hasCDNCC {
		f.set("Cdn-Cache-Control", p.cdncc)
	}
	if p.hasExpires {
		f.set("Expires", now.Add(time.Duration(p.expires)*time.Second).UTC().Format(http.TimeFormat))
	}
	if len(p.vary) > 0 {
		f.set("Vary", strings.Join(p.vary, ", "))
	}
	if p.tags != "" {
		f.set("Surrogate-Key", p.tags)
	}
	if p.hasCookie {
		f.set("Set-Cookie", p.setCookie)
	}

	rep := representation{
		status:       p.status,
		size:         p.size,
		etag:         etag,
		lastModified: lm,
		contentType:  p.contentType,
		body:         genBody{newGenerator(s.block, key, isTextType(p.contentType))},
		digestKey:    key,
		wantDigest:   p.digest,
		boundary:     "gen" + etag[1:25],
	}
	res := s.serve(w, r, f, &rep, sendOptions{chunked: p.chunked, abort: p.abort, stall: p.stall})
	s.finish(res)
	if res.aborted {
		// net/http closes an HTTP/1 connection and resets an HTTP/2 stream
		// without logging: the client sees a truncated response.
		panic(http.ErrAbortHandler)
	}
}

// genAllow lists the methods /gen/ answers.
const genAllow = "GET, HEAD, POST, PUT, PATCH, DELETE"

// maxWriteBody bounds the request body of a write to /gen/.
const maxWriteBody = 8 << 20

// serveWrite answers an unsafe request (POST, PUT, PATCH, DELETE) to
// /gen/: the body is read and dropped, and the answer has status= (default
// 200) and the Location and Content-Location given by location= and
// clocation=, so a cache's RFC 9111 §4.4 invalidation can be tested.
func (s *Server) serveWrite(w http.ResponseWriter, r *http.Request, p genParams) {
	n, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxWriteBody+1))
	if err != nil {
		if r.Context().Err() != nil {
			s.finish(result{})
			return
		}
		s.finish(s.textError(w, http.StatusBadRequest, "read request body: "+err.Error()))
		return
	}
	if n > maxWriteBody {
		s.finish(s.textError(w, http.StatusRequestEntityTooLarge, "request body larger than 8 MiB"))
		return
	}
	h := w.Header()
	h["Date"] = []string{s.httpDate(s.now())}
	if p.hasLocation {
		h["Location"] = []string{p.location}
	}
	if p.hasCLocation {
		h["Content-Location"] = []string{p.clocation}
	}
	if p.hasCC {
		h["Cache-Control"] = []string{p.cc}
	}
	if noContent(p.status) {
		w.WriteHeader(p.status)
		s.finish(result{status: p.status})
		return
	}
	body := strings.ToLower(r.Method) + " ok\n"
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(p.status)
	m, _ := io.WriteString(w, body)
	s.finish(result{status: p.status, bytes: int64(m)})
}

// textError sends a short plain-text error.
func (s *Server) textError(w http.ResponseWriter, status int, msg string) result {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Cache-Control"] = []string{"no-store"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	body := msg + "\n"
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	n, _ := io.WriteString(w, body)
	return result{status: status, bytes: int64(n)}
}
