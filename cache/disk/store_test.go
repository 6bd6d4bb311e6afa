package disk

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfcdn/cdn/cache"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // field paths named in the error
	}{
		{"ok", Config{Dir: "x", MaxBytes: 1 << 20}, nil},
		{"missing", Config{}, []string{"Dir:", "MaxBytes:"}},
		{"object over limit", Config{Dir: "x", MaxBytes: 10, MaxObject: 11}, []string{"MaxObject:"}},
		{"negative", Config{Dir: "x", MaxBytes: 10, MaxObject: -1, DegradeFor: -1}, []string{"MaxObject:", "DegradeFor:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate error %q does not name %s", err, w)
				}
			}
		})
	}
}

// TestRoundTrip stores bodies of several sizes and reads them back whole
// and from offsets, as range requests do (RFC 9110 §14), checking what
// File exposes for sendfile.
func TestRoundTrip(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openStore(t, Config{Dir: t.TempDir(), MaxBytes: 64 << 20, MaxObject: 16 << 20, Registerer: reg})
	for _, size := range []int{0, 1, 64 << 10, 5 << 20} {
		key := "https://example.com/obj-" + itoa(size)
		body := bodyFor(key, size)
		put(t, s, key, body, 48<<10)
		o, ok := s.Get(key)
		if !ok {
			t.Fatalf("Get(%d bytes): miss", size)
		}
		want := testObject(key)
		if o.Key != key || o.Primary != want.Primary || o.Site != want.Site || !reflect.DeepEqual(o.Tags, want.Tags) {
			t.Errorf("size %d: got key %q primary %q site %q tags %v", size, o.Key, o.Primary, o.Site, o.Tags)
		}
		assertHead(t, o.Head(), want.Head())
		if o.Size() != int64(size) {
			t.Fatalf("Size = %d, want %d", o.Size(), size)
		}
		offsets := []int64{0, 1, blockSize + 7, int64(size) - 1, int64(size)}
		for _, off := range offsets {
			if off < 0 || off > int64(size) {
				continue
			}
			rc, err := o.Body.Open(off)
			if err != nil {
				t.Fatalf("Open(%d): %v", off, err)
			}
			fr, ok := rc.(interface {
				File() (*os.File, int64, int64)
			})
			if !ok {
				t.Fatalf("reader %T has no File method", rc)
			}
			f, foff, flen := fr.File()
			if f == nil || foff != off || flen != int64(size)-off {
				t.Fatalf("size %d: File() at %d = (%v, %d, %d), want offset %d length %d", size, off, f != nil, foff, flen, off, int64(size)-off)
			}
			// What sendfile would send: the file from its current offset.
			got, err := io.ReadAll(io.LimitReader(f, flen))
			rc.Close()
			if err != nil {
				t.Fatalf("read file at %d: %v", off, err)
			}
			mustEqualBytes(t, "File() bytes at "+itoa(int(off)), got, body[off:])

			got, err = readBody(t, o, off)
			if err != nil {
				t.Fatalf("read body at %d: %v", off, err)
			}
			mustEqualBytes(t, "body at "+itoa(int(off)), got, body[off:])
		}
	}
	if got := metricValue(t, reg, "cdn_disk_objects", nil); got != 4 {
		t.Errorf("cdn_disk_objects = %v, want 4", got)
	}
	if got := metricValue(t, reg, "cdn_disk_hits_total", nil); got != 4 {
		t.Errorf("cdn_disk_hits_total = %v, want 4", got)
	}
	if _, ok := s.Get("absent"); ok {
		t.Fatal("Get(absent) hit")
	}
	if got := metricValue(t, reg, "cdn_disk_misses_total", nil); got != 1 {
		t.Errorf("cdn_disk_misses_total = %v, want 1", got)
	}
	if used, files := s.Used(), diskBytes(t, s.dir); used != files {
		t.Errorf("Used() = %d, files on disk = %d", used, files)
	}
}

func assertHead(t *testing.T, got, want *cache.Head) {
	t.Helper()
	if got == nil {
		t.Fatal("nil head")
	}
	if got.Status != want.Status || !got.RequestTime.Equal(want.RequestTime) || !got.ResponseTime.Equal(want.ResponseTime) ||
		!got.Origin.Equal(want.Origin) || got.InitialAge != want.InitialAge || got.Lifetime != want.Lifetime ||
		got.Heuristic != want.Heuristic || !reflect.DeepEqual(got.Header, want.Header) {
		t.Errorf("head = %+v, want %+v", got, want)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

// TestReplaceAndDelete checks that a second write of a key replaces the
// first (its body file gone, its bytes released) and that Delete removes
// everything.
func TestReplaceAndDelete(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), MaxBytes: 16 << 20})
	put(t, s, "k", bodyFor("k", 300<<10), 64<<10)
	put(t, s, "k", []byte("short"), 64<<10)
	o, ok := s.Get("k")
	if !ok {
		t.Fatal("miss after replace")
	}
	got, err := readBody(t, o, 0)
	if err != nil || string(got) != "short" {
		t.Fatalf("body = %q, %v", got, err)
	}
	if s.Len() != 1 || s.Used() != diskBytes(t, s.dir) || s.Used() != 2*diskBlockSize {
		t.Fatalf("Len %d Used %d, files %d", s.Len(), s.Used(), diskBytes(t, s.dir))
	}
	s.Delete("k")
	if _, ok := s.Get("k"); ok {
		t.Fatal("hit after Delete")
	}
	if _, err := o.Body.Open(0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open after Delete: %v, want fs.ErrNotExist", err)
	}
	if s.Len() != 0 || s.Used() != 0 || diskBytes(t, s.dir) != 0 {
		t.Fatalf("after Delete: Len %d Used %d files %d", s.Len(), s.Used(), diskBytes(t, s.dir))
	}
}

// TestMarkersAndUpdateHead covers Vary markers (RFC 9111 §4.1) and the
// head replacement after a 304 (RFC 9111 §4.3.4).
func TestMarkersAndUpdateHead(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), MaxBytes: 16 << 20})
	mk := cache.NewObject("https://example.com/v", "https://example.com/v", testHead(200), nil)
	mk.VaryFields = []string{"accept-encoding"}
	mk.Site = "example.com"
	if err := s.SetMarker(mk); err != nil {
		t.Fatalf("SetMarker: %v", err)
	}
	o, ok := s.Get(mk.Key)
	if !ok || o.Body != nil || !reflect.DeepEqual(o.VaryFields, mk.VaryFields) || o.Pass {
		t.Fatalf("marker = %+v, %v", o, ok)
	}
	pass := cache.NewObject("p", "p", nil, nil)
	pass.Pass = true
	if err := s.SetMarker(pass); err != nil {
		t.Fatalf("SetMarker(pass): %v", err)
	}
	if o, ok := s.Get("p"); !ok || !o.Pass || o.Head() != nil {
		t.Fatalf("pass marker = %+v, %v", o, ok)
	}

	put(t, s, "obj", bodyFor("obj", 1000), 100)
	nh := testHead(200)
	nh.Header.Set("Etag", `"new"`)
	nh.ResponseTime = nh.ResponseTime.Add(time2m)
	if err := s.UpdateHead("obj", nh); err != nil {
		t.Fatalf("UpdateHead: %v", err)
	}
	o, ok = s.Get("obj")
	if !ok {
		t.Fatal("miss after UpdateHead")
	}
	assertHead(t, o.Head(), nh)
	if got, err := readBody(t, o, 0); err != nil {
		t.Fatal(err)
	} else {
		mustEqualBytes(t, "body after UpdateHead", got, bodyFor("obj", 1000))
	}
	if err := s.UpdateHead("absent", nh); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("UpdateHead(absent) = %v, want fs.ErrNotExist", err)
	}
	if s.Used() != diskBytes(t, s.dir) {
		t.Fatalf("Used %d, files %d", s.Used(), diskBytes(t, s.dir))
	}
}

const time2m = 2 * 60 * 1e9

// TestWriterReadAt reads a body back while it is written and after it
// is committed, as collapsed requests do.
func TestWriterReadAt(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), MaxBytes: 16 << 20})
	body := bodyFor("w", 200<<10)
	w, err := s.Create("w")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100<<10)
	if n, err := w.ReadAt(buf, 0); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt before writing = %d, %v", n, err)
	}
	w.Write(body[:150<<10])
	if w.Written() != 150<<10 {
		t.Fatalf("Written = %d", w.Written())
	}
	n, err := w.ReadAt(buf, 100<<10)
	if n != 50<<10 || err != io.EOF {
		t.Fatalf("ReadAt past written = %d, %v", n, err)
	}
	mustEqualBytes(t, "partial ReadAt", buf[:n], body[100<<10:150<<10])
	w.Write(body[150<<10:])
	if err := w.Commit(testObject("w")); err != nil {
		t.Fatal(err)
	}
	n, err = w.ReadAt(buf, 100<<10)
	if n != len(buf) || err != nil {
		t.Fatalf("ReadAt after commit = %d, %v", n, err)
	}
	mustEqualBytes(t, "ReadAt after commit", buf, body[100<<10:])
	if err := w.Commit(testObject("w")); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Commit = %v", err)
	}

	a, _ := s.Create("aborted")
	a.Write([]byte("abc"))
	a.Abort()
	if _, err := a.ReadAt(buf, 0); !errors.Is(err, ErrAborted) {
		t.Fatalf("ReadAt after Abort = %v", err)
	}
	if got := tmpFiles(t, s.dir); len(got) != 0 {
		t.Fatalf("temp files left: %v", got)
	}
	if s.Used() != diskBytes(t, s.dir) {
		t.Fatalf("Used %d, files %d", s.Used(), diskBytes(t, s.dir))
	}
}

// TestTooLarge refuses bodies over MaxObject, announced or not.
func TestTooLarge(t *testing.T) {
	s := openStore(t, Config{Dir: t.TempDir(), MaxBytes: 1 << 20, MaxObject: 100 << 10})
	if _, err := s.CreateSized("big", 200<<10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("CreateSized over limit = %v", err)
	}
	err := putErr(s, "big", bodyFor("big", 200<<10), 32<<10, -1)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("unsized write over limit = %v", err)
	}
	if s.Used() != 0 || diskBytes(t, s.dir) != 0 {
		t.Fatalf("after refused writes: Used %d files %d", s.Used(), diskBytes(t, s.dir))
	}
}

func TestOpenRefusesForeignOrLockedDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	if _, err := Open(Config{Dir: dir, MaxBytes: 1 << 20}); err == nil {
		t.Fatal("Open of a foreign non-empty folder succeeded")
	}
	dir = t.TempDir()
	s := openStore(t, Config{Dir: dir, MaxBytes: 1 << 20})
	if _, err := Open(Config{Dir: dir, MaxBytes: 1 << 20}); err == nil {
		t.Fatal("second Open of a folder in use succeeded")
	}
	s.Close()
	s2 := openStore(t, Config{Dir: dir, MaxBytes: 1 << 20})
	s2.Close()
}
