package edge

import (
	"testing"
)

func feedAll(c *framingConn, data []byte, chunk int) {
	if chunk <= 0 {
		chunk = 1
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if c.state != fsOpaque {
			c.feed(data[:n])
		}
		data = data[n:]
	}
}

func TestFramingGuard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  []bool // conflicting framing per request, in order
	}{
		{"plain", "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", []bool{false, false}},
		{"RFC9112-6.1-cl-and-te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []bool{true}},
		{"body-skipped", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []bool{false, true}},
		{"chunked-body-skipped", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1\r\n\r\n", []bool{false, false}},
		{"case-insensitive", "POST / HTTP/1.1\r\ncontent-length: 0\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", []bool{true}},
	} {
		for _, chunk := range []int{1, 3, 7, 1 << 20} {
			c := &framingConn{}
			feedAll(c, []byte(tc.input), chunk)
			for i, want := range tc.want {
				if got := c.nextRequest(); got != want {
					t.Errorf("%s (chunks of %d): request %d conflicting = %v, want %v", tc.name, chunk, i, got, want)
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
