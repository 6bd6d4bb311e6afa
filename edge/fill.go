package edge

import (
	"context"
	"errors"
	"io"
	"sync"
)

// errTooLarge ends a fill that outgrew the memory tier's object limit.
var errTooLarge = errors.New("object larger than the memory tier's object limit")

// fill is a body arriving from upstream, readable by any number of
// readers while it grows: collapsed clients receive bytes as they arrive,
// not after the whole object is in. Readers block on a channel that is
// closed and replaced at every change, so there is no polling.
type fill struct {
	mu   sync.Mutex
	buf  []byte
	size int64 // expected size, -1 if unknown
	done bool
	err  error // set when the upstream body failed; readers fail too
	wake chan struct{}
}

func newFill(size int64) *fill {
	f := &fill{size: size, wake: make(chan struct{})}
	if size > 0 {
		f.buf = make([]byte, 0, size)
	}
	return f
}

func (f *fill) broadcast() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// Write appends upstream bytes.
func (f *fill) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.buf = append(f.buf, p...)
	f.broadcast()
	f.mu.Unlock()
	return len(p), nil
}

// finish marks the body complete (err nil) or failed.
func (f *fill) finish(err error) {
	f.mu.Lock()
	f.done = true
	f.err = err
	f.broadcast()
	f.mu.Unlock()
}

// bytes returns the complete body; valid only after finish(nil).
func (f *fill) bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf[:len(f.buf):len(f.buf)]
}

// reader returns a reader from off that blocks for more bytes until the
// fill finishes or ctx ends. A failed fill makes Read return its error, so
// a client never receives a truncated body as if it were whole.
func (f *fill) reader(ctx context.Context, off int64) io.Reader {
	return &fillReader{f: f, off: off, ctx: ctx}
}

type fillReader struct {
	f   *fill
	off int64
	ctx context.Context
}

func (r *fillReader) Read(p []byte) (int, error) {
	for {
		r.f.mu.Lock()
		if r.f.err != nil {
			err := r.f.err
			r.f.mu.Unlock()
			return 0, err
		}
		if r.off < int64(len(r.f.buf)) {
			n := copy(p, r.f.buf[r.off:])
			r.off += int64(n)
			r.f.mu.Unlock()
			return n, nil
		}
		if r.f.done {
			r.f.mu.Unlock()
			return 0, io.EOF
		}
		wake := r.f.wake
		r.f.mu.Unlock()
		select {
		case <-wake:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}
