package edge

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/selfcdn/cdn/internal/stracetest"
)

// TestDiskHitsUseSendfile: a verified disk-tier hit leaves through
// sendfile(2) on both HTTP/1.1 engines, through every connection wrapper
// between the listener and net/http. The test runs itself under strace
// and counts the bytes sendfile moved.
func TestDiskHitsUseSendfile(t *testing.T) {
	const size = 1 << 20
	if stracetest.Child() {
		o := startOrigin(t)
		for _, engine := range []string{EngineFast, EngineStdlib} {
			cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
			cfg.HTTP1Engine = engine
			cfg.DiskDir, cfg.DiskSize = t.TempDir(), 64<<20
			cfg.MaxMemoryObject = 64 << 10 // the object lives on disk only
			e := startEdge(t, cfg)
			url := e.URL + "/gen/sf-" + engine + "?size=" + strconv.Itoa(size) + "&cc=max-age%3D600"
			get := func() string {
				resp, err := http.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != size || resp.StatusCode != 200 {
					t.Fatalf("%s: %d, %d bytes, %v", engine, resp.StatusCode, n, err)
				}
				return resp.Header.Get("Cache-Status")
			}
			// Stored once the disk tier is ready (it indexes itself at
			// start); then a hit that verifies the body and two that
			// send it with sendfile.
			for i := 0; !strings.Contains(get(), "hit"); i++ {
				if i == 100 {
					t.Fatalf("%s: never a hit", engine)
				}
				time.Sleep(10 * time.Millisecond)
			}
			for range 3 {
				if cs := get(); !strings.Contains(cs, "hit") {
					t.Fatalf("%s: Cache-Status %q", engine, cs)
				}
			}
		}
		return
	}
	_, moved := stracetest.Run(t, "TestDiskHitsUseSendfile", "sendfile")
	// Two sendfile hits per engine; net/http writes the first 512 bytes
	// itself (content sniffing) before handing the rest to ReadFrom.
	if want := int64(2 * 2 * (size - 512)); moved < want {
		t.Fatalf("sendfile moved %d bytes, want at least %d: disk hits left the sendfile path", moved, want)
	}
}
