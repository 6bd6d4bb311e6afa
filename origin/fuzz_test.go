package origin

import (
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzParseRange checks that any Range value yields ranges inside the
// representation, or a clean refusal.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=0-0,-1", "bytes=1-0", "bytes=,,", "x=1-2", "bytes=99999999999999999999-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		ranges, out := parseRange(v, size)
		if out != rangeSatisfiable && len(ranges) != 0 {
			t.Fatalf("outcome %d with %d ranges", out, len(ranges))
		}
		if out == rangeSatisfiable && len(ranges) == 0 {
			t.Fatal("satisfiable without ranges")
		}
		for _, r := range ranges {
			if r.start < 0 || r.length <= 0 || r.start+r.length > size {
				t.Fatalf("range %+v outside a %d-byte representation", r, size)
			}
		}
	})
}

// FuzzPreconditions checks that any conditional header values are evaluated
// without panicking.
func FuzzPreconditions(f *testing.F) {
	f.Add(`"a", W/"b"`, "Mon, 02 Jan 2006 15:04:05 GMT", `W/"a"`)
	f.Add("*", "garbage", `"`)
	f.Fuzz(func(t *testing.T, tags, date, ifRange string) {
		h := http.Header{"If-Match": {tags}, "If-None-Match": {tags}, "If-Modified-Since": {date}, "If-Unmodified-Since": {date}}
		evalPreconditions(http.MethodGet, h, `"a"`, time.Unix(1136214245, 0))
		evalIfRange([]string{ifRange}, `"a"`, time.Unix(1136214245, 0))
		matchETags([]string{tags}, `"a"`, true)
	})
}

// FuzzGenParams checks that any query string is either refused or parsed
// into values that respect their bounds and are safe to send as fields.
func FuzzGenParams(f *testing.F) {
	f.Add("size=10&cc=max-age%3D1&vary=a,b&tags=x+y&ctype=text/plain")
	f.Add("size=-1&status=999&abort=%zz")
	f.Fuzz(func(t *testing.T, q string) {
		p, err := parseGenParams(q, 1<<20)
		if err != nil {
			return
		}
		if p.size < 0 || p.size > 1<<20 || p.delay < 0 || p.delay > maxDelay {
			t.Fatalf("out of bounds: %+v", p)
		}
		for _, v := range []string{p.cc, p.cdncc, p.setCookie, p.tags, p.contentType, strings.Join(p.vary, ", ")} {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("field value %q would split a header", v)
			}
		}
	})
}

// FuzzFileName checks that no URL path maps to a name outside the root.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/../x", "/a/../../x", "/.git/config", "/a\\..\\b", "//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		name, _, ok := fileName(p)
		if !ok {
			return
		}
		if !fs.ValidPath(name) || name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/.") || strings.HasPrefix(name, ".") && name != "." {
			t.Fatalf("fileName(%q) = %q", p, name)
		}
	})
}
