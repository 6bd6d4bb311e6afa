package disk

import (
	"errors"
	"reflect"
	"testing"

	"github.com/selfcdn/cdn/cache"
)

func TestMetaRoundTrip(t *testing.T) {
	o := testObject("k")
	o.VaryFields = []string{"accept-encoding"}
	o.Pass = true
	tests := []struct {
		name string
		m    *meta
	}{
		{"object", func() *meta {
			m := metaOf(o, false)
			m.gen, m.size, m.sums = 42, blockSize+1, []uint32{1, 2}
			return m
		}()},
		{"empty body", func() *meta { m := metaOf(o, false); m.gen = 1; return m }()},
		{"marker without head", metaOf(cache.NewObject("m", "m", nil, nil), true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeMeta(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.key != tt.m.key || got.primary != tt.m.primary || got.site != tt.m.site || got.pass != tt.m.pass ||
				got.marker != tt.m.marker || got.gen != tt.m.gen || got.size != tt.m.size ||
				!reflect.DeepEqual(got.tags, tt.m.tags) || !reflect.DeepEqual(got.vary, tt.m.vary) || !reflect.DeepEqual(got.sums, tt.m.sums) {
				t.Fatalf("decoded %+v, want %+v", got, tt.m)
			}
			if (got.head == nil) != (tt.m.head == nil) {
				t.Fatalf("head %v, want %v", got.head, tt.m.head)
			}
			for i := range b {
				bad := append([]byte(nil), b...)
				bad[i] ^= 1
				if _, err := decodeMeta(bad); err == nil {
					t.Fatalf("flipped bit in byte %d not detected", i)
				}
			}
			if _, err := decodeMeta(b[:len(b)-1]); !errors.Is(err, errCorruptMeta) {
				t.Fatalf("truncated metadata: %v", err)
			}
		})
	}
}

// FuzzDecodeMeta feeds arbitrary bytes to the metadata decoder: it must
// never panic, and what it accepts must encode back to the same bytes.
func FuzzDecodeMeta(f *testing.F) {
	m := metaOf(testObject("k"), false)
	m.gen, m.size, m.sums = 7, 10, []uint32{99}
	b, _ := m.encode()
	f.Add(b)
	mk, _ := metaOf(cache.NewObject("m", "m", nil, nil), true).encode()
	f.Add(mk)
	f.Add([]byte("cdnm"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if _, err := m.encode(); err != nil {
			t.Fatalf("accepted metadata does not encode: %v", err)
		}
	})
}
