package edge

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfcdn/cdn/purge"
)

// genContent is a large representation made up on the fly: byte i of
// version v is a function of both, so no test holds the object whole.
type genContent struct {
	size, pos int64
	version   byte
}

func genByte(i int64, v byte) byte { return byte(i*31+i>>11) ^ v }

func (g *genContent) Read(p []byte) (int, error) {
	if g.pos >= g.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), g.size-g.pos)
	for i := range n {
		p[i] = genByte(g.pos+i, g.version)
	}
	g.pos += n
	return int(n), nil
}

func (g *genContent) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		g.pos = off
	case io.SeekCurrent:
		g.pos += off
	case io.SeekEnd:
		g.pos = g.size + off
	}
	return g.pos, nil
}

func genRange(start, n int64, v byte) []byte {
	b := make([]byte, n)
	for i := range n {
		b[i] = genByte(start+i, v)
	}
	return b
}

// rangeOrigin serves objects of the given size with http.ServeContent
// (ranges, multipart, strong ETag), counting requests and body bytes.
type rangeOrigin struct {
	*httptest.Server
	size      int64
	version   atomic.Int32
	requests  atomic.Int64
	finished  atomic.Int64 // requests whose handler has returned
	bytesSent atomic.Int64
	mu        sync.Mutex
	ranges    []string
	noRanges  bool // answer 200 whatever the Range
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func startRangeOrigin(t *testing.T, size int64) *rangeOrigin {
	o := &rangeOrigin{size: size}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		o.mu.Lock()
		o.ranges = append(o.ranges, r.Header.Get("Range"))
		o.mu.Unlock()
		v := byte(o.version.Load())
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, v))
		w.Header().Set("Content-Type", "video/mp4")
		if o.noRanges {
			r.Header.Del("Range")
		}
		http.ServeContent(countingWriter{w, &o.bytesSent}, r, "", time.Time{}, &genContent{size: o.size, version: v})
		o.finished.Add(1)
	}))
	t.Cleanup(o.Close)
	return o
}

// settle waits until every request's handler has returned, so that the
// byte count is final.
func (o *rangeOrigin) settle(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); o.finished.Load() < o.requests.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("origin handlers still running: %d of %d finished", o.finished.Load(), o.requests.Load())
		}
	}
}

func (o *rangeOrigin) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ranges...)
}

// sliceEdges starts a single edge, or an edge behind a shield, in front of
// o with slices of sliceSize bytes.
func sliceEdges(t *testing.T, o *rangeOrigin, sliceSize int64, chain bool) *testEdge {
	site := []Site{{Host: "assets.example.com", Origin: "main", Slice: sliceSize}}
	origins := map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}}
	if !chain {
		return startEdge(t, Config{Name: "edge-1", Sites: site, Origins: origins})
	}
	sh := startEdge(t, Config{Name: "shield-1", Role: RoleShield, Sites: site, Origins: origins})
	return startEdge(t, Config{Name: "edge-1", Sites: site, Origins: origins, Shields: []Upstream{{Name: "shield-1", URL: sh.URL}}})
}

func rangeGet(t *testing.T, url, rng string) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = "assets.example.com"
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: body: %v", rng, err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

// multipartParts returns the Content-Range and body of each part.
func multipartParts(t *testing.T, r result) (ranges []string, bodies [][]byte) {
	t.Helper()
	_, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", r.header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return ranges, bodies
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		ranges = append(ranges, p.Header.Get("Content-Range"))
		bodies = append(bodies, b)
	}
}

// TestSlicedRangesOfALargeObject: ranges of a large object cost the
// origin the slices that hold them, not the object, through one edge and
// through an edge and its shield; repeated, they are hits.
func TestSlicedRangesOfALargeObject(t *testing.T) {
	const size = 48 << 20
	const slice = 1 << 20
	for _, chain := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain=%v", chain), func(t *testing.T) {
			o := startRangeOrigin(t, size)
			e := sliceEdges(t, o, slice, chain)
			url := e.URL + "/movie.mp4"
			cases := []struct {
				name, rng  string
				start, n   int64
				newSlices  int64
				contentRng string
			}{
				{"first byte", "bytes=0-0", 0, 1, 1, "bytes 0-0/50331648"},
				{"middle", "bytes=25165824-25166823", 25165824, 1000, 1, "bytes 25165824-25166823/50331648"},
				{"across two slices", "bytes=3145000-3146000", 3145000, 1001, 2, "bytes 3145000-3146000/50331648"},
				{"suffix", "bytes=-100", size - 100, 100, 1, "bytes 50331548-50331647/50331648"},
			}
			for _, tc := range cases {
				o.settle(t)
				before, bytesBefore := o.requests.Load(), o.bytesSent.Load()
				r := rangeGet(t, url, tc.rng)
				if r.status != http.StatusPartialContent || r.header.Get("Content-Range") != tc.contentRng {
					t.Fatalf("%s: %d %q", tc.name, r.status, r.header.Get("Content-Range"))
				}
				if !bytes.Equal(r.body, genRange(tc.start, tc.n, 0)) {
					t.Fatalf("%s: wrong bytes", tc.name)
				}
				if got := o.requests.Load() - before; got != tc.newSlices {
					t.Errorf("%s: origin asked %d times, want %d (ranges %q)", tc.name, got, tc.newSlices, o.seen())
				}
				o.settle(t)
				if got := o.bytesSent.Load() - bytesBefore; got > tc.newSlices*slice {
					t.Errorf("%s: origin sent %d bytes for %d slices", tc.name, got, tc.newSlices)
				}
				if cs := r.header.Get("Cache-Status"); !strings.Contains(cs, "edge-1; fwd=miss; stored") {
					t.Errorf("%s: Cache-Status %q", tc.name, cs)
				}
				if r.header.Get("ETag") != `"v0"` || r.header.Get("Content-Type") != "video/mp4" {
					t.Errorf("%s: header %v", tc.name, r.header)
				}
			}
			// Two ranges at once, from stored slices (0 and 24) and one
			// new one (40): multipart/byteranges.
			before := o.requests.Load()
			r := rangeGet(t, url, "bytes=10-19,41943040-41943049")
			if r.status != http.StatusPartialContent || !strings.HasPrefix(r.header.Get("Content-Type"), "multipart/byteranges") {
				t.Fatalf("two ranges: %d %q", r.status, r.header.Get("Content-Type"))
			}
			crs, bodies := multipartParts(t, r)
			if len(crs) != 2 || crs[0] != "bytes 10-19/50331648" || crs[1] != "bytes 41943040-41943049/50331648" ||
				!bytes.Equal(bodies[0], genRange(10, 10, 0)) || !bytes.Equal(bodies[1], genRange(41943040, 10, 0)) {
				t.Fatalf("two ranges: parts %q", crs)
			}
			if got := o.requests.Load() - before; got != 1 {
				t.Errorf("two ranges: origin asked %d times, want 1", got)
			}
			o.settle(t)
			if o.bytesSent.Load() > 8*slice {
				t.Errorf("origin sent %d bytes in all, for 7 slices", o.bytesSent.Load())
			}
			// Everything again: all from the stored slices.
			before = o.requests.Load()
			for _, tc := range cases {
				r := rangeGet(t, url, tc.rng)
				if r.status != http.StatusPartialContent || !bytes.Equal(r.body, genRange(tc.start, tc.n, 0)) {
					t.Fatalf("%s again: %d", tc.name, r.status)
				}
				if cs := r.header.Get("Cache-Status"); !strings.HasSuffix(cs, "edge-1; hit") {
					t.Errorf("%s again: Cache-Status %q", tc.name, cs)
				}
			}
			if got := o.requests.Load() - before; got != 0 {
				t.Errorf("repeated ranges: origin asked %d times", got)
			}
			// Beyond the end: 416 with the size, from a slice, never the
			// whole object.
			o.settle(t)
			bytesBefore := o.bytesSent.Load()
			r = rangeGet(t, url, "bytes=60000000-")
			if r.status != http.StatusRequestedRangeNotSatisfiable || r.header.Get("Content-Range") != "bytes */50331648" {
				t.Errorf("past the end: %d %q", r.status, r.header.Get("Content-Range"))
			}
			o.settle(t)
			if got := o.bytesSent.Load() - bytesBefore; got > slice {
				t.Errorf("past the end: origin sent %d bytes", got)
			}
		})
	}
}

// TestSlicesCollapse: many clients asking for the same cold range make
// one upstream request for its slice.
func TestSlicesCollapse(t *testing.T) {
	o := startRangeOrigin(t, 8<<20)
	e := sliceEdges(t, o, 1<<20, false)
	const clients = 20
	var wg sync.WaitGroup
	res := make([]result, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, e.URL+"/big.bin", nil)
			req.Host = "assets.example.com"
			req.Header.Set("Range", "bytes=5000000-5000099")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			res[i] = result{resp.StatusCode, resp.Header, b}
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.status != http.StatusPartialContent || !bytes.Equal(r.body, genRange(5000000, 100, 0)) {
			t.Fatalf("client %d: %d, %d bytes", i, r.status, len(r.body))
		}
	}
	if n := o.requests.Load(); n != 1 {
		t.Errorf("origin asked %d times for one slice: %q", n, o.seen())
	}
}

// TestSlicesValidatorChange: stored slices of an older version are never
// combined with parts of a new one; the object is fetched again in
// slices and the response is all of one version.
func TestSlicesValidatorChange(t *testing.T) {
	for _, chain := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain=%v", chain), func(t *testing.T) {
			o := startRangeOrigin(t, 8<<20)
			e := sliceEdges(t, o, 1<<20, chain)
			url := e.URL + "/v.bin"
			if r := rangeGet(t, url, "bytes=0-99"); r.status != 206 || !bytes.Equal(r.body, genRange(0, 100, 0)) {
				t.Fatalf("v0: %d", r.status)
			}
			o.version.Store(1)
			// Slice 0 is stored (v0), slice 1 is not: it comes as v1.
			r := rangeGet(t, url, "bytes=1048000-1049000")
			if r.status != 206 || !bytes.Equal(r.body, genRange(1048000, 1001, 1)) || r.header.Get("ETag") != `"v1"` {
				t.Fatalf("across the change: %d, ETag %q, v1 bytes %v", r.status, r.header.Get("ETag"), bytes.Equal(r.body, genRange(1048000, 1001, 1)))
			}
			// And slice 0 is v1 from now on.
			if r := rangeGet(t, url, "bytes=0-99"); r.status != 206 || !bytes.Equal(r.body, genRange(0, 100, 1)) || r.header.Get("ETag") != `"v1"` {
				t.Errorf("slice 0 after the change: %d %q %q", r.status, r.header.Get("ETag"), r.header.Get("Cache-Status"))
			}
		})
	}
}

// TestSlicesFallBack: an origin that ignores ranges, and a conditional
// range request, are served the usual way (the whole object, the range
// cut from it).
func TestSlicesFallBack(t *testing.T) {
	o := startRangeOrigin(t, 300000)
	o.noRanges = true
	e := sliceEdges(t, o, 64<<10, false)
	r := rangeGet(t, e.URL+"/full.bin", "bytes=100000-100009")
	if r.status != 206 || !bytes.Equal(r.body, genRange(100000, 10, 0)) || r.header.Get("Content-Range") != "bytes 100000-100009/300000" {
		t.Fatalf("origin without ranges: %d %q", r.status, r.header.Get("Content-Range"))
	}
	// The whole object is stored now: more ranges are hits.
	before := o.requests.Load()
	r = rangeGet(t, e.URL+"/full.bin", "bytes=-5")
	if r.status != 206 || !bytes.Equal(r.body, genRange(300000-5, 5, 0)) || o.requests.Load() != before {
		t.Errorf("from the whole object: %d, origin asked %d more (%q), Cache-Status %q", r.status, o.requests.Load()-before, o.seen(), r.header.Get("Cache-Status"))
	}
}

// TestSlicesPurged: a purge of the URL covers its slices.
func TestSlicesPurged(t *testing.T) {
	o := startRangeOrigin(t, 4<<20)
	e := sliceEdges(t, o, 1<<20, false)
	url := e.URL + "/p.bin"
	rangeGet(t, url, "bytes=0-9")
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin asked %d times", n)
	}
	if err := e.ApplyPurge(purge.Event{ID: "p1", Time: time.Now().Add(time.Second), URLs: []string{"http://assets.example.com/p.bin"}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second) // the refetch leaves the origin after the purge
	r := rangeGet(t, url, "bytes=0-9")
	if r.status != 206 || o.requests.Load() != 2 {
		t.Errorf("after the purge: %d, origin asked %d times", r.status, o.requests.Load())
	}
}

// TestRangeOfAStreamedObject: with slices off, a range far into an object
// too large to store is cut from the streamed body; the unused reader at
// the start must not hold the stream's window there (it hung).
func TestRangeOfAStreamedObject(t *testing.T) {
	o := startRangeOrigin(t, 32<<20)
	site := []Site{{Host: "assets.example.com", Origin: "main"}}
	origins := map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}}
	e := startEdge(t, Config{Name: "edge-1", Sites: site, Origins: origins, Memory: 64 << 20, MaxMemoryObject: 1 << 20})
	r := rangeGet(t, e.URL+"/big", "bytes=20000000-20000099")
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, genRange(20000000, 100, 0)) {
		t.Fatalf("middle: %d, %d bytes", r.status, len(r.body))
	}
	r = rangeGet(t, e.URL+"/big2", "bytes=10-19,30000000-30000009")
	crs, bodies := multipartParts(t, r)
	if r.status != http.StatusPartialContent || len(crs) != 2 || !bytes.Equal(bodies[0], genRange(10, 10, 0)) || !bytes.Equal(bodies[1], genRange(30000000, 10, 0)) {
		t.Fatalf("two ranges: %d %q", r.status, crs)
	}
}

// TestSlicesLongRange: a range over more slices than a response fetches
// ahead is served part by part as it goes, all of one version; a change
// of version in the middle of it ends the response abruptly rather than
// mixing versions.
func TestSlicesLongRange(t *testing.T) {
	const size = 10<<20 + 12345
	o := startRangeOrigin(t, size)
	e := sliceEdges(t, o, 1<<20, false)
	url := e.URL + "/long.bin"
	r := rangeGet(t, url, "bytes=0-")
	if r.status != http.StatusPartialContent || int64(len(r.body)) != size || !bytes.Equal(r.body, genRange(0, size, 0)) {
		t.Fatalf("whole range: %d, %d bytes", r.status, len(r.body))
	}
	if n := o.requests.Load(); n != 11 {
		t.Errorf("origin asked %d times for 11 slices", n)
	}
	r = rangeGet(t, url, "bytes=1000-")
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, genRange(1000, size-1000, 0)) || o.requests.Load() != 11 {
		t.Errorf("again: %d, origin asked %d times", r.status, o.requests.Load())
	}
	// Slices 0-4 are fresh in the cache, 5-10 are dropped; the origin
	// changes version: the response cannot be completed in one version.
	for i := int64(5); i <= 10; i++ {
		e.p.store.Remove(sliceKey("http://assets.example.com/long.bin", 1<<20, i))
	}
	o.version.Store(1)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = "assets.example.com"
	req.Header.Set("Range", "bytes=0-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("a response mixing versions ended cleanly: %d bytes", len(b))
	}
	if !bytes.Equal(b, genRange(0, int64(len(b)), 0)) {
		t.Errorf("the bytes sent are not all of the first version")
	}
	// The next request is whole and of the new version.
	r = rangeGet(t, url, "bytes=0-")
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, genRange(0, size, 1)) {
		t.Errorf("after the change: %d, %d bytes", r.status, len(r.body))
	}
}

// TestSlicesIgnoredRange: a Range the edge would ignore at any size goes
// the usual way at once (a 200 of the whole object), costing the origin
// no slice first.
func TestSlicesIgnoredRange(t *testing.T) {
	o := startRangeOrigin(t, 300000)
	e := sliceEdges(t, o, 64<<10, false)
	for _, rng := range []string{"bytes=abc", "items=0-10", "bytes=5-1"} {
		before := o.requests.Load()
		r := rangeGet(t, e.URL+"/ign.bin?r="+strings.ReplaceAll(rng, "=", "_"), rng)
		if r.status != 200 || len(r.body) != 300000 {
			t.Errorf("%s: %d, %d bytes", rng, r.status, len(r.body))
		}
		if got := o.seen()[before:]; len(got) != 1 || got[0] != "" {
			t.Errorf("%s: origin saw Ranges %q, want one request for the whole object", rng, got)
		}
	}
}
