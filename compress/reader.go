package compress

import (
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// MaxZstdWindow is the largest window a zstd stream may need to be decoded
// here: 8 MiB, the limit RFC 9659 §3 sets for the "zstd" content coding.
// Streams that declare more are refused rather than buffered.
const MaxZstdWindow = 8 << 20

// newDecoder returns a fresh decoder for enc, or an error.
func newDecoder(enc Encoding) any {
	switch enc {
	case Gzip:
		return new(gzip.Reader)
	case Brotli:
		return brotli.NewReader(nil)
	case Zstd:
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(MaxZstdWindow))
		if err != nil {
			return err
		}
		return d
	}
	return fmt.Errorf("no decoder for %q", enc)
}

// NewReader returns a reader of the decoded content of src, which is encoded
// with enc; with Identity it reads src unchanged. Close returns the decoder
// to a pool (it never closes src); the reader must not be used after Close.
// The edge uses it to serve a client that accepts only identity from a
// compressed variant; it bounds memory per stream (zstd windows beyond
// MaxZstdWindow are refused) but not the decoded size, which the caller
// limits, for instance with io.LimitReader, when src is not trusted.
//
// For gzip, NewReader reads and checks the header at once and returns its
// error. Corrupt input makes Read fail with an error, never panic.
func NewReader(src io.Reader, enc Encoding) (io.ReadCloser, error) {
	if enc == Identity {
		return &identityReader{src: src}, nil
	}
	p := pools.readers[enc]
	if p == nil {
		return nil, fmt.Errorf("compress: new reader: unsupported content coding %q", string(enc))
	}
	v := p.Get()
	if err, ok := v.(error); ok {
		return nil, fmt.Errorf("compress: new %s reader: %w", enc, err)
	}
	r := &reader{pool: p}
	switch d := v.(type) {
	case *gzip.Reader:
		if err := d.Reset(src); err != nil {
			p.Put(d)
			return nil, fmt.Errorf("compress: read gzip header: %w", err)
		}
		d.Multistream(true)
		r.r, r.release = d, func() { d.Close() }
	case *brotli.Reader:
		_ = d.Reset(src) // always nil
		r.r, r.release = d, func() { _ = d.Reset(nil) }
	case *zstd.Decoder:
		if err := d.Reset(src); err != nil {
			p.Put(d)
			return nil, fmt.Errorf("compress: start zstd stream: %w", err)
		}
		r.r, r.release = d, func() { _ = d.Reset(nil) }
	}
	r.d = v
	return r, nil
}

// reader is a pooled decoder; r is nil once closed.
type reader struct {
	r       io.Reader
	d       any // the pooled decoder
	release func()
	pool    *sync.Pool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.r == nil {
		return 0, ErrClosed
	}
	return r.r.Read(p)
}

// Close returns the decoder to its pool. Calling it again does nothing.
func (r *reader) Close() error {
	if r.r == nil {
		return nil
	}
	r.r = nil
	r.release()
	r.pool.Put(r.d)
	r.d, r.release = nil, nil
	return nil
}

// identityReader reads src unchanged.
type identityReader struct {
	src    io.Reader
	closed bool
}

func (r *identityReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	return r.src.Read(p)
}

// Close marks the reader closed; it does not close src.
func (r *identityReader) Close() error {
	r.closed = true
	return nil
}
