package edge

import (
	"context"
	"io"
	"sync"

	"github.com/selfcdn/cdn/cache/disk"
)

// fill is a body arriving from upstream, readable by any number of
// readers while it grows: collapsed clients receive bytes as they arrive,
// not after the whole object is in. Readers block on a channel that is
// closed and replaced at every change, so there is no polling.
//
// A fill keeps the bytes in memory, or, for large objects and bodies of
// unknown length when there is a disk tier, writes them to the disk
// tier's file and readers read them back from it: no object is ever held
// whole in memory then.
type fill struct {
	mu   sync.Mutex
	buf  []byte       // memory mode
	w    *disk.Writer // disk mode
	n    int64        // bytes received
	size int64        // expected size, -1 if unknown
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

// newDiskFill streams into a disk tier writer. Its readers use the
// writer's ReadAt; the flight closes the writer's read descriptor when its
// last user is done.
func newDiskFill(w *disk.Writer, size int64) *fill {
	return &fill{w: w, size: size, wake: make(chan struct{})}
}

func (f *fill) broadcast() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// Write appends upstream bytes.
func (f *fill) Write(p []byte) (int, error) {
	if f.w != nil {
		n, err := f.w.Write(p)
		f.mu.Lock()
		f.n += int64(n)
		f.broadcast()
		f.mu.Unlock()
		return n, err
	}
	f.mu.Lock()
	f.buf = append(f.buf, p...)
	f.n += int64(len(p))
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

// bytes returns the complete body of a memory fill; valid only after the
// upstream body ended without error.
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
		if r.off < r.f.n {
			if r.f.w != nil {
				avail := r.f.n - r.off
				r.f.mu.Unlock()
				if int64(len(p)) > avail {
					p = p[:avail]
				}
				n, err := r.f.w.ReadAt(p, r.off)
				r.off += int64(n)
				if n > 0 {
					return n, nil
				}
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return 0, err
			}
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
