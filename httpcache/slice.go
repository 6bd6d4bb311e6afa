package httpcache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Partial content in aligned slices (RFC 9111 §3.3, §3.4; nginx's slice
// module is the model): a large representation is fetched and stored as
// slices of SliceSize bytes, slice i holding bytes [i·SliceSize,
// (i+1)·SliceSize) (the last one shorter). These functions plan which
// slices a request needs and check that stored parts may be combined; they
// do no I/O.

// DefaultSliceSize is a common slice size: 1 MiB.
const DefaultSliceSize = 1 << 20

// SlicePiece is the part of one slice that serves part of a byte range:
// Length bytes from Offset within slice Index.
type SlicePiece struct {
	Index  int64
	Offset int64
	Length int64
}

// SliceBounds returns the byte range of slice index in a representation of
// size bytes (size < 0: unknown, the slice is taken as full). ok is false
// for a slice that starts at or past the end, a negative index or a
// sliceSize below 1.
func SliceBounds(index, sliceSize, size int64) (r ByteRange, ok bool) {
	if sliceSize < 1 || index < 0 || index > (1<<62)/sliceSize {
		return ByteRange{}, false
	}
	start := index * sliceSize
	length := sliceSize
	if size >= 0 {
		if start >= size {
			return ByteRange{}, false
		}
		length = min(length, size-start)
	}
	return ByteRange{Start: start, Length: length}, true
}

// SliceRangeHeader returns the Range field value that fetches slice index
// upstream: "bytes=first-last" (RFC 9110 §14.2). Asking for a full slice
// past the end is harmless: the origin answers with what exists (§14.1.2).
func SliceRangeHeader(index, sliceSize int64) string {
	r, ok := SliceBounds(index, sliceSize, -1)
	if !ok {
		return ""
	}
	return "bytes=" + strconv.FormatInt(r.Start, 10) + "-" + strconv.FormatInt(r.Start+r.Length-1, 10)
}

// SlicePieces splits a satisfiable byte range into the pieces of the
// slices that hold it, in order: Length/sliceSize + 2 pieces at most. It
// returns nil for an empty range or a sliceSize below 1.
func SlicePieces(r ByteRange, sliceSize int64) []SlicePiece {
	if sliceSize < 1 || r.Length <= 0 || r.Start < 0 {
		return nil
	}
	var out []SlicePiece
	for pos, end := r.Start, r.Start+r.Length; pos < end; {
		i := pos / sliceSize
		off := pos - i*sliceSize
		n := min(sliceSize-off, end-pos)
		out = append(out, SlicePiece{Index: i, Offset: off, Length: n})
		pos += n
	}
	return out
}

// SlicesFor returns the indices of the slices that cover all of ranges
// (from ParseRange, so satisfiable within the representation), sorted and
// without repeats: one fetch per slice however many ranges it serves. The
// result has up to SliceCount(size, sliceSize) entries; the caller picks a
// slice size that keeps that number reasonable for its largest objects.
func SlicesFor(ranges []ByteRange, sliceSize int64) []int64 {
	if sliceSize < 1 {
		return nil
	}
	var out []int64
	for _, r := range ranges {
		if r.Length <= 0 || r.Start < 0 {
			continue
		}
		for i, last := r.Start/sliceSize, (r.Start+r.Length-1)/sliceSize; i <= last; i++ {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	n := 0
	for i, v := range out {
		if i == 0 || v != out[n-1] {
			out[n] = v
			n++
		}
	}
	return out[:n]
}

// SliceCount returns the number of slices of a representation of size
// bytes.
func SliceCount(size, sliceSize int64) int64 {
	if sliceSize < 1 || size <= 0 {
		return 0
	}
	return (size-1)/sliceSize + 1
}

// ProbeSlice returns the slice to fetch first for a Range field value when
// the representation's size is not known yet: the slice holding the first
// byte of the first int-range, else slice 0 (a suffix range, or a field
// ParseRange would ignore). The response's Content-Range then gives the
// size (ParseContentRange), and ParseRange plans the rest.
func ProbeSlice(rangeHeader string, sliceSize int64) int64 {
	if sliceSize < 1 {
		return 0
	}
	if rs, err := ParseRange(rangeHeader, 1<<62); err != nil || len(rs) == 0 {
		return 0
	}
	// ParseRange accepted it, so it is "bytes=" and a list of range-specs.
	set := rangeHeader[strings.IndexByte(rangeHeader, '=')+1:]
	for set != "" {
		var spec string
		spec, set, _ = strings.Cut(set, ",")
		if spec = trimOWS(spec); spec == "" {
			continue
		}
		first, _, _ := strings.Cut(spec, "-")
		if n, ok := digits(first); ok {
			return n / sliceSize
		}
		return 0 // a suffix range: its slice depends on the size
	}
	return 0
}

// ParseContentRange parses the Content-Range of a 206 (RFC 9110 §14.4):
// "bytes first-last/complete-length" or "bytes first-last/*". size is -1
// when the complete length is unknown. ok is false for anything else,
// including "bytes */size" (a 416's) and a last byte at or beyond size.
func ParseContentRange(v string) (r ByteRange, size int64, ok bool) {
	v = trimOWS(v)
	sp := strings.IndexByte(v, ' ')
	if sp < 0 || !equalFoldASCII(v[:sp], "bytes") {
		return ByteRange{}, 0, false
	}
	v = v[sp+1:]
	slash := strings.IndexByte(v, '/')
	dash := strings.IndexByte(v, '-')
	if slash < 0 || dash < 0 || dash > slash {
		return ByteRange{}, 0, false
	}
	first, ok1 := digits(v[:dash])
	last, ok2 := digits(v[dash+1 : slash])
	if !ok1 || !ok2 || last < first || last == 1<<63-1 {
		return ByteRange{}, 0, false
	}
	size = -1
	if rest := v[slash+1:]; rest != "*" {
		var ok3 bool
		if size, ok3 = digits(rest); !ok3 || last >= size {
			return ByteRange{}, 0, false
		}
	}
	return ByteRange{Start: first, Length: last - first + 1}, size, true
}

// CanCombineParts reports whether a newly received part (a 206's header)
// may be combined with the stored parts of a representation (stored, the
// header stored with them) into one response (RFC 9111 §3.4): only when
// both carry the same strong validator — the same strong entity-tag, or,
// when neither has an entity-tag, the same Last-Modified that is strong in
// both (StrongLastModified: at least 60 s before Date). Weak validators and
// none at all never combine: the parts could come from different
// representations.
func CanCombineParts(stored, part http.Header) bool {
	sTag, _ := Validators(stored)
	pTag, _ := Validators(part)
	if sTag != "" || pTag != "" {
		s, ok1 := ParseETag(sTag)
		p, ok2 := ParseETag(pTag)
		return ok1 && ok2 && !s.Weak && !p.Weak && s.Opaque == p.Opaque
	}
	s, ok1 := StrongLastModified(stored)
	p, ok2 := StrongLastModified(part)
	return ok1 && ok2 && s.Equal(p)
}
