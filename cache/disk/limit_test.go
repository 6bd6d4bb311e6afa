package disk

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestLimitHolds writes three times MaxBytes of objects (announced and
// unannounced sizes, several writers) while another goroutine sums the
// sizes of the files on disk: the sum never exceeds MaxBytes.
func TestLimitHolds(t *testing.T) {
	const maxBytes = 4 << 20
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir, MaxBytes: maxBytes, MaxObject: maxBytes / 4})

	ctx, cancel := context.WithCancel(context.Background())
	var worst atomic.Int64
	var samples atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			// A walk is not an atomic snapshot: a file counted early
			// may be evicted and its space written again before the
			// walk ends. Holding evictMu keeps new space from being
			// granted during the walk, so the sum is at most what was
			// charged when it began. Writers keep writing meanwhile.
			s.evictMu.Lock()
			b := diskBytes(t, dir)
			s.evictMu.Unlock()
			if b > worst.Load() {
				worst.Store(b)
			}
			if u := s.Used(); u > maxBytes {
				t.Errorf("Used() = %d > MaxBytes", u)
			}
			samples.Add(1)
		}
	}()

	var written atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; written.Load() < 3*maxBytes && i < 10_000; i++ {
				key := "w" + itoa(w) + "-" + itoa(i)
				size := 1 + (i*7919+w*104729)%(300<<10)
				expected := int64(-1)
				if i%2 == 0 {
					expected = int64(size)
				}
				err := putErr(s, key, bodyFor(key, size), 16<<10, expected)
				if err != nil && !errors.Is(err, ErrFull) {
					t.Errorf("store %s: %v", key, err)
					return
				}
				if err == nil {
					written.Add(int64(size))
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	<-sampled
	if w := worst.Load(); w > maxBytes {
		t.Fatalf("files on disk reached %d > MaxBytes %d", w, maxBytes)
	}
	if written.Load() < 3*maxBytes {
		t.Fatalf("only %d bytes written", written.Load())
	}
	st := s.Stats()
	if st.Evictions == 0 {
		t.Fatal("no evictions")
	}
	if s.Used() != diskBytes(t, dir) {
		t.Fatalf("at rest: Used %d, files %d", s.Used(), diskBytes(t, dir))
	}
	t.Logf("wrote %d bytes, %d samples, worst %d of %d, %d evictions", written.Load(), samples.Load(), worst.Load(), maxBytes, st.Evictions)
}

// TestLimitSequential checks the limit after every write of a single
// writer, when the walk is exact.
func TestLimitSequential(t *testing.T) {
	const maxBytes = 1 << 20
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir, MaxBytes: maxBytes})
	for i := range 60 {
		key := "k" + itoa(i)
		put(t, s, key, bodyFor(key, 1+(i*7919)%(100<<10)), 32<<10)
		if b := diskBytes(t, dir); b > maxBytes || b != s.Used() {
			t.Fatalf("after %s: files %d, Used %d, MaxBytes %d", key, b, s.Used(), maxBytes)
		}
	}
}

// TestS3FIFOKeepsHotObjects checks the eviction policy: an object read
// again survives a stream of one-hit wonders that overflows the store
// many times, where FIFO or LRU without reads would evict it.
func TestS3FIFOKeepsHotObjects(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), MaxBytes: 256 << 10})
	put(t, s, "hot", bodyFor("hot", 4<<10), 4<<10)
	for i := range 400 {
		if i%20 == 0 {
			if _, ok := s.Get("hot"); !ok {
				t.Fatalf("hot object evicted after %d one-hit wonders", i)
			}
		}
		put(t, s, "cold-"+itoa(i), bodyFor("c", 4<<10), 4<<10)
	}
	if _, ok := s.Get("hot"); !ok {
		t.Fatal("hot object evicted")
	}
	if _, ok := s.Get("cold-0"); ok {
		t.Fatal("the oldest one-hit wonder is still there")
	}
}

// TestFullOfReservations refuses a write when all the space is reserved
// by writes in progress, instead of exceeding the limit.
func TestFullOfReservations(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), MaxBytes: 1 << 20, MaxObject: 1 << 20})
	w1, err := s.CreateSized("a", 100<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer w1.Abort()
	w2, err := s.CreateSized("b", 900<<10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSized("c", 100<<10); !errors.Is(err, ErrFull) {
		t.Fatalf("CreateSized with the space reserved = %v, want ErrFull", err)
	}
	w2.Abort()
	w3, err := s.CreateSized("c", 100<<10)
	if err != nil {
		t.Fatalf("CreateSized after Abort released space: %v", err)
	}
	w3.Abort()
	if s.Used() != 100<<10 {
		t.Fatalf("Used = %d, want the one reservation left", s.Used())
	}
}
