package edge

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func diskEdge(t *testing.T, o *testOrigin, dir string) *testEdge {
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	cfg.Now = o.clock.Now
	cfg.DiskDir, cfg.DiskSize = dir, 64<<20
	cfg.Memory, cfg.MaxMemoryObject = 8<<20, 64<<10
	e := startEdge(t, cfg)
	e.clock = o.clock
	return e
}

// Objects larger than the memory tier's limit are streamed to disk and
// served from it; collapsed waiters read the file while it is written.
func TestDiskTierLargeObjects(t *testing.T) {
	o := startOrigin(t)
	e := diskEdge(t, o, t.TempDir())
	p := uniq(t)
	u := e.URL + p + "?size=3000000&delay=100&cc=max-age%3D600"
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checkDigest(t, get(t, u))
		}()
	}
	wg.Wait()
	r := get(t, u)
	checkDigest(t, r)
	mustContain(t, "disk hit", r.cacheStatus(), "hit")
	rr := get(t, u, "Range", "bytes=2999000-")
	if rr.status != http.StatusPartialContent || string(rr.body) != string(r.body[2999000:]) {
		t.Fatalf("range from disk: %d, %d bytes", rr.status, len(rr.body))
	}
	// Chunked (unknown length) bodies go to disk too.
	c := get(t, e.URL+uniq(t)+"?size=200000&chunked=1&cc=max-age%3D600")
	checkDigest(t, c)
	if n := o.count(p); n != 1 {
		t.Fatalf("origin saw %d requests, want 1", n)
	}
}

// kill -9 in the middle of writes never leads to a truncated or corrupt
// body being served later; objects cached before the crash are hits after
// the restart, and startup does not wait for the disk index.
func TestDiskTierSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	if runtime.GOOS != "linux" {
		t.Skip("SIGKILL test on Linux")
	}
	o := startOrigin(t)
	dir := filepath.Join(t.TempDir(), "disk")
	child := []string{"EDGE_TEST_CHILD=disk", "EDGE_TEST_DISK_DIR=" + dir, "EDGE_TEST_ORIGIN=" + o.URL}
	u, cmd := startChild(t, child...)
	base := uniq(t)
	client := &http.Client{Timeout: 20 * time.Second}
	fetch := func(u string) (result, error) {
		resp, err := client.Get(u)
		if err != nil {
			return result{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return result{resp.StatusCode, resp.Header, b}, err
	}
	sizes := []int{1000, 50000, 300000, 2000000}
	path := func(i int) string {
		return fmt.Sprintf("%s-%d?size=%d&cc=max-age%%3D3600", base, i, sizes[i%len(sizes)])
	}
	// Complete some objects, then kill the process while others stream.
	for i := range 20 {
		r, err := fetch(u + path(i))
		if err != nil {
			t.Fatal(err)
		}
		checkDigest(t, r)
	}
	var wg sync.WaitGroup
	for i := 20; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fetch(u + path(i) + "&delay=50") // cut off by the kill
		}()
	}
	time.Sleep(150 * time.Millisecond) // let writes be in progress (not waiting on a server)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wg.Wait()

	start := time.Now()
	u2, _ := startChild(t, child...)
	t.Logf("restarted and listening after %v", time.Since(start))
	hits := 0
	before := o.count("")
	for i := range 40 {
		p := path(i)
		if i >= 20 {
			p += "&delay=50"
		}
		r, err := fetch(u2 + p)
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		checkDigest(t, r) // never a truncated or corrupt body
		if i < 20 && strings.Contains(r.cacheStatus(), "hit") {
			hits++
		}
	}
	if hits < 20 {
		t.Fatalf("%d of 20 objects cached before the crash were hits after it (origin asked %d times)", hits, o.count("")-before)
	}
}
