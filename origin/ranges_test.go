package origin

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name  string
		field string
		size  int64
		want  []byteRange
		out   rangeOutcome
	}{
		// RFC 9110 §14.1.2 examples on a 10000-byte representation.
		{"first 500", "bytes=0-499", 10000, []byteRange{{0, 500}}, rangeSatisfiable},
		{"second 500", "bytes=500-999", 10000, []byteRange{{500, 500}}, rangeSatisfiable},
		{"final 500 suffix", "bytes=-500", 10000, []byteRange{{9500, 500}}, rangeSatisfiable},
		{"final 500 open", "bytes=9500-", 10000, []byteRange{{9500, 500}}, rangeSatisfiable},
		{"first and last", "bytes=0-0,-1", 10000, []byteRange{{0, 1}, {9999, 1}}, rangeSatisfiable},
		{"OWS around commas", "bytes= 0-1 , 5-6 ", 10000, []byteRange{{0, 2}, {5, 2}}, rangeSatisfiable},
		{"unit case-insensitive", "Bytes=0-1", 10, []byteRange{{0, 2}}, rangeSatisfiable},
		// §14.1.1: last-pos past the end is clamped; suffix longer than the
		// representation is the whole.
		{"last past end", "bytes=5-100", 10, []byteRange{{5, 5}}, rangeSatisfiable},
		{"suffix past start", "bytes=-100", 10, []byteRange{{0, 10}}, rangeSatisfiable},
		{"huge last", "bytes=0-99999999999999999999999", 10, []byteRange{{0, 10}}, rangeSatisfiable},
		// Unsatisfiable specs are dropped; none left is 416 (§15.5.17).
		{"start at end", "bytes=10-", 10, nil, rangeUnsatisfiable},
		{"zero suffix", "bytes=-0", 10, nil, rangeUnsatisfiable},
		{"one of two satisfiable", "bytes=20-30,0-1", 10, []byteRange{{0, 2}}, rangeSatisfiable},
		// Bad syntax or another unit: ignore the field (§14.2).
		{"other unit", "items=0-1", 10, nil, rangeIgnore},
		{"no equals", "bytes 0-1", 10, nil, rangeIgnore},
		{"reversed", "bytes=5-1", 10, nil, rangeIgnore},
		{"no dash", "bytes=5", 10, nil, rangeIgnore},
		{"sign", "bytes=+1-2", 10, nil, rangeIgnore},
		{"empty set", "bytes=", 10, nil, rangeIgnore},
		{"letters", "bytes=a-b", 10, nil, rangeIgnore},
		{"empty representation", "bytes=0-1", 0, nil, rangeIgnore},
		// Chosen limits: overlapping ranges adding up to more than the whole.
		{"overlap beyond size", "bytes=0-9,0-9", 10, nil, rangeIgnore},
		{"too many", "bytes=" + strings.Repeat("0-0,", maxRanges) + "1-1", 1000, nil, rangeIgnore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, out := parseRange(tc.field, tc.size)
			if out != tc.out || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseRange(%q, %d) = %v, %d; want %v, %d", tc.field, tc.size, got, out, tc.want, tc.out)
			}
		})
	}
}

func TestRangeSingle(t *testing.T) {
	_, ts := startServer(t, Config{})
	u := ts.URL + "/gen/r?size=10000&ctype=text/plain"
	_, whole := get(t, u)
	for _, tc := range []struct {
		field      string
		start, end int
	}{
		{"bytes=0-99", 0, 99},
		{"bytes=9990-", 9990, 9999},
		{"bytes=-1", 9999, 9999},
		{"bytes=123-4567", 123, 4567},
	} {
		res, body := get(t, u, "Range", tc.field)
		if res.StatusCode != http.StatusPartialContent {
			t.Fatalf("%s: status %d", tc.field, res.StatusCode)
		}
		wantCR := "bytes " + strconv.Itoa(tc.start) + "-" + strconv.Itoa(tc.end) + "/10000"
		if got := res.Header.Get("Content-Range"); got != wantCR {
			t.Errorf("%s: Content-Range %q, want %q", tc.field, got, wantCR)
		}
		if !bytes.Equal(body, whole[tc.start:tc.end+1]) {
			t.Errorf("%s: body is not the requested slice", tc.field)
		}
		if res.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("%s: Content-Type %q", tc.field, res.Header.Get("Content-Type"))
		}
	}
}

// TestRangeFarEnd asks for the last bytes of an 8 GiB object; the generator
// produces them directly.
func TestRangeFarEnd(t *testing.T) {
	_, ts := startServer(t, Config{})
	u := ts.URL + "/gen/huge?digest=0&size=" + strconv.FormatInt(8<<30, 10)
	res, body := get(t, u, "Range", "bytes=-100")
	if res.StatusCode != 206 || len(body) != 100 {
		t.Fatalf("status %d, %d bytes", res.StatusCode, len(body))
	}
	_, tail := get(t, u, "Range", "bytes=8589934542-")
	if !bytes.Equal(body[50:], tail) {
		t.Error("overlapping tail ranges disagree")
	}
}

func TestRangeMultiple(t *testing.T) {
	_, ts := startServer(t, Config{})
	u := ts.URL + "/gen/m?size=5000&ctype=application/json"
	_, whole := get(t, u)
	res, body := get(t, u, "Range", "bytes=0-9, 100-199, -5")
	if res.StatusCode != http.StatusPartialContent {
		t.Fatalf("status %d", res.StatusCode)
	}
	if res.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d, body %d bytes", res.ContentLength, len(body))
	}
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q (%v)", res.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	want := []struct {
		cr         string
		start, end int
	}{{"bytes 0-9/5000", 0, 9}, {"bytes 100-199/5000", 100, 199}, {"bytes 4995-4999/5000", 4995, 4999}}
	for i, w := range want {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if got := part.Header.Get("Content-Range"); got != w.cr {
			t.Errorf("part %d: Content-Range %q, want %q", i, got, w.cr)
		}
		if got := part.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("part %d: Content-Type %q", i, got)
		}
		data, _ := io.ReadAll(part)
		if !bytes.Equal(data, whole[w.start:w.end+1]) {
			t.Errorf("part %d: data is not the requested slice", i)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("after the last part: %v, want EOF", err)
	}
}

func TestRangeUnsatisfiable(t *testing.T) {
	_, ts := startServer(t, Config{})
	res, body := get(t, ts.URL+"/gen/u?size=100&cc=max-age=60", "Range", "bytes=100-")
	if res.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("status %d, want 416", res.StatusCode)
	}
	if got := res.Header.Get("Content-Range"); got != "bytes */100" {
		t.Errorf("Content-Range %q, want bytes */100 (RFC 9110 §15.5.17)", got)
	}
	if len(body) != 0 {
		t.Errorf("416 with %d body bytes", len(body))
	}
}

func TestRangeIgnored(t *testing.T) {
	_, ts := startServer(t, Config{})
	u := ts.URL + "/gen/i?size=100"
	first, _ := get(t, u)
	etag, lm := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
	tests := []struct {
		name   string
		method string
		header []string
		want   int
	}{
		{"syntax error", "GET", []string{"Range", "bytes=x"}, 200},
		{"If-Range current tag", "GET", []string{"Range", "bytes=0-1", "If-Range", etag}, 206},
		{"If-Range old tag", "GET", []string{"Range", "bytes=0-1", "If-Range", `"old"`}, 200},
		{"If-Range weak tag", "GET", []string{"Range", "bytes=0-1", "If-Range", "W/" + etag}, 200},
		{"If-Range current date", "GET", []string{"Range", "bytes=0-1", "If-Range", lm}, 206},
		{"If-Range old date", "GET", []string{"Range", "bytes=0-1", "If-Range", "Mon, 01 Jan 2001 00:00:00 GMT"}, 200},
		// RFC 9110 §14.2: Range is defined for GET only.
		{"HEAD", "HEAD", []string{"Range", "bytes=0-1"}, 200},
	}
	for _, tc := range tests {
		res, _ := fetch(t, tc.method, u, tc.header...)
		if res.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, res.StatusCode, tc.want)
		}
	}
}
