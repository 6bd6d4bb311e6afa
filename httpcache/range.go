package httpcache

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrUnsatisfiable is returned (wrapped) by ParseRange when no range of a
// valid Range field overlaps the representation: the answer is 416 (Range Not
// Satisfiable) with Content-Range "bytes */size" (RFC 9110 §15.5.17).
var ErrUnsatisfiable = errors.New("range not satisfiable")

// MaxRanges is the number of ranges above which a Range field is ignored and
// the whole representation sent, a protection against requests for very
// many small ranges (RFC 9110 §14.2 allows ignoring such requests).
const MaxRanges = 100

// coalesceGap is the largest gap between two ranges that ParseRange closes
// by merging them: about the size of a multipart part's header, so merging
// never sends more than separate parts would (RFC 9110 §14.6).
const coalesceGap = 80

// ByteRange is a satisfiable byte range: Length bytes from offset Start.
type ByteRange struct{ Start, Length int64 }

// ContentRange returns the Content-Range field value for r within a
// representation of size bytes, e.g. "bytes 0-99/1000" (RFC 9110 §14.4).
func (r ByteRange) ContentRange(size int64) string {
	b := make([]byte, 0, 48)
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, r.Start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.Start+r.Length-1, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, size, 10)
	return string(b)
}

// UnsatisfiedContentRange returns the Content-Range field value of a 416
// response for a representation of size bytes: "bytes */size" (RFC 9110
// §14.4).
func UnsatisfiedContentRange(size int64) string {
	return "bytes */" + strconv.FormatInt(size, 10)
}

// ParseRange parses a Range field (RFC 9110 §14.2) for a representation of
// size bytes and returns the satisfiable ranges, in request order, with
// overlapping, adjacent and nearly adjacent ranges coalesced (§14.6).
//
// It returns (nil, nil) when the field must or may be ignored and the whole
// representation sent with 200: an empty field, a unit other than "bytes",
// invalid syntax (§14.2: a server MAY ignore an invalid Range), more than
// MaxRanges ranges, or a zero-length representation asked for by a suffix
// range. It returns an error wrapping ErrUnsatisfiable when no range
// overlaps the representation (416).
func ParseRange(header string, size int64) ([]ByteRange, error) {
	header = trimOWS(header)
	eq := strings.IndexByte(header, '=')
	if eq < 0 || !equalFoldASCII(header[:eq], "bytes") || size < 0 {
		return nil, nil
	}
	var out []ByteRange
	n := 0
	emptySuffix := false
	for set := header[eq+1:]; set != ""; {
		var spec string
		if i := strings.IndexByte(set, ','); i >= 0 {
			spec, set = set[:i], set[i+1:]
		} else {
			spec, set = set, ""
		}
		if spec = trimOWS(spec); spec == "" {
			continue // empty list members are ignored (§5.6.1)
		}
		if n++; n > MaxRanges {
			return nil, nil
		}
		dash := strings.IndexByte(spec, '-')
		if dash < 0 {
			return nil, nil
		}
		if dash == 0 { // suffix-range
			suffix, ok := digits(spec[1:])
			if !ok {
				return nil, nil
			}
			switch {
			case suffix == 0:
			case size == 0:
				emptySuffix = true
			default:
				start := max(0, size-suffix)
				out = append(out, ByteRange{Start: start, Length: size - start})
			}
			continue
		}
		first, ok := digits(spec[:dash])
		if !ok {
			return nil, nil
		}
		last := int64(-1)
		if rest := spec[dash+1:]; rest != "" {
			if last, ok = digits(rest); !ok || last < first {
				return nil, nil
			}
		}
		if first >= size {
			continue // unsatisfiable int-range
		}
		if last < 0 || last >= size {
			last = size - 1
		}
		out = append(out, ByteRange{Start: first, Length: last - first + 1})
	}
	if n == 0 {
		return nil, nil // "bytes=" with no range-spec is invalid
	}
	if len(out) == 0 {
		if emptySuffix {
			return nil, nil
		}
		return nil, fmt.Errorf("range %.64q of a %d-byte representation: %w", header, size, ErrUnsatisfiable)
	}
	return coalesce(out), nil
}

// digits parses 1*DIGIT, saturating instead of overflowing.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<62)/10 {
			v = 1 << 62
			continue
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// coalesce merges ranges that overlap or lie within coalesceGap bytes of
// each other. Each merged range takes the place of its earliest member, so
// the response keeps the request's order (§14.6).
func coalesce(rs []ByteRange) []ByteRange {
	if len(rs) < 2 {
		return rs
	}
	type item struct {
		r   ByteRange
		idx int
	}
	items := make([]item, len(rs))
	for i, r := range rs {
		items[i] = item{r, i}
	}
	sort.Slice(items, func(a, b int) bool { return items[a].r.Start < items[b].r.Start })
	merged := items[:1]
	for _, it := range items[1:] {
		cur := &merged[len(merged)-1]
		end := cur.r.Start + cur.r.Length
		if it.r.Start <= end+coalesceGap {
			if e := it.r.Start + it.r.Length; e > end {
				cur.r.Length = e - cur.r.Start
			}
			cur.idx = min(cur.idx, it.idx)
			continue
		}
		merged = append(merged, it)
	}
	sort.Slice(merged, func(a, b int) bool { return merged[a].idx < merged[b].idx })
	out := make([]ByteRange, len(merged))
	for i, it := range merged {
		out[i] = it.r
	}
	return out
}

// IfRangeMatches evaluates an If-Range field (RFC 9110 §13.1.5) against the
// representation's entity-tag field value and last modification time: an
// entity-tag matches only under strong comparison, a date only when it
// equals lastModified exactly. Pass a zero lastModified when the
// representation's Last-Modified is not a strong validator (see
// StrongLastModified). When it returns false, the range is ignored and the
// whole representation sent.
func IfRangeMatches(ifRange string, etag string, lastModified time.Time) bool {
	v := trimOWS(ifRange)
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return StrongMatch(v, etag)
	}
	if lastModified.IsZero() {
		return false
	}
	t, ok := ParseHTTPDate(v)
	return ok && t.Equal(lastModified.Truncate(time.Second))
}
