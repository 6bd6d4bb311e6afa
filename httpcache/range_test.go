package httpcache

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	br := func(start, length int64) ByteRange { return ByteRange{start, length} }
	tests := []struct {
		name   string
		header string
		size   int64
		want   []ByteRange
		unsat  bool
	}{
		// The examples of RFC 9110 §14.1.2, for a 10000-byte representation.
		{"RFC9110-14.1.2-first-500", "bytes=0-499", 10000, []ByteRange{br(0, 500)}, false},
		{"RFC9110-14.1.2-second-500", "bytes=500-999", 10000, []ByteRange{br(500, 500)}, false},
		{"RFC9110-14.1.2-second-500-split", "bytes=500-600,601-999", 10000, []ByteRange{br(500, 500)}, false},
		{"RFC9110-14.1.2-second-500-overlapping", "bytes=500-700,601-999", 10000, []ByteRange{br(500, 500)}, false},
		{"RFC9110-14.1.2-final-500-suffix", "bytes=-500", 10000, []ByteRange{br(9500, 500)}, false},
		{"RFC9110-14.1.2-final-500-open", "bytes=9500-", 10000, []ByteRange{br(9500, 500)}, false},
		{"RFC9110-14.1.2-first-and-last-byte", "bytes=0-0,-1", 10000, []ByteRange{br(0, 1), br(9999, 1)}, false},
		{"RFC9110-14.1.1-last-pos-clamped", "bytes=9000-20000", 10000, []ByteRange{br(9000, 1000)}, false},
		{"RFC9110-14.1.1-suffix-longer-than-representation", "bytes=-20000", 10000, []ByteRange{br(0, 10000)}, false},
		{"RFC9110-14.1-unit-case-insensitive", "Bytes=0-9", 100, []ByteRange{br(0, 10)}, false},
		{"RFC9110-5.6.1-ows-around-commas", "bytes=0-9 , 200-209,", 1000, []ByteRange{br(0, 10), br(200, 10)}, false},
		{"RFC9110-14.6-request-order-kept", "bytes=500-599,0-99", 1000, []ByteRange{br(500, 100), br(0, 100)}, false},
		{"RFC9110-14.6-small-gap-coalesced", "bytes=0-9,20-29", 100, []ByteRange{br(0, 30)}, false},
		{"RFC9110-14.1.1-unsatisfiable-dropped", "bytes=0-9,200-300", 100, []ByteRange{br(0, 10)}, false},
		{"RFC9110-14.2-absent", "", 100, nil, false},
		{"RFC9110-14.2-unknown-unit-ignored", "items=0-9", 100, nil, false},
		{"RFC9110-14.2-invalid-ignored-last-before-first", "bytes=9-0", 100, nil, false},
		{"RFC9110-14.2-invalid-ignored-syntax", "bytes=a-b", 100, nil, false},
		{"RFC9110-14.2-invalid-ignored-no-dash", "bytes=5", 100, nil, false},
		{"RFC9110-14.2-invalid-ignored-empty-set", "bytes=", 100, nil, false},
		{"RFC9110-14.2-invalid-ignored-negative", "bytes=--5", 100, nil, false},
		{"RFC9110-14.1.1-unsatisfiable-first-pos", "bytes=100-", 100, nil, true},
		{"RFC9110-14.1.1-unsatisfiable-zero-suffix", "bytes=-0", 100, nil, true},
		{"RFC9110-14.1.1-zero-length-int-range", "bytes=0-", 0, nil, true},
		{"RFC9110-14.1.1-zero-length-suffix-serves-whole", "bytes=-5", 0, nil, false},
		{"RFC9110-14.1.1-huge-numbers", "bytes=99999999999999999999999-", 100, nil, true},
		{"RFC9110-14.1.1-huge-last-pos", "bytes=1-99999999999999999999999", 100, []ByteRange{br(1, 99)}, false},
		{"RFC9110-14.2-too-many-ranges-ignored", "bytes=" + strings.Repeat("0-0,", MaxRanges+1), 100, nil, false},
		{"RFC9110-14.2-many-ranges-coalesced", "bytes=" + strings.Repeat("0-0,", MaxRanges), 100, []ByteRange{br(0, 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRange(tt.header, tt.size)
			if tt.unsat {
				if !errors.Is(err, ErrUnsatisfiable) {
					t.Fatalf("ParseRange = %v, %v; want ErrUnsatisfiable", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseRange = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestContentRange(t *testing.T) {
	// RFC 9110 §14.4 examples.
	if got := (ByteRange{42, 1192}).ContentRange(1234); got != "bytes 42-1233/1234" {
		t.Errorf("RFC9110-14.4 ContentRange = %q", got)
	}
	if got := UnsatisfiedContentRange(1234); got != "bytes */1234" {
		t.Errorf("RFC9110-14.4 UnsatisfiedContentRange = %q", got)
	}
}

func TestIfRangeMatches(t *testing.T) {
	lm := t0.Add(-time.Hour)
	tests := []struct {
		name    string
		ifRange string
		etag    string
		lm      time.Time
		want    bool
	}{
		{"RFC9110-13.1.5-strong-etag", `"a"`, `"a"`, lm, true},
		{"RFC9110-13.1.5-etag-mismatch", `"b"`, `"a"`, lm, false},
		{"RFC9110-13.1.5-weak-etag-never", `W/"a"`, `W/"a"`, lm, false},
		{"RFC9110-13.1.5-date-exact", date(-time.Hour), "", lm, true},
		{"RFC9110-13.1.5-date-earlier", date(-2 * time.Hour), "", lm, false},
		{"RFC9110-13.1.5-date-later", date(0), "", lm, false},
		{"RFC9110-13.1.5-weak-date-unknown", date(-time.Hour), "", time.Time{}, false},
		{"RFC9110-13.1.5-garbage", "yesterday", `"a"`, lm, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IfRangeMatches(tt.ifRange, tt.etag, tt.lm); got != tt.want {
				t.Fatalf("IfRangeMatches = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-499", "bytes=-500", "bytes=0-0,-1", "bytes=500-700,601-999", "bytes=9-0", "bytes=", "x=1-2"} {
		f.Add(s, int64(10000))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		rs, err := ParseRange(header, size)
		if err != nil {
			if !errors.Is(err, ErrUnsatisfiable) || rs != nil {
				t.Fatalf("ParseRange(%q, %d) = %v, %v", header, size, rs, err)
			}
			return
		}
		if len(rs) > MaxRanges {
			t.Fatalf("%d ranges", len(rs))
		}
		for i, r := range rs {
			if r.Start < 0 || r.Length <= 0 || r.Start+r.Length > size || r.Start+r.Length < r.Start {
				t.Fatalf("ParseRange(%q, %d): range %+v out of bounds", header, size, r)
			}
			for _, o := range rs[:i] {
				if r.Start < o.Start+o.Length && o.Start < r.Start+r.Length {
					t.Fatalf("ParseRange(%q, %d): %+v overlaps %+v", header, size, r, o)
				}
			}
		}
	})
}
