package compress

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// slow reports whether enc at level compresses below about 10 MB/s, which
// the race detector slows further.
func slow(enc Encoding, level Level) bool {
	return (enc == Brotli && level >= 9) || (enc == Zstd && level >= 11)
}

func TestRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 255, 256, 4<<10 + 7, 64<<10 + 7, 256 << 10, 1 << 20}
	for _, enc := range allCodings() {
		for _, level := range levelsOf(enc) {
			for _, kind := range []string{"text", "binary"} {
				for _, size := range sizes {
					// Brotli 9 and 11 and zstd 11 run at 0.1 to 1 MB/s
					// and stop at 256 KiB; the race detector slows every
					// encoder about tenfold, so -race and -short runs stop
					// at 256 KiB, and at 4 KiB for the slow levels.
					limit := 1 << 20
					switch {
					case (testing.Short() || raceEnabled) && slow(enc, level):
						limit = 4<<10 + 7
					case testing.Short() || raceEnabled:
						limit = 256 << 10
					case slow(enc, level):
						limit = 256 << 10
					}
					if size > limit {
						continue
					}
					t.Run(fmt.Sprintf("%s/%d/%s/%d", enc, level, kind, size), func(t *testing.T) {
						in := randomBytes(uint64(size), size)
						if kind == "text" && size > 0 {
							in = corpus([]string{"html", "js", "json"}[size%3], size)
						}
						out := compressBytes(t, in, enc, level)
						if got := decompressBytes(t, out, enc); !bytes.Equal(got, in) {
							t.Fatalf("round trip of %d bytes gave %d bytes, different", len(in), len(got))
						}
						if kind == "text" && size >= 4<<10 && enc != Identity && len(out) >= len(in)/2 {
							t.Errorf("%d bytes of text compressed to %d", len(in), len(out))
						}
					})
				}
			}
		}
	}
}

// TestRoundTripSmallWrites feeds the encoder one odd-sized piece at a time,
// flushing in between, as a streaming fill does.
func TestRoundTripSmallWrites(t *testing.T) {
	in := corpus("json", 100<<10)
	for _, enc := range allCodings() {
		t.Run(enc.String(), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, enc, DefaultLevel)
			if err != nil {
				t.Fatal(err)
			}
			f := w.(interface{ Flush() error })
			for p := in; len(p) > 0; {
				n := min(len(p), 3001)
				if _, err := w.Write(p[:n]); err != nil {
					t.Fatal(err)
				}
				if err := f.Flush(); err != nil {
					t.Fatal(err)
				}
				p = p[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := decompressBytes(t, buf.Bytes(), enc); !bytes.Equal(got, in) {
				t.Fatal("round trip with small writes differs")
			}
		})
	}
}

// TestDeterministic checks that the same input gives the same bytes every
// time, from a fresh encoder or from one reused after other work: the
// premise of strong variant entity-tags (VariantETag).
func TestDeterministic(t *testing.T) {
	for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
		for _, level := range Levels(enc) {
			size := 256 << 10
			switch {
			case (testing.Short() || raceEnabled) && slow(enc, level):
				size = 8 << 10
			case testing.Short() || raceEnabled, slow(enc, level):
				size = 64 << 10
			}
			in := corpus("html", size)
			other := corpus("js", size)
			t.Run(fmt.Sprintf("%s/%d", enc, level), func(t *testing.T) {
				first := compressBytes(t, in, enc, level)
				compressBytes(t, other, enc, level) // leave state in the pooled encoder
				second := compressBytes(t, in, enc, level)
				if !bytes.Equal(first, second) {
					t.Fatalf("two compressions of one input differ: %d and %d bytes", len(first), len(second))
				}
			})
		}
	}
}

// goldenDigests pins the first 8 bytes of SHA-256 of each encoder's output
// for corpus("html", 16<<10). If an upgrade of klauspost/compress or
// andybalholm/brotli changes one, nodes of the old and new builds would
// produce different bytes under one strong entity-tag: change that coding's
// suffix in variantSuffix (etag.go), then update the digest here.
var goldenDigests = map[string]string{
	"gzip/1":  "50bbc3c6c66a16e0",
	"gzip/6":  "502e039abd517743",
	"gzip/9":  "362140b2edf05086",
	"br/1":    "863c43d5c5b69c0b",
	"br/4":    "1eaec9756289c003",
	"br/5":    "d8c1bc1472a209be",
	"br/6":    "0e310112fede9433",
	"br/9":    "7ed527a86c4ffb88",
	"br/11":   "0a04ddfd5d62511d",
	"zstd/1":  "5a37713061ff9811",
	"zstd/3":  "bae7a9ec9f2cd1d4",
	"zstd/7":  "a839b8c7c7bd8d49",
	"zstd/11": "8bf8adaed23f18b5",
}

func TestGoldenOutput(t *testing.T) {
	in := corpus("html", 16<<10)
	for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
		for _, level := range Levels(enc) {
			name := fmt.Sprintf("%s/%d", enc, level)
			sum := sha256.Sum256(compressBytes(t, in, enc, level))
			got := fmt.Sprintf("%x", sum[:8])
			want, ok := goldenDigests[name]
			if !ok {
				t.Errorf("%s: no golden digest; add %q", name, got)
				continue
			}
			if got != want {
				t.Errorf("%s: output digest %s, want %s: the encoder's output changed; see goldenDigests", name, got, want)
			}
		}
	}
}

// TestZstdWindowWithinRFC9659 checks that every zstd level declares a window
// browsers accept: at most 8 MiB (RFC 9659 §3).
func TestZstdWindowWithinRFC9659(t *testing.T) {
	in := corpus("json", 64<<10)
	for _, level := range Levels(Zstd) {
		var h zstd.Header
		if err := h.Decode(compressBytes(t, in, Zstd, level)); err != nil {
			t.Fatalf("level %d: decode frame header: %v", level, err)
		}
		if h.WindowSize > MaxZstdWindow {
			t.Errorf("level %d: window %d bytes, above %d", level, h.WindowSize, MaxZstdWindow)
		}
	}
}

// TestPoolConcurrent runs many writers and readers of every coding at once,
// each with its own input, so that the race detector sees pooled encoders
// move between goroutines and any sharing of state shows as corrupt output.
func TestPoolConcurrent(t *testing.T) {
	const goroutines, rounds = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				enc := []Encoding{Gzip, Brotli, Zstd}[(g+i)%3]
				levels := Levels(enc)
				level := levels[(g*rounds+i)%len(levels)]
				if slow(enc, level) {
					level = DefaultLevel
				}
				in := corpus("json", 8<<10+g*131+i)
				var buf bytes.Buffer
				w, err := NewWriter(&buf, enc, level)
				if err != nil {
					errs <- err
					return
				}
				w.Write(in)
				if err := w.Close(); err != nil {
					errs <- err
					return
				}
				r, err := NewReader(&buf, enc)
				if err != nil {
					errs <- err
					return
				}
				out, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(out, in) {
					errs <- fmt.Errorf("goroutine %d round %d %s/%d: round trip failed: %v", g, i, enc, level, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewWriterErrors(t *testing.T) {
	tests := []struct {
		enc   Encoding
		level Level
	}{
		{"deflate", DefaultLevel},
		{NotAcceptable, DefaultLevel},
		{Gzip, 5},
		{Brotli, 12},
		{Zstd, 22},
		{Gzip, -1},
	}
	for _, tt := range tests {
		if w, err := NewWriter(io.Discard, tt.enc, tt.level); err == nil {
			w.Close()
			t.Errorf("NewWriter(%q, %d): no error", tt.enc, tt.level)
		}
	}
	if _, err := NewReader(bytes.NewReader(nil), "deflate"); err == nil {
		t.Error("NewReader(deflate): no error")
	}
}

func TestWriterUseAfterClose(t *testing.T) {
	for _, enc := range allCodings() {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, enc, DefaultLevel)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("hello"))
		if err := w.Close(); err != nil {
			t.Fatalf("%s: close: %v", enc, err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("%s: second Close: %v", enc, err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Write after Close: %v, want ErrClosed", enc, err)
		}
		if err := w.(interface{ Flush() error }).Flush(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Flush after Close: %v, want ErrClosed", enc, err)
		}
		r, err := NewReader(&buf, enc)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if err := r.Close(); err != nil {
			t.Errorf("%s: second reader Close: %v", enc, err)
		}
		if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Read after Close: %v, want ErrClosed", enc, err)
		}
	}
}

// TestReaderCorruptInput checks that damaged streams give errors, not
// panics or silent truncation, and that the pooled decoder works afterwards.
func TestReaderCorruptInput(t *testing.T) {
	in := corpus("js", 32<<10)
	for _, enc := range []Encoding{Gzip, Brotli, Zstd} {
		good := compressBytes(t, in, enc, DefaultLevel)
		damaged := map[string][]byte{
			"truncated": good[:len(good)/2],
			"garbage":   randomBytes(9, 4096),
			"flipped": func() []byte {
				b := slices.Clone(good)
				b[len(b)/2] ^= 0x55
				return b
			}(),
		}
		for name, p := range damaged {
			r, err := NewReader(bytes.NewReader(p), enc)
			if err != nil {
				continue // gzip refuses a bad header at once
			}
			out, err := io.ReadAll(r)
			r.Close()
			if err == nil && bytes.Equal(out, in) {
				continue // a flip in a part that does not matter, e.g. padding
			}
			// Brotli has no checksum (RFC 7932): a flipped bit can decode
			// to other bytes without error. Gzip and zstd carry one.
			if err == nil && !(enc == Brotli && name == "flipped") {
				t.Errorf("%s %s: decoded %d bytes without error", enc, name, len(out))
			}
		}
		if got := decompressBytes(t, good, enc); !bytes.Equal(got, in) {
			t.Errorf("%s: pooled decoder broken after corrupt input", enc)
		}
	}
}

func TestLevels(t *testing.T) {
	want := map[Encoding][]Level{Gzip: {1, 6, 9}, Brotli: {1, 4, 5, 6, 9, 11}, Zstd: {1, 3, 7, 11}}
	for enc, w := range want {
		if got := Levels(enc); !slices.Equal(got, w) {
			t.Errorf("Levels(%s) = %v, want %v", enc, got, w)
		}
		if !slices.Contains(w, DefaultLevelOf(enc)) {
			t.Errorf("DefaultLevelOf(%s) = %d, not offered", enc, DefaultLevelOf(enc))
		}
	}
	if Levels(Identity) != nil || DefaultLevelOf("deflate") != DefaultLevel {
		t.Error("Identity and unknown codings have no levels")
	}
}
