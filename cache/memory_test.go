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
