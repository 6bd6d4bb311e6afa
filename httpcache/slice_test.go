package httpcache

import (
	"reflect"
	"testing"
	"time"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

func TestSlicesFor(t *testing.T) {
	tests := []struct {
		name  string
		rng   string
		size  int64
		slice int64
		want  []int64
	}{
		{"RFC9110-14.1.2-first-byte", "bytes=0-0", gib, mib, []int64{0}},
		{"RFC9110-14.1.2-middle", "bytes=536870912-536871000", gib, mib, []int64{512}},
		{"RFC9110-14.1.2-suffix", "bytes=-500", gib, mib, []int64{1023}},
		{"RFC9110-14.1.2-two-ranges", "bytes=0-99, 1073741000-1073741823", gib, mib, []int64{0, 1023}},
		{"RFC9110-14.1.2-across-a-boundary", "bytes=1048575-1048576", gib, mib, []int64{0, 1}},
		{"RFC9110-14.1.2-open-ended", "bytes=1071644672-", gib, mib, []int64{1022, 1023}},
		{"RFC9110-14.1.2-shared-slice-fetched-once", "bytes=10-20, 500-600, 1048000-1048100", gib, mib, []int64{0}},
		{"RFC9110-14.1.2-out-of-order", "bytes=3000000-3000001, 0-1", gib, mib, []int64{0, 2}},
		{"RFC9110-14.1.2-short-last-slice", "bytes=-5", 2*mib + 5, mib, []int64{2}},
		{"RFC9110-14.1.2-suffix-across-short-last-slice", "bytes=-10", 2*mib + 5, mib, []int64{1, 2}},
		{"RFC9110-14.1.2-whole", "bytes=0-", 3 * mib, mib, []int64{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseRange(tt.rng, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			if got := SlicesFor(rs, tt.slice); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("SlicesFor(%q) = %v, want %v", tt.rng, got, tt.want)
			}
		})
	}
	if SlicesFor([]ByteRange{{0, 10}}, 0) != nil {
		t.Fatal("slice size 0 accepted")
	}
}

func TestSlicePieces(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    ByteRange
		want []SlicePiece
	}{
		{"RFC9111-3.4-within-one", ByteRange{10, 20}, []SlicePiece{{0, 10, 20}}},
		{"RFC9111-3.4-across-three", ByteRange{90, 220}, []SlicePiece{{0, 90, 10}, {1, 0, 100}, {2, 0, 100}, {3, 0, 10}}},
		{"RFC9111-3.4-aligned", ByteRange{100, 100}, []SlicePiece{{1, 0, 100}}},
		{"RFC9111-3.4-empty", ByteRange{5, 0}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SlicePieces(tc.r, 100)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("SlicePieces(%+v) = %v, want %v", tc.r, got, tc.want)
			}
			var n int64
			for _, p := range got {
				n += p.Length
			}
			if n != tc.r.Length {
				t.Fatalf("pieces hold %d bytes, want %d", n, tc.r.Length)
			}
		})
	}
}

func TestSliceBounds(t *testing.T) {
	for _, tc := range []struct {
		name               string
		index, slice, size int64
		want               ByteRange
		ok                 bool
	}{
		{"first", 0, mib, gib, ByteRange{0, mib}, true},
		{"last-short", 2, mib, 2*mib + 5, ByteRange{2 * mib, 5}, true},
		{"past-end", 3, mib, 2*mib + 5, ByteRange{}, false},
		{"unknown-size", 7, mib, -1, ByteRange{7 * mib, mib}, true},
		{"negative-index", -1, mib, gib, ByteRange{}, false},
		{"zero-slice-size", 0, 0, gib, ByteRange{}, false},
		{"overflow", 1 << 62, mib, -1, ByteRange{}, false},
	} {
		got, ok := SliceBounds(tc.index, tc.slice, tc.size)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: SliceBounds = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if got := SliceRangeHeader(2, mib); got != "bytes=2097152-3145727" {
		t.Errorf("RFC9110-14.2 SliceRangeHeader = %q", got)
	}
	if got := SliceCount(gib, mib); got != 1024 {
		t.Errorf("SliceCount(1 GiB) = %d", got)
	}
	if got := SliceCount(gib+1, mib); got != 1025 {
		t.Errorf("SliceCount(1 GiB + 1) = %d", got)
	}
}

func TestProbeSlice(t *testing.T) {
	for _, tc := range []struct {
		rng  string
		want int64
	}{
		{"bytes=536870912-536871000", 512},
		{"bytes=-500", 0},
		{"bytes= , 3145728-, 0-1", 3},
		{"items=5-6", 0},
		{"bytes=x", 0},
	} {
		if got := ProbeSlice(tc.rng, mib); got != tc.want {
			t.Errorf("RFC9110-14.2 ProbeSlice(%q) = %d, want %d", tc.rng, got, tc.want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		r    ByteRange
		size int64
		ok   bool
	}{
		{"RFC9110-14.4-example", "bytes 42-1233/1234", ByteRange{42, 1192}, 1234, true},
		{"RFC9110-14.4-unknown-length", "bytes 42-1233/*", ByteRange{42, 1192}, -1, true},
		{"RFC9110-14.4-unit-case-insensitive", "Bytes 0-0/1", ByteRange{0, 1}, 1, true},
		{"RFC9110-14.4-unsatisfied-form", "bytes */1234", ByteRange{}, 0, false},
		{"RFC9110-14.4-last-before-first", "bytes 5-4/10", ByteRange{}, 0, false},
		{"RFC9110-14.4-last-beyond-length", "bytes 0-10/10", ByteRange{}, 0, false},
		{"RFC9110-14.4-other-unit", "items 0-1/2", ByteRange{}, 0, false},
		{"RFC9110-14.4-junk", "bytes 0-1/2x", ByteRange{}, 0, false},
		{"RFC9110-14.4-no-space", "bytes0-1/2", ByteRange{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, size, ok := ParseContentRange(tc.in)
			if r != tc.r || size != tc.size || ok != tc.ok {
				t.Fatalf("ParseContentRange(%q) = %+v, %d, %v", tc.in, r, size, ok)
			}
		})
	}
}

func TestCanCombineParts(t *testing.T) {
	lm := date(-time.Hour)
	for _, tc := range []struct {
		name        string
		stored, new []string
		want        bool
	}{
		{"RFC9111-3.4-same-strong-etag", []string{"ETag", `"v1"`}, []string{"ETag", `"v1"`}, true},
		{"RFC9111-3.4-different-etag", []string{"ETag", `"v1"`}, []string{"ETag", `"v2"`}, false},
		{"RFC9111-3.4-weak-etag-never", []string{"ETag", `W/"v1"`}, []string{"ETag", `W/"v1"`}, false},
		{"RFC9111-3.4-weak-and-strong", []string{"ETag", `"v1"`}, []string{"ETag", `W/"v1"`}, false},
		{"RFC9111-3.4-etag-on-one-side", []string{"ETag", `"v1"`, "Last-Modified", lm, "Date", date(0)}, []string{"Last-Modified", lm, "Date", date(0)}, false},
		{"RFC9111-3.4-strong-last-modified", []string{"Last-Modified", lm, "Date", date(0)}, []string{"Last-Modified", lm, "Date", date(time.Minute)}, true},
		{"RFC9111-3.4-weak-last-modified", []string{"Last-Modified", date(-time.Second), "Date", date(0)}, []string{"Last-Modified", date(-time.Second), "Date", date(0)}, false},
		{"RFC9111-3.4-different-last-modified", []string{"Last-Modified", lm, "Date", date(0)}, []string{"Last-Modified", date(-2 * time.Hour), "Date", date(0)}, false},
		{"RFC9111-3.4-no-validators", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CanCombineParts(hdr(tc.stored...), hdr(tc.new...)); got != tc.want {
				t.Fatalf("CanCombineParts = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzParseContentRange: never panics, and an accepted range lies within
// the complete length.
func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 42-1233/1234")
	f.Add("bytes 0-9223372036854775807/*")
	f.Fuzz(func(t *testing.T, s string) {
		r, size, ok := ParseContentRange(s)
		if !ok {
			return
		}
		if r.Start < 0 || r.Length < 1 || (size >= 0 && r.Start+r.Length > size) {
			t.Fatalf("ParseContentRange(%q) = %+v, %d", s, r, size)
		}
		// A slice size that keeps the number of pieces small.
		for _, p := range SlicePieces(r, r.Length/64+1+r.Start%7) {
			if p.Offset < 0 || p.Length < 1 {
				t.Fatalf("piece %+v", p)
			}
		}
	})
}
