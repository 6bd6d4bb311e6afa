package origin

import (
	"bytes"
	"compress/flate"
	"testing"
)

func testKey(b byte) [32]byte {
	var k [32]byte
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// TestFillAnyOffset checks that any window of the stream equals the same
// window cut from the stream generated from offset 0: the property that makes
// range requests O(1).
func TestFillAnyOffset(t *testing.T) {
	for _, text := range []bool{false, true} {
		g := newGenerator(newStreamCipher(), testKey(7), text)
		whole := make([]byte, 4096)
		g.fill(whole, 0)
		for off := 0; off < 300; off += 7 {
			for _, n := range []int{0, 1, 5, 8, 63, 64, 65, 129, 1000} {
				if off+n > len(whole) {
					continue
				}
				got := make([]byte, n)
				g.fill(got, int64(off))
				if !bytes.Equal(got, whole[off:off+n]) {
					t.Fatalf("text=%v fill(off=%d, n=%d) differs from the whole stream", text, off, n)
				}
			}
		}
	}
}

func TestFillDeterministicAndKeyed(t *testing.T) {
	for _, text := range []bool{false, true} {
		a := make([]byte, 1000)
		b := make([]byte, 1000)
		c := make([]byte, 1000)
		newGenerator(newStreamCipher(), testKey(1), text).fill(a, 0)
		newGenerator(newStreamCipher(), testKey(1), text).fill(b, 0)
		newGenerator(newStreamCipher(), testKey(2), text).fill(c, 0)
		if !bytes.Equal(a, b) {
			t.Errorf("text=%v: same key, different bytes", text)
		}
		if bytes.Equal(a, c) {
			t.Errorf("text=%v: different keys, same bytes", text)
		}
	}
}

// TestFillFarOffset generates bytes near the end of an 8 GiB object, which
// would take seconds if the generator had to start from the beginning.
func TestFillFarOffset(t *testing.T) {
	g := newGenerator(newStreamCipher(), testKey(3), false)
	const off = 8<<30 - 100
	a := make([]byte, 100)
	g.fill(a, off)
	b := make([]byte, 60)
	g.fill(b, off+40)
	if !bytes.Equal(a[40:], b) {
		t.Fatal("overlapping windows near 8 GiB disagree")
	}
}

func TestTextIsPrintableAndCompressible(t *testing.T) {
	g := newGenerator(newStreamCipher(), testKey(9), true)
	buf := make([]byte, 64<<10)
	g.fill(buf, 0)
	for i, c := range buf {
		if c != '\n' && (c < 0x20 || c > 0x7e) {
			t.Fatalf("byte %d is %#x, not printable", i, c)
		}
	}
	if buf[textLine-1] != '\n' {
		t.Errorf("line does not end with a newline: %q", buf[:textLine])
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.DefaultCompression)
	w.Write(buf)
	w.Close()
	if ratio := float64(z.Len()) / float64(len(buf)); ratio > 0.5 {
		t.Errorf("text compresses to %.0f%% of its size; want at most 50%%", ratio*100)
	}

	bin := make([]byte, 64<<10)
	newGenerator(newStreamCipher(), testKey(9), false).fill(bin, 0)
	z.Reset()
	w.Reset(&z)
	w.Write(bin)
	w.Close()
	if z.Len() < len(bin) {
		t.Errorf("binary body compressed from %d to %d bytes; want incompressible", len(bin), z.Len())
	}
}
