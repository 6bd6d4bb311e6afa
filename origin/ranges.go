package origin

import (
	"math"
	"strconv"
	"strings"
)

// maxRanges bounds the range-specs honoured in one Range header; a request
// with more is answered in full, as RFC 9110 §14.2 allows.
const maxRanges = 64

// byteRange is one satisfiable range of a representation.
type byteRange struct {
	start, length int64
}

// contentRange formats the Content-Range value of r (RFC 9110 §14.4).
func (r byteRange) contentRange(size int64) string {
	b := make([]byte, 0, 48)
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, r.start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.start+r.length-1, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, size, 10)
	return string(b)
}

// rangeOutcome says what to do with a request's Range header.
type rangeOutcome int

const (
	// rangeIgnore: no usable Range header; send the whole representation.
	rangeIgnore rangeOutcome = iota
	// rangeSatisfiable: send the ranges returned (206).
	rangeSatisfiable
	// rangeUnsatisfiable: send 416 with Content-Range: bytes */size.
	rangeUnsatisfiable
)

// parseRange interprets a Range field value (RFC 9110 §14.1.2, §14.2) against
// a representation of size bytes. A value with bad syntax or another unit is
// ignored, as are, by choice, ranges over an empty representation, more than
// maxRanges specs, and multiple ranges adding up to more than the whole.
// Unsatisfiable specs are dropped; if none is left the outcome is
// rangeUnsatisfiable. Satisfiable ranges are returned in request order,
// clamped to the representation.
func parseRange(v string, size int64) ([]byteRange, rangeOutcome) {
	unit, set, ok := strings.Cut(strings.TrimSpace(v), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || size <= 0 {
		return nil, rangeIgnore
	}
	var ranges []byteRange
	specs, total := 0, int64(0)
	for spec := range strings.SplitSeq(set, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue // 1#element allows empty list elements (RFC 9110 §5.6.1)
		}
		specs++
		if specs > maxRanges {
			return nil, rangeIgnore
		}
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, rangeIgnore
		}
		var r byteRange
		if first == "" {
			// suffix-range: the last n bytes.
			n, ok := parseDigits(last)
			if !ok {
				return nil, rangeIgnore
			}
			if n == 0 {
				continue // unsatisfiable
			}
			n = min(n, size)
			r = byteRange{start: size - n, length: n}
		} else {
			start, ok := parseDigits(first)
			if !ok {
				return nil, rangeIgnore
			}
			end := int64(math.MaxInt64)
			if last != "" {
				if end, ok = parseDigits(last); !ok || end < start {
					return nil, rangeIgnore
				}
			}
			if start >= size {
				continue // unsatisfiable
			}
			end = min(end, size-1)
			r = byteRange{start: start, length: end - start + 1}
		}
		total += r.length
		ranges = append(ranges, r)
	}
	switch {
	case specs == 0:
		return nil, rangeIgnore
	case len(ranges) == 0:
		return nil, rangeUnsatisfiable
	case len(ranges) > 1 && total > size:
		return nil, rangeIgnore
	}
	return ranges, rangeSatisfiable
}

// parseDigits parses 1*DIGIT, saturating at math.MaxInt64.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// byterangesLayout describes a multipart/byteranges body (RFC 9110 §14.6): the
// header block before each part and the closing delimiter.
type byterangesLayout struct {
	heads []string
	tail  string
}

// newMultipart lays out the multipart/byteranges body for ranges of a
// representation of the given size and Content-Type. The layout matches
// mime/multipart's: a CRLF precedes every delimiter but the first.
func newMultipart(ranges []byteRange, contentType string, size int64, boundary string) byterangesLayout {
	m := byterangesLayout{heads: make([]string, len(ranges))}
	for i, r := range ranges {
		var b strings.Builder
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("--")
		b.WriteString(boundary)
		b.WriteString("\r\nContent-Type: ")
		b.WriteString(contentType)
		b.WriteString("\r\nContent-Range: ")
		b.WriteString(r.contentRange(size))
		b.WriteString("\r\n\r\n")
		m.heads[i] = b.String()
	}
	m.tail = "\r\n--" + boundary + "--\r\n"
	return m
}

// length is the byte length of the whole multipart body.
func (m byterangesLayout) length(ranges []byteRange) int64 {
	n := int64(len(m.tail))
	for i, r := range ranges {
		n += int64(len(m.heads[i])) + r.length
	}
	return n
}
