package compress

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Level is a compression level of one encoding, in that encoding's own
// scale (gzip 1-9, brotli 0-11, zstd 1-22). The zero value, DefaultLevel,
// is the encoding's default. Only the levels Levels lists are offered: each
// is measured (see README.md) and has a pool of encoders.
type Level int

// DefaultLevel selects the encoding's default level: gzip 6, brotli 6,
// zstd 7 (see DefaultLevelOf). The edge compresses a response once and
// serves the variant from cache many times, so the defaults favour ratio up
// to the point where the next level costs several times the CPU for a few
// per cent (measured in README.md): each stays near 10 ms or less per
// 100 KiB, which the first request of a miss waits for.
const DefaultLevel Level = 0

// offeredLevels lists, per encoding, the levels offered; the first is the
// default. Changing a level changes the bytes of a variant, and so must
// change its entity-tag (see VariantETag).
var offeredLevels = [...]struct {
	enc    Encoding
	levels []Level
}{
	{Gzip, []Level{6, 1, 9}},
	{Brotli, []Level{6, 1, 4, 5, 9, 11}},
	// klauspost/compress has four zstd strategies; the levels are the
	// reference zstd levels they match (zstd.EncoderLevelFromZstd): 1
	// fastest, 3 default, 7 better, 11 best.
	{Zstd, []Level{7, 1, 3, 11}},
}

// Levels returns the levels offered for enc, in increasing order, or nil
// for Identity and unknown codings.
func Levels(enc Encoding) []Level {
	for _, o := range offeredLevels {
		if o.enc == enc {
			l := append([]Level(nil), o.levels...)
			for i := 1; i < len(l); i++ { // tiny insertion sort
				for j := i; j > 0 && l[j] < l[j-1]; j-- {
					l[j], l[j-1] = l[j-1], l[j]
				}
			}
			return l
		}
	}
	return nil
}

// DefaultLevelOf returns the level DefaultLevel stands for with enc, or
// DefaultLevel for Identity and unknown codings.
func DefaultLevelOf(enc Encoding) Level {
	for _, o := range offeredLevels {
		if o.enc == enc {
			return o.levels[0]
		}
	}
	return DefaultLevel
}

// ErrClosed is returned by Write, Flush and Read after Close.
var ErrClosed = errors.New("compress: use after Close")

// resetWriter is what the three encoders have in common.
type resetWriter interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

// zstdWriter adapts *zstd.Encoder to resetWriter.
type zstdWriter struct{ *zstd.Encoder }

func (z zstdWriter) Reset(w io.Writer) { z.Encoder.Reset(w) }

// pools holds one sync.Pool of idle encoders per (encoding, level) and one
// of idle decoders per encoding. A pool is a cache of scratch memory with no
// observable state, so sharing it across the process is safe; this is the
// same choice the standard library makes for its buffers.
var pools = newPools()

type poolSet struct {
	writers map[writerKey]*sync.Pool // read-only after newPools
	readers map[Encoding]*sync.Pool  // read-only after newPools
}

type writerKey struct {
	enc   Encoding
	level Level
}

func newPools() *poolSet {
	p := &poolSet{writers: map[writerKey]*sync.Pool{}, readers: map[Encoding]*sync.Pool{}}
	for _, o := range offeredLevels {
		for _, l := range o.levels {
			k := writerKey{o.enc, l}
			p.writers[k] = &sync.Pool{New: func() any { return newEncoder(k) }}
		}
		enc := o.enc
		p.readers[enc] = &sync.Pool{New: func() any { return newDecoder(enc) }}
	}
	return p
}

// encoder is a pooled encoder writing to its sink. The encoder is reset once
// per use, when taken from the pool; its destination is the sink, whose
// writer is cleared on Close so that an idle encoder keeps no reference to
// a finished response.
type encoder struct {
	e    resetWriter
	sink sink
}

// sink forwards to w.
type sink struct{ w io.Writer }

func (s *sink) Write(p []byte) (int, error) { return s.w.Write(p) }

// newEncoder returns a fresh *encoder for k, or an error for the pool's user.
func newEncoder(k writerKey) any {
	e, err := newResetWriter(k)
	if err != nil {
		return err
	}
	return &encoder{e: e}
}

func newResetWriter(k writerKey) (resetWriter, error) {
	switch k.enc {
	case Gzip:
		return gzip.NewWriterLevel(nil, int(k.level))
	case Brotli:
		return brotli.NewWriterLevel(nil, int(k.level)), nil
	case Zstd:
		// One goroutine per stream: output is then byte-for-byte
		// deterministic, and the edge's own concurrency uses the cores.
		// Every strategy keeps its window within the 8 MiB that RFC 9659
		// §3 allows the "zstd" content coding.
		w, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(int(k.level))),
			zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true))
		if err != nil {
			return nil, err
		}
		return zstdWriter{w}, nil
	}
	return nil, fmt.Errorf("no encoder for %q", k.enc)
}

// NewWriter returns a writer that compresses what is written to it with enc
// at level and writes the result to dst. Close flushes the encoded stream's
// end to dst (it never closes dst) and returns the encoder to a pool: the
// writer must not be used after Close, and Close must be called for the
// output to be complete. The writer also has a Flush() error method that
// pushes buffered output to dst. With Identity, the writer passes bytes
// through unchanged.
//
// NewWriter fails for a coding other than Identity, Gzip, Brotli and Zstd,
// and for a level Levels(enc) does not list. A writer is not safe for
// concurrent use; different writers are.
func NewWriter(dst io.Writer, enc Encoding, level Level) (io.WriteCloser, error) {
	if enc == Identity {
		return &identityWriter{dst: dst}, nil
	}
	if level == DefaultLevel {
		level = DefaultLevelOf(enc)
	}
	p := pools.writers[writerKey{enc, level}]
	if p == nil {
		if !enc.Known() {
			return nil, fmt.Errorf("compress: new writer: unsupported content coding %q", string(enc))
		}
		return nil, fmt.Errorf("compress: new %s writer: unsupported level %d (offered: %v)", enc, level, Levels(enc))
	}
	v := p.Get()
	if err, ok := v.(error); ok {
		return nil, fmt.Errorf("compress: new %s writer at level %d: %w", enc, level, err)
	}
	e := v.(*encoder)
	e.sink.w = dst
	e.e.Reset(&e.sink)
	return &writer{e: e, pool: p}, nil
}

// writer is a pooled encoder in use; e is nil once closed.
type writer struct {
	e    *encoder
	pool *sync.Pool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.e == nil {
		return 0, ErrClosed
	}
	return w.e.e.Write(p)
}

// Flush writes any buffered output to the destination.
func (w *writer) Flush() error {
	if w.e == nil {
		return ErrClosed
	}
	return w.e.e.Flush()
}

// Close completes the stream and returns the encoder to its pool. Calling
// it again does nothing.
func (w *writer) Close() error {
	if w.e == nil {
		return nil
	}
	e := w.e
	w.e = nil
	err := e.e.Close()
	e.sink.w = nil
	w.pool.Put(e)
	return err
}

// identityWriter passes bytes through to dst.
type identityWriter struct {
	dst    io.Writer
	closed bool
}

func (w *identityWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, ErrClosed
	}
	return w.dst.Write(p)
}

// Flush does nothing: identityWriter holds no buffer.
func (w *identityWriter) Flush() error {
	if w.closed {
		return ErrClosed
	}
	return nil
}

// Close marks the writer closed; it does not close dst.
func (w *identityWriter) Close() error {
	w.closed = true
	return nil
}
