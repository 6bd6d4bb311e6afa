package origin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchGet fetches url over a real loopback connection once per iteration,
// after one warm-up request that fills the digest cache.
func benchGet(b *testing.B, url string, size int64) {
	_, ts := startServer(b, Config{})
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	do := func() {
		res, err := client.Get(ts.URL + url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes, err %v", n, err)
		}
	}
	do()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
}

// BenchmarkGen1K measures a 1 KiB synthetic object over HTTP/1.1 on
// loopback, client included: the cost a load test pays per origin hit.
func BenchmarkGen1K(b *testing.B) {
	benchGet(b, "/gen/bench?size=1024&cc=public,max-age=60", 1024)
}

// BenchmarkGen1M measures a 1 MiB synthetic object over HTTP/1.1 on loopback.
func BenchmarkGen1M(b *testing.B) {
	benchGet(b, "/gen/bench?size=1048576&cc=public,max-age=60", 1<<20)
}

// BenchmarkGen1MText is BenchmarkGen1M with a text body.
func BenchmarkGen1MText(b *testing.B) {
	benchGet(b, "/gen/bench?size=1048576&ctype=text/plain", 1<<20)
}

// BenchmarkHandlerGen1K measures the handler alone for a 1 KiB object, with
// no network: the origin's own cost per request.
func BenchmarkHandlerGen1K(b *testing.B) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/gen/bench?size=1024&cc=public,max-age=60", nil)
	w := &discardResponse{h: make(http.Header)}
	s.ServeHTTP(w, req)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}

// discardResponse is a ResponseWriter that throws the response away.
type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardResponse) WriteHeader(int)             {}
