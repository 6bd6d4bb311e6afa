package disk

import (
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/selfcdn/cdn/cache"
)

// TestPersistence closes and reopens a store: objects, markers and the
// byte accounting survive; large bodies are not exposed to sendfile until
// a read has verified them.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, MaxBytes: 64 << 20, MaxObject: 16 << 20, VerifyMax: 64 << 10}
	s := openStore(t, cfg)
	sizes := map[string]int{"a": 0, "b": 1, "c": 64 << 10, "d": 3<<20 + 5}
	for k, n := range sizes {
		put(t, s, k, bodyFor(k, n), 100<<10)
	}
	mk := cache.NewObject("v", "v", testHead(200), nil)
	mk.VaryFields = []string{"accept-language", "accept-encoding"}
	if err := s.SetMarker(mk); err != nil {
		t.Fatal(err)
	}
	used, n := s.Used(), s.Len()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("a"); ok {
		t.Fatal("Get after Close hit")
	}

	// Lookups work at once, before the index is rebuilt.
	s2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	if o, ok := s2.Get("b"); !ok || o.Size() != 1 {
		t.Fatalf("Get right after Open: %v %v", o, ok)
	}
	s2.Close()

	s3 := openStore(t, cfg)
	if s3.Used() != used || s3.Len() != n {
		t.Fatalf("after reopen Used %d Len %d, before %d %d", s3.Used(), s3.Len(), used, n)
	}
	for k, size := range sizes {
		o, ok := s3.Get(k)
		if !ok {
			t.Fatalf("%s: miss after reopen", k)
		}
		assertHead(t, o.Head(), testHead(200))
		got, err := readBody(t, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		mustEqualBytes(t, k, got, bodyFor(k, size))
	}
	o, ok := s3.Get("v")
	if !ok || o.Body != nil || !reflect.DeepEqual(o.VaryFields, mk.VaryFields) {
		t.Fatalf("vary marker after reopen: %+v %v", o, ok)
	}

	// "d" is over VerifyMax: after the restart a reader verifies it.
	s4 := reopen(t, s3, cfg)
	o, _ = s4.Get("d")
	rc, err := o.Body.Open(blockSize + 10)
	if err != nil {
		t.Fatal(err)
	}
	if f, _, _ := rc.(*BodyReader).File(); f != nil {
		t.Fatal("File() exposed an unverified body")
	}
	rc.Close()
	if _, err := readBody(t, o, 0); err != nil {
		t.Fatal(err)
	}
	rc, _ = o.Body.Open(blockSize + 10)
	defer rc.Close()
	if f, off, n := rc.(*BodyReader).File(); f == nil || off != blockSize+10 || n != int64(sizes["d"])-off {
		t.Fatalf("File() after verification = %v %d %d", f != nil, off, n)
	}
	// A later Get shares the verification.
	o2, _ := s4.Get("d")
	rc2, _ := o2.Body.Open(0)
	defer rc2.Close()
	if f, _, _ := rc2.(*BodyReader).File(); f == nil {
		t.Fatal("File() nil on a second Get after verification")
	}
	if err := s4.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s4.Used() != diskBytes(t, dir) {
		t.Fatalf("Used %d, files %d", s4.Used(), diskBytes(t, dir))
	}
}

func reopen(t *testing.T, s *Store, cfg Config) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return openStore(t, cfg)
}

// TestWritesWaitForIndex checks that writes are refused until the byte
// accounting is known, and that a Delete during the rebuild sticks.
func TestWritesWaitForIndex(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, MaxBytes: 16 << 20}
	s := openStore(t, cfg)
	for i := range 50 {
		put(t, s, "k"+itoa(i), bodyFor("k", 5000), 5000)
	}
	s.Close()
	s2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.Delete("k7")
	if !s2.Ready() {
		if _, err := s2.Create("x"); !errors.Is(err, ErrNotReady) {
			t.Fatalf("Create before ready = %v, want ErrNotReady", err)
		}
	}
	if err := s2.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := s2.Get("k7"); ok {
		t.Fatal("entry deleted during the rebuild came back")
	}
	if s2.Len() != 49 || s2.Used() != diskBytes(t, dir) {
		t.Fatalf("Len %d Used %d files %d", s2.Len(), s2.Used(), diskBytes(t, dir))
	}
	if _, err := os.Stat(s2.metaPath(hashKey("k7"))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("metadata of deleted entry: %v", err)
	}
}

// TestShrinkOnSmallerLimit reopens with a lower MaxBytes: the store
// evicts down to it once the index is rebuilt.
func TestShrinkOnSmallerLimit(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir, MaxBytes: 8 << 20})
	for i := range 40 {
		put(t, s, "k"+itoa(i), bodyFor("k", 100<<10), 100<<10)
	}
	s.Close()
	s2 := openStore(t, Config{Dir: dir, MaxBytes: 1 << 20})
	if s2.Used() > 1<<20 || diskBytes(t, dir) > 1<<20 {
		t.Fatalf("after reopen with a smaller limit: Used %d files %d", s2.Used(), diskBytes(t, dir))
	}
	if st := s2.Stats(); st.Evictions == 0 {
		t.Fatal("no evictions counted")
	}
}
