package edge

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
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
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := doErr(http.MethodGet, u)
			if err == nil {
				err = digestError(r)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
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
// body being served later; exactly the objects committed before the crash
// are hits after the restart, and startup does not wait for the disk index.
//
// A client that has read a whole body does not prove its object is on
// disk: the edge sends the last byte before it commits the file (and a
// memory object is written through after its response), so the test asks
// the child's cdn_disk_stores_total which objects committed. The objects
// cut off by the kill are known to be mid-body: the origin stalls each one
// halfway, and the kill comes only once every client holds those bytes.
func TestDiskTierSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	if runtime.GOOS != "linux" {
		t.Skip("SIGKILL test on Linux")
	}
	o := startOrigin(t)
	dir := filepath.Join(t.TempDir(), "disk")
	env := []string{"EDGE_TEST_CHILD=disk", "EDGE_TEST_DISK_DIR=" + dir, "EDGE_TEST_ORIGIN=" + o.URL}
	c := startChildNode(t, env...)
	base := uniq(t)
	client := &http.Client{Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	fetch := func(u string) (result, error) {
		resp, err := client.Get(u)
		if err != nil {
			return result{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return result{resp.StatusCode, resp.Header, b}, err
	}
	// Memory objects (written through) and disk fills of known length.
	sizes := []int{12000, 50000, 300000, 2000000}
	path := func(i int) string { return fmt.Sprintf("%s-%d", base, i) }
	query := func(i int) string { return fmt.Sprintf("?size=%d&cc=max-age%%3D3600", sizes[i%len(sizes)]) }

	// Objects 0-19 complete, each committed before the next starts.
	for i := range 20 {
		r, err := fetch(c.URL + path(i) + query(i))
		if err != nil {
			t.Fatal(err)
		}
		checkDigest(t, r)
		waitStores(t, c.Admin, i+1)
	}
	// Objects 20-39 are cut off by the kill in the middle of their bodies.
	type cut struct {
		i   int
		err error
	}
	inFlight := make(chan cut, 20)
	var wg sync.WaitGroup
	for i := 20; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The origin stalls at 90%; the client waits for all but the
			// last 8 KiB of that, which the edge's and the kernel's
			// buffers may still hold.
			stall := sizes[i%len(sizes)] * 9 / 10
			half := stall - 8<<10
			resp, err := client.Get(c.URL + path(i) + query(i) + fmt.Sprintf("&stall=%d", stall))
			if err != nil {
				inFlight <- cut{i, err}
				return
			}
			defer resp.Body.Close()
			if _, err := io.ReadFull(resp.Body, make([]byte, half)); err != nil {
				inFlight <- cut{i, fmt.Errorf("first %d bytes: %w", half, err)}
				return
			}
			inFlight <- cut{i, nil}
			io.Copy(io.Discard, resp.Body) // ends with the kill
		}()
	}
	for range 20 {
		select {
		case x := <-inFlight:
			if x.err != nil {
				t.Fatalf("object %d before the kill: %v", x.i, x.err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the objects to cut off were not all mid-body within 30s")
		}
	}
	committed := diskStores(t, c.Admin)
	if committed != 20 {
		t.Fatalf("%d objects committed before the kill, want the 20 complete ones", committed)
	}
	c.Cmd.Process.Signal(syscall.SIGKILL)
	c.Cmd.Wait()
	wg.Wait()

	start := time.Now()
	c2 := startChildNode(t, env...)
	t.Logf("restarted and listening after %v", time.Since(start))
	var lost []int
	for i := range 40 {
		before := o.count(path(i))
		r, err := fetch(c2.URL + path(i) + query(i))
		if err != nil {
			t.Fatalf("object %d after restart: %v", i, err)
		}
		checkDigest(t, r) // never a truncated or corrupt body
		hit := strings.Contains(r.cacheStatus(), "hit")
		asked := o.count(path(i)) - before
		switch {
		case i < 20 && (!hit || asked != 0):
			lost = append(lost, i)
		case i >= 20 && (hit || asked != 1):
			t.Errorf("object %d, cut off by the kill: Cache-Status %q, origin asked %d times; want a miss fetched once", i, r.cacheStatus(), asked)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("objects %v were committed before the crash but were not hits after it", lost)
	}
}

// diskStores reads cdn_disk_stores_total from a node's admin /metrics.
func diskStores(t *testing.T, admin string) int {
	t.Helper()
	n, err := metricValue(admin, "cdn_disk_stores_total")
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// waitStores waits until the node's disk tier has committed n objects.
func waitStores(t *testing.T, admin string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := diskStores(t, admin)
		if got == n {
			return
		}
		if got > n {
			t.Fatalf("disk tier committed %d objects, want %d", got, n)
		}
		if time.Now().After(deadline) {
			t.Fatalf("disk tier committed %d objects within 20s, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metricValue returns the sum of a metric's samples on a /metrics page.
func metricValue(admin, name string) (float64, error) {
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("read %s/metrics: %w", admin, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read %s/metrics: %w", admin, err)
	}
	var sum float64
	found := false
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != name && !strings.HasPrefix(f[0], name+"{")) {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s/metrics: %q: %w", admin, line, err)
		}
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("%s/metrics has no %s", admin, name)
	}
	return sum, nil
}
