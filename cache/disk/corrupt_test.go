package disk

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestCorruption damages stored files in each way a disk or a crash can
// and checks the entry is dropped instead of served, and counted.
func TestCorruption(t *testing.T) {
	const small, large = 100 << 10, 2<<20 + 333
	tests := []struct {
		name    string
		size    int
		damage  func(t *testing.T, s *Store, key string)
		reason  string
		getMiss bool  // Get itself drops it (else a read fails)
		readOff int64 // offset of the read that must fail
	}{
		{"flipped byte in small body", small, func(t *testing.T, s *Store, key string) {
			flipByte(t, bodyFile(t, s, key), small/2)
		}, corruptChecksum, true, 0},
		{"flipped byte in large body", large, func(t *testing.T, s *Store, key string) {
			flipByte(t, bodyFile(t, s, key), large-100)
		}, corruptChecksum, false, 0},
		{"flipped byte before a range", large, func(t *testing.T, s *Store, key string) {
			flipByte(t, bodyFile(t, s, key), 5*blockSize+10)
		}, corruptChecksum, false, 5*blockSize + 1000},
		{"truncated body", large, func(t *testing.T, s *Store, key string) {
			os.Truncate(bodyFile(t, s, key), large-1)
		}, corruptLength, true, 0},
		{"corrupt metadata", small, func(t *testing.T, s *Store, key string) {
			flipByte(t, s.metaPath(hashKey(key)), 20)
		}, corruptMeta, true, 0},
		{"missing body", small, func(t *testing.T, s *Store, key string) {
			os.Remove(bodyFile(t, s, key))
		}, corruptMissing, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, MaxBytes: 64 << 20, MaxObject: 8 << 20}
			s := openStore(t, cfg)
			key := "https://example.com/" + tt.name
			put(t, s, key, bodyFor(key, tt.size), 256<<10)
			tt.damage(t, s, key)
			s.Close()

			reg := prometheus.NewRegistry()
			cfg.Registerer = reg
			s = openStore(t, cfg)
			o, ok := s.Get(key)
			if tt.getMiss {
				if ok {
					t.Fatal("Get returned a damaged entry")
				}
			} else {
				if !ok {
					t.Fatal("Get dropped a large entry it should verify while reading")
				}
				got, err := readBody(t, o, tt.readOff)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("read at %d: %d bytes, err %v; want ErrCorrupt", tt.readOff, len(got), err)
				}
				if _, ok := s.Get(key); ok {
					t.Fatal("entry still served after a failed verification")
				}
			}
			if got := metricValue(t, reg, "cdn_disk_corrupt_total", map[string]string{"reason": tt.reason}); got != 1 {
				t.Errorf("cdn_disk_corrupt_total{reason=%q} = %v, want 1", tt.reason, got)
			}
			if s.Len() != 0 || s.Used() != 0 || diskBytes(t, dir) != 0 {
				t.Errorf("after drop: Len %d Used %d files %d", s.Len(), s.Used(), diskBytes(t, dir))
			}
		})
	}
}

// TestReaderStopsAtBadBlock checks that a reader fails at the end of a
// damaged block, withholding its last bytes, so the caller aborts the
// response instead of completing it with bad bytes.
func TestReaderStopsAtBadBlock(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, MaxBytes: 64 << 20, VerifyMax: -1}
	s := openStore(t, cfg)
	body := bodyFor("k", 3*blockSize)
	put(t, s, "k", body, 64<<10)
	flipByte(t, bodyFile(t, s, "k"), blockSize+5)
	s = reopen(t, s, cfg)
	o, ok := s.Get("k")
	if !ok {
		t.Fatal("miss")
	}
	rc, _ := o.Body.Open(0)
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v", err)
	}
	if len(got) >= 2*blockSize {
		t.Fatalf("read %d bytes: the whole damaged block was delivered", len(got))
	}
	mustEqualBytes(t, "good prefix", got[:blockSize], body[:blockSize])
}

func bodyFile(t *testing.T, s *Store, key string) string {
	t.Helper()
	m, err := readMeta(s.metaPath(hashKey(key)))
	if err != nil {
		t.Fatal(err)
	}
	return s.bodyPath(hashKey(key), m.gen)
}
