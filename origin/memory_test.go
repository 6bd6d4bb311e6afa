package origin

import (
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
)

// TestLargeObjectBoundedMemory streams a 256 MiB object, digest pass
// included, and checks the process allocated a small fraction of that: the
// body is generated a buffer at a time, never held whole.
func TestLargeObjectBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 512 MiB through the generator; skipped with -short")
	}
	const size = 256 << 20
	_, ts := startServer(t, Config{})
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := client.Get(ts.URL + "/gen/big?size=" + strconv.Itoa(size))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || n != size {
		t.Fatalf("read %d bytes, err %v; want %d", n, err, size)
	}
	runtime.ReadMemStats(&after)
	// Generous: buffers, the client's and server's connection state, test
	// scaffolding. Holding the body would be 256 MiB or more.
	const bound = 16 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Errorf("streaming %d MiB allocated %d MiB; want under %d MiB", size>>20, alloc>>20, bound>>20)
	} else {
		t.Logf("streaming %d MiB allocated %d KiB", size>>20, alloc>>10)
	}
}
