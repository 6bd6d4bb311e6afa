package disk

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/selfcdn/cdn/cache"
)

// bodyFor derives a body from its key and size, so any process can check
// what it reads.
func bodyFor(key string, size int) []byte {
	var seed uint64
	for _, c := range []byte(key) {
		seed = seed*131 + uint64(c)
	}
	r := rand.New(rand.NewPCG(seed, uint64(size)))
	b := make([]byte, size)
	for i := 0; i < size; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < size; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// fixedClock is a settable clock.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testHead(status int) *cache.Head {
	base := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	return &cache.Head{
		Status: status,
		Header: textproto.MIMEHeader{
			"Content-Type":  {"application/octet-stream"},
			"Cache-Control": {"max-age=3600", "public"},
			"Etag":          {`"abc"`},
		},
		RequestTime:  base,
		ResponseTime: base.Add(20 * time.Millisecond),
		InitialAge:   3 * time.Second,
		Lifetime:     time.Hour,
		Heuristic:    true,
		Origin:       base.Add(-time.Minute),
	}
}

func testObject(key string) *cache.Object {
	o := cache.NewObject(key, "https://example.com/"+key, testHead(200), nil)
	o.Site = "example.com"
	o.Tags = []string{"tag-a", "tag-" + key}
	return o
}

// openStore opens a store in dir and waits until it is ready.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Dir, err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return s
}

// put stores body under key through a Writer, in chunks of chunk bytes.
func put(t testing.TB, s *Store, key string, body []byte, chunk int) {
	t.Helper()
	if err := putErr(s, key, body, chunk, -1); err != nil {
		t.Fatalf("store %q (%d bytes): %v", key, len(body), err)
	}
}

func putErr(s *Store, key string, body []byte, chunk int, expected int64) error {
	w, err := s.CreateSized(key, expected)
	if err != nil {
		return err
	}
	for rest := body; len(rest) > 0; {
		n := min(chunk, len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			w.Abort()
			return err
		}
		rest = rest[n:]
	}
	return w.Commit(testObject(key))
}

// readBody reads an object's body from off to the end.
func readBody(t testing.TB, o *cache.Object, off int64) ([]byte, error) {
	t.Helper()
	rc, err := o.Body.Open(off)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// diskBytes sums the cost of every regular file under dir except the
// lock and FORMAT files (directories are not counted, see README).
func diskBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var total int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if name := d.Name(); name == lockFile || name == formatFile {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			total += cost(fi.Size())
		}
		return nil
	})
	return total
}

// tmpFiles lists files in the temporary folders.
func tmpFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if de.Name() == tmpDirName || strings.HasPrefix(de.Name(), tmpOldPrefix) {
			sub, _ := os.ReadDir(filepath.Join(dir, de.Name()))
			for _, f := range sub {
				out = append(out, filepath.Join(de.Name(), f.Name()))
			}
			if de.Name() != tmpDirName {
				out = append(out, de.Name())
			}
		}
	}
	return out
}

// metricValue returns the value of a gathered counter or gauge whose
// labels include want.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				if !hasLabel(m, k, v) {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, want)
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

func mustEqualBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d (first difference at %d)", what, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
