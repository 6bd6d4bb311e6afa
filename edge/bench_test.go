package edge

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a minimal ResponseWriter, so the benchmark measures the
// edge's own work on a hit, not a client's.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkHit1K measures the handler's cost of serving a 1 KiB hit from
// memory (no network).
func BenchmarkHit1K(b *testing.B) {
	srv, req := benchNodeWithHit(b)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.h = http.Header{}
		srv.p.ServeHTTP(w, req)
	}
	if w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
}

// benchNodeWithHit returns a node (not listening) whose memory holds the
// 1 KiB object req asks for.
func benchNodeWithHit(b *testing.B) (*Node, *http.Request) {
	o, err := newBenchOrigin()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	srv, err := New(QuickConfig("edge-1", "127.0.0.1:0", o.URL))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "http://assets.example.com/gen/bench?size=1024&cc=max-age%3D3600", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	srv.p.ServeHTTP(&discardWriter{h: http.Header{}}, req) // miss, stores
	srv.p.mem.Wait()
	return srv, req
}

func newBenchOrigin() (*httptest.Server, error) {
	o, err := newOriginHandler()
	if err != nil {
		return nil, err
	}
	return httptest.NewServer(o), nil
}

// BenchmarkFastHit1K measures the fast HTTP/1.1 engine's cost of
// answering a parsed 1 KiB hit from memory (no network).
func BenchmarkFastHit1K(b *testing.B) {
	srv, _ := benchNodeWithHit(b)
	raw := []byte("GET /gen/bench?size=1024&cc=max-age%3D3600 HTTP/1.1\r\nHost: assets.example.com\r\nUser-Agent: bench\r\n\r\n")
	fc := &fastConn{e: &fastEngine{s: srv.p}}
	var fr fastRequest
	if !fr.parse(raw, 100, 64<<10) {
		b.Fatal("not parsed")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fc.out, fc.bodies = fc.out[:0], fc.bodies[:0]
		if !srv.p.fastHit(fc, &fr) {
			b.Fatal("not a fast hit")
		}
	}
}
