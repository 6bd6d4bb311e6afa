package disk

import (
	"errors"
	"io"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/selfcdn/cdn/cache"
)

// TestConcurrentUse runs writers, readers (through Get and through a
// Writer's ReadAt while it writes), head updates, markers and deletes on
// a few keys at once under a tight limit; run with -race. Every body read
// must be whole and right for its key, and the accounting must match the
// files at the end.
func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir, MaxBytes: 3 << 20, MaxObject: 1 << 20})
	const keys = 12
	sizeOf := func(k int) int { return 1 + (k*7919)%(400<<10) }
	key := func(k int) string { return "https://example.com/c/" + itoa(k) }
	deadline := time.Now().Add(2 * time.Second)
	iters := 150
	if testing.Short() {
		iters = 40
	}
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	for w := range 3 {
		wg.Add(1)
		go func() { // writer, with a collapsed reader following it
			defer wg.Done()
			for i := 0; i < iters && time.Now().Before(deadline); i++ {
				k := (i*3 + w) % keys
				body := bodyFor(key(k), sizeOf(k))
				wr, err := s.Create(key(k))
				if err != nil {
					if !errors.Is(err, ErrFull) {
						report(err)
					}
					continue
				}
				follower := make(chan error, 1)
				go func() { follower <- follow(wr, body) }()
				for off := 0; off < len(body); off += 32 << 10 {
					if _, err := wr.Write(body[off:min(off+32<<10, len(body))]); err != nil {
						break
					}
				}
				if err := wr.Commit(testObject(key(k))); err != nil && !errors.Is(err, ErrFull) {
					report(err)
				}
				if err := <-follower; err != nil {
					report(err)
				}
			}
		}()
	}
	for r := range 3 {
		wg.Add(1)
		go func() { // reader
			defer wg.Done()
			for i := 0; i < 4*iters && time.Now().Before(deadline); i++ {
				k := (i + r) % keys
				o, ok := s.Get(key(k))
				if !ok || o.Body == nil {
					continue
				}
				off := int64(i%3) * blockSize / 2
				got, err := readBody(t, o, min(off, o.Size()))
				if errors.Is(err, fs.ErrNotExist) {
					continue // evicted or replaced since Get
				}
				if err != nil {
					report(err)
					continue
				}
				want := bodyFor(key(k), sizeOf(k))
				if string(got) != string(want[min(off, int64(len(want))):]) {
					report(errors.New("wrong body for " + key(k)))
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // metadata churn
		defer wg.Done()
		for i := 0; i < iters && time.Now().Before(deadline); i++ {
			k := i % keys
			switch i % 3 {
			case 0:
				s.UpdateHead(key(k), testHead(200))
			case 1:
				mk := cache.NewObject(key(k)+"#m", key(k), testHead(200), nil)
				mk.VaryFields = []string{"accept"}
				s.SetMarker(mk)
			case 2:
				s.Delete(key((k + 5) % keys))
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if s.Used() != diskBytes(t, dir) || s.Used() > 3<<20 {
		t.Fatalf("at rest: Used %d, files %d", s.Used(), diskBytes(t, dir))
	}
	if left := tmpFiles(t, dir); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// follow reads a Writer's body with ReadAt as it grows, as a collapsed
// request does, until the whole body has been read or the write ended.
func follow(w *Writer, want []byte) error {
	buf := make([]byte, 20<<10)
	var off int64
	for range 100_000 {
		n, err := w.ReadAt(buf, off)
		if n > 0 && string(buf[:n]) != string(want[off:off+int64(n)]) {
			return errors.New("ReadAt returned wrong bytes")
		}
		off += int64(n)
		if off == int64(len(want)) || errors.Is(err, ErrAborted) || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		if n == 0 {
			time.Sleep(50 * time.Microsecond) // the fill would wake us; poll here
		}
	}
	return nil
}
