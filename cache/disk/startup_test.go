package disk

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fillDirect writes n small entries straight into dir's layout (no
// store, no reservations): the fast way to build a large store.
func fillDirect(t testing.TB, dir string, n int) {
	t.Helper()
	s := &Store{dir: dir}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, formatFile), []byte(formatText), 0o644); err != nil {
		t.Fatal(err)
	}
	for top := range 256 {
		for leaf := range 16 {
			os.MkdirAll(filepath.Join(dir, strconv.FormatInt(int64(top|0x100), 16)[1:], strconv.FormatInt(int64(leaf), 16)), 0o755)
		}
	}
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				key := startupKey(i)
				body := bodyFor(key, 100)
				m := metaOf(testObject(key), false)
				m.gen, m.size, m.sums = uint64(i+1), int64(len(body)), []uint32{crc32Update(0, body)}
				buf, err := m.encode()
				if err == nil {
					err = os.WriteFile(s.bodyPath(hashKey(key), m.gen), body, 0o644)
				}
				if err == nil {
					err = os.WriteFile(s.metaPath(hashKey(key)), buf, 0o644)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

func startupKey(i int) string { return "https://example.com/startup/" + strconv.Itoa(i) }

// TestStartupTime measures Open to the first Get with many entries on
// disk, and the background rebuild: 5,000 entries by default (the
// package's tests stay fast), CDN_DISK_STARTUP_N to change it. README
// records BenchmarkStartup with 200,000 and 1,000,000. Tests never
// assert on speed: the numbers are logged.
func TestStartupTime(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 5,000 entries")
	}
	n := 5_000
	if v, err := strconv.Atoi(os.Getenv("CDN_DISK_STARTUP_N")); err == nil && v > 0 {
		n = v
	}
	dir := t.TempDir()
	fillStart := time.Now()
	fillDirect(t, dir, n)
	fill := time.Since(fillStart)
	opened, firstGet, ready := measureStartup(t, dir, n)
	t.Logf("%d entries (written in %s): Open %s, first Get %s, index rebuilt in %s",
		n, fill.Round(time.Millisecond), opened.Round(time.Microsecond), firstGet.Round(time.Microsecond), ready.Round(time.Millisecond))
}

// BenchmarkStartup reports Open-to-first-Get and the rebuild time with
// CDN_DISK_STARTUP_N entries (default 200,000). CDN_DISK_STARTUP_DIR
// keeps the entries in that folder and reuses them on later runs.
//
//	go test -run '^$' -bench Startup -benchtime 3x ./cache/disk/
func BenchmarkStartup(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("CDN_DISK_STARTUP_N")); err == nil && v > 0 {
		n = v
	}
	dir := os.Getenv("CDN_DISK_STARTUP_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	if _, err := os.Stat(filepath.Join(dir, formatFile)); err != nil {
		start := time.Now()
		fillDirect(b, dir, n)
		b.Logf("wrote %d entries in %s", n, time.Since(start).Round(time.Millisecond))
	}
	var firstGet, ready time.Duration
	for b.Loop() {
		_, g, r := measureStartup(b, dir, n)
		firstGet += g
		ready += r
	}
	b.ReportMetric(float64(firstGet.Microseconds())/float64(b.N), "µs/first-get")
	b.ReportMetric(ready.Seconds()/float64(b.N), "s/rebuild")
}

// measureStartup opens the store in dir holding n entries written by
// fillDirect and times Open, the first Get and the rebuild.
func measureStartup(t testing.TB, dir string, n int) (opened, firstGet, ready time.Duration) {
	t.Helper()
	start := time.Now()
	s, err := Open(Config{Dir: dir, MaxBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opened = time.Since(start)
	key := startupKey(n / 2)
	o, ok := s.Get(key)
	firstGet = time.Since(start)
	if !ok {
		t.Fatalf("Get(%s) right after Open: miss", key)
	}
	got, err := readBody(t, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, key, got, bodyFor(key, 100))
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	ready = time.Since(start)
	if s.Len() != n || s.Used() != int64(n)*2*diskBlockSize {
		t.Fatalf("after rebuild: Len %d Used %d, want %d entries", s.Len(), s.Used(), n)
	}
	if _, ok := s.Get(startupKey(n - 1)); !ok {
		t.Fatal("miss after rebuild")
	}
	return opened, firstGet, ready
}
