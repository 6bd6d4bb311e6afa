package edge

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

func feedAll(c *framingConn, data []byte, chunk int) {
	if chunk <= 0 {
		chunk = 1
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if c.state != fsOpaque && c.state != fsLost {
			c.feed(data[:n])
		}
		data = data[n:]
	}
}

func TestFramingGuard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  []bool // rejected, per request in order
	}{
		{"plain", "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", []bool{false, false}},
		{"RFC9112-6.1-cl-and-te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []bool{true}},
		{"RFC9112-6.3-body-skipped", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []bool{false, true}},
		{"RFC9112-7.1-chunked-body-skipped", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1\r\n\r\n", []bool{false, false}},
		{"RFC9110-5.1-case-insensitive", "POST / HTTP/1.1\r\ncontent-length: 0\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", []bool{true}},
		{"RFC9112-5.2-obs-folded-transfer-encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", []bool{true}},
		{"RFC9112-5.2-obs-folded-te-alone", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\tchunked\r\n\r\n0\r\n\r\n", []bool{true}},
		{"RFC9112-5.2-obs-folded-content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 3\r\n\r\nabc", []bool{true}},
		{"RFC9112-5.2-obs-fold-in-any-field", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", []bool{true}},
		{"RFC9112-5.2-leading-whitespace-first-field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", []bool{true}},
		{"RFC9112-5.1-space-before-colon", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello", []bool{true}},
		{"RFC9112-6.1-te-in-http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", []bool{true}},
		{"RFC9112-6.1-te-not-chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", []bool{true}},
		{"RFC9112-6.1-two-te-lines", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []bool{true}},
		{"RFC9112-6.3-conflicting-content-lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", []bool{true}},
		{"RFC9112-6.3-same-content-lengths", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\r\n\r\n", []bool{false, false}},
		{"RFC9112-6.3-signed-content-length", "POST / HTTP/1.1\r\nContent-Length: +2\r\n\r\nab", []bool{true}},
		{"RFC9112-6.3-rejected-request-ends-the-connection", "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", []bool{true, true}},
		{"RFC9112-7.1-bad-chunk-size-loses-the-framing", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\nGET / HTTP/1.1\r\n\r\n", []bool{false, true}},
		{"RFC9110-7.8-upgrade-not-switched-still-watched", "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []bool{false, true}},
		{"RFC9112-3.2.4-options-star", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []bool{false, true}},
	} {
		for _, chunk := range []int{1, 3, 7, 1 << 20} {
			c := &framingConn{}
			feedAll(c, []byte(tc.input), chunk)
			for i, want := range tc.want {
				if got := c.nextRequest(); got != want {
					t.Errorf("%s (chunks of %d): request %d rejected = %v, want %v", tc.name, chunk, i, got, want)
				}
			}
		}
	}
	// The HTTP/2 preface stops the guard.
	c := &framingConn{}
	feedAll(c, []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"), 5)
	if c.state != fsOpaque {
		t.Fatal("h2c preface not recognised")
	}
	// A header line past the limit: that request and all later ones are
	// rejected.
	c = &framingConn{}
	feedAll(c, append([]byte("GET / HTTP/1.1\r\nX: "), bytes.Repeat([]byte("a"), maxFramingLine+1)...), 4096)
	if first, second := c.nextRequest(), c.nextRequest(); !first || !second {
		t.Fatal("a header line over the limit was not rejected")
	}
	// A connection that switched protocols is no longer parsed.
	c = &framingConn{}
	c.stopWatching()
	if c.stopped.Load() != true {
		t.Fatal("stopWatching not recorded")
	}
	// A connection never read from rejects nothing.
	if (&framingConn{}).nextRequest() {
		t.Fatal("an unused guard rejected a request")
	}
}

// FuzzFramingGuard feeds arbitrary bytes, in arbitrary pieces, through the
// request-smuggling guard: it never panics, never holds more than its line
// limit, and gives the same verdicts however the bytes are split.
func FuzzFramingGuard(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 3)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 1)
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"), 2)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk < 0 {
			chunk = -chunk
		}
		a, b := &framingConn{}, &framingConn{}
		feedAll(a, data, chunk%64+1)
		feedAll(b, data, len(data)+1)
		if len(a.line) > maxFramingLine+len(data) {
			t.Fatalf("line buffer grew to %d", len(a.line))
		}
		if a.parsedReqs != b.parsedReqs || a.state != b.state {
			t.Fatalf("split-dependent parse: %d/%v vs %d/%v", a.parsedReqs, a.state, b.parsedReqs, b.state)
		}
		for i := 0; i < a.parsedReqs+1; i++ {
			if a.nextRequest() != b.nextRequest() {
				t.Fatalf("split-dependent verdict for request %d", i)
			}
		}
	})
}

// netHTTPFraming is how net/http frames one request it read.
type netHTTPFraming struct {
	chunked bool
	length  int64
}

// readAllNetHTTP reads requests from data as net/http's server would, until
// one fails to parse, its body fails, or it is one the server would not
// serve as HTTP/1 (another major version, an h2c preface).
func readAllNetHTTP(data []byte) []netHTTPFraming {
	var out []netHTTPFraming
	br := bufio.NewReader(bytes.NewReader(data))
	for len(out) < 64 {
		req, err := http.ReadRequest(br)
		if err != nil || req.ProtoMajor != 1 {
			return out
		}
		chunked := len(req.TransferEncoding) > 0 && req.TransferEncoding[0] == "chunked"
		out = append(out, netHTTPFraming{chunked: chunked, length: req.ContentLength})
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return out
		}
	}
	return out
}

// FuzzFramingGuardDifferential compares the guard with net/http's own
// request parser (http.ReadRequest) on the same bytes: for every request
// net/http reads, the guard either rejects it (the connection is then
// answered 400 and closed) or frames it exactly as net/http does — chunked,
// or the same Content-Length. Any other outcome is a framing the guard
// lets through and net/http reads differently, the root of smuggling.
func FuzzFramingGuardDifferential(f *testing.F) {
	for _, s := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok",
		"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\nContent-Length: 1\n\nxGET / HTTP/1.1\n\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var verdicts []requestFraming
		c := &framingConn{onRequest: func(i int, fr requestFraming) {
			if i == len(verdicts) {
				verdicts = append(verdicts, fr)
			}
		}}
		feedAll(c, data, len(data)+1)
		for i, nh := range readAllNetHTTP(data) {
			if i >= len(verdicts) {
				if c.state == fsOpaque || c.state == fsLost {
					return // h2c preface: not ours; lost: everything rejected
				}
				t.Fatalf("net/http read request %d (%+v) that the guard did not see", i, nh)
			}
			g := verdicts[i]
			if g.reject {
				return // 400, connection closed
			}
			if g.chunked != nh.chunked || (!nh.chunked && g.length != nh.length) {
				t.Fatalf("request %d: guard frames it chunked=%v length=%d, net/http chunked=%v length=%d",
					i, g.chunked, g.length, nh.chunked, nh.length)
			}
		}
	})
}
