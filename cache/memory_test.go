package cache

import (
	"fmt"
	"testing"
	"time"
)

func obj(key string, size int) *Object {
	return NewObject(key, key, &Head{Status: 200, ResponseTime: time.Now()}, Bytes(make([]byte, size)))
}

func TestMemoryTier(t *testing.T) {
	m, err := NewMemory(MemoryConfig{Budget: 1 << 20, MaxObject: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Set(obj("big", 100<<10)) {
		t.Fatal("object over MaxObject admitted")
	}
	o := obj("a", 1000)
	m.Set(o)
	m.Wait()
	got, ok := m.Get("a")
	if !ok || got != o {
		t.Fatal("stored object not found")
	}
	m.Del("a")
	if _, ok := m.Get("a"); ok {
		t.Fatal("deleted object still found")
	}
	// The budget holds: far more than fits, the tier stays within it.
	for i := range 200 {
		m.Set(obj(fmt.Sprint("k", i), 32<<10))
	}
	m.Wait()
	if used := m.Used(); used > 1<<20 {
		t.Fatalf("memory tier uses %d bytes over a budget of %d", used, 1<<20)
	}
	if _, err := NewMemory(MemoryConfig{}); err == nil {
		t.Fatal("zero budget accepted")
	}
}

func TestBytesBody(t *testing.T) {
	b := Bytes("hello world")
	rc, _ := b.Open(6)
	buf := make([]byte, 16)
	n, _ := rc.Read(buf)
	if string(buf[:n]) != "world" {
		t.Fatalf("Open(6) read %q", buf[:n])
	}
	rc, _ = b.Open(100)
	if n, _ := rc.Read(buf); n != 0 {
		t.Fatal("Open past the end read bytes")
	}
}

// Len counts exactly the objects a Get finds, through stores, updates,
// deletes and evictions; Lookups counts hits and misses.
func TestMemoryLenAndLookups(t *testing.T) {
	m, err := NewMemory(MemoryConfig{Budget: 1 << 20, MaxObject: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	present := func(n int) int {
		c := 0
		for i := range n {
			if _, ok := m.Get(fmt.Sprint("k", i)); ok {
				c++
			}
		}
		return c
	}
	for i := range 10 {
		m.Set(obj(fmt.Sprint("k", i), 1000))
	}
	m.Wait()
	if n := m.Len(); n != 10 {
		t.Fatalf("Len %d after 10 stores, want 10", n)
	}
	m.Set(obj("k3", 2000)) // an update
	m.Del("k4")
	m.Del("absent")
	m.Wait()
	if n := m.Len(); n != 9 {
		t.Fatalf("Len %d after an update and a delete, want 9", n)
	}
	h0, m0 := m.Lookups()
	if got := present(10); got != 9 {
		t.Fatalf("%d objects found, want 9", got)
	}
	h1, m1 := m.Lookups()
	if h1-h0 != 9 || m1-m0 != 1 {
		t.Errorf("lookups: %d hits, %d misses; want 9 and 1", h1-h0, m1-m0)
	}
	// Far more than fits: Len follows evictions and admission refusals.
	for i := range 400 {
		m.Set(obj(fmt.Sprint("k", i), 16<<10))
	}
	m.Wait()
	if n, got := m.Len(), present(400); n != int64(got) {
		t.Errorf("Len %d, but %d objects are found", n, got)
	}
}
