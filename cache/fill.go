package cache

import (
	"context"
	"errors"
	"io"
	"sync"
)

// DiskWriter is a disk tier entry being written: the body streams in
// through Write while any number of readers read it back with ReadAt.
// The disk package's Writer implements it.
type DiskWriter interface {
	io.Writer
	// ReadAt reads body bytes already written.
	ReadAt(p []byte, off int64) (int, error)
	// CommitOpen stores the entry under o's key and head, keeping the
	// file readable through ReadAt until Close.
	CommitOpen(o *Object) error
	// Abort discards the entry; readers get an error.
	Abort()
	// Close releases the file after CommitOpen (or Abort).
	Close()
}

// FillMode says where a Fill keeps the body it receives.
type FillMode int

// Fill modes.
const (
	// FillMemory keeps the whole body in memory, to be stored in the
	// memory tier. A body that grows past the memory limit spills to disk
	// (when there is a disk tier) or turns into FillStream.
	FillMemory FillMode = iota
	// FillDisk writes the body into a disk tier entry; readers read it
	// back from the file, so no body is ever held whole in memory.
	FillDisk
	// FillStream stores nothing: bytes pass from the upstream to the
	// readers through a bounded window, and the upstream waits for the
	// slowest reader (backpressure).
	FillStream
)

func (m FillMode) String() string {
	switch m {
	case FillMemory:
		return "memory"
	case FillDisk:
		return "disk"
	}
	return "stream"
}

// ErrFillGone is returned by Fill.Reader for an offset that has already
// left a streaming fill's window: that reader must fetch on its own.
var ErrFillGone = errors.New("body no longer buffered: fetch it separately")

// Fill is a body arriving from upstream, readable by any number of readers
// while it grows, so collapsed clients receive bytes as they arrive. It is
// the one place that decides, byte by byte, whether the body is still
// being stored: a body too large for memory spills to disk, and a body the
// disk will not take (too large, no room, I/O error) keeps streaming to
// its readers instead of failing them.
//
// One goroutine (the flight's pump) calls Write and Finish; readers come
// and go from any goroutine.
type Fill struct {
	mu       sync.Mutex
	mode     FillMode
	size     int64 // expected size, -1 if unknown
	n        int64 // bytes received
	buf      []byte
	bufStart int64      // buf holds bytes [bufStart, n)
	w        DiskWriter // FillDisk, or a FillStream that began on disk
	diskN    int64      // bytes [0, diskN) are in w
	maxMem   int64      // memory limit of FillMemory
	window   int64      // buffer bound of FillStream
	spill    func() (DiskWriter, error)
	reason   string // why storing stopped, for FillStream
	done     bool
	err      error
	wake     chan struct{}
	readers  map[*FillReader]struct{}
	onStop   func(reason string)
}

// FillConfig describes a new Fill.
type FillConfig struct {
	// Mode is where the body starts: memory, disk (Writer set) or stream.
	Mode FillMode
	// Size is the announced body size, -1 if unknown.
	Size int64
	// Writer is the disk entry for FillDisk.
	Writer DiskWriter
	// MaxMemory bounds a FillMemory body; past it the fill spills or
	// streams. Required for FillMemory.
	MaxMemory int64
	// Window bounds what a FillStream buffers ahead of its slowest reader.
	// 0 means 256 KiB.
	Window int64
	// Spill, if non-nil, creates a disk entry for a memory body that grew
	// past MaxMemory (bodies of unknown length).
	Spill func() (DiskWriter, error)
	// Reason says why a FillStream stores nothing ("pass" if empty).
	Reason string
	// OnStop, if non-nil, is called once, from the pump's goroutine, when
	// the fill stops storing (it became FillStream). It must not block.
	OnStop func(reason string)
}

// NewFill returns an empty fill.
func NewFill(c FillConfig) *Fill {
	f := &Fill{mode: c.Mode, size: c.Size, w: c.Writer, maxMem: c.MaxMemory, window: c.Window,
		spill: c.Spill, onStop: c.OnStop, wake: make(chan struct{}), readers: map[*FillReader]struct{}{}}
	if f.window <= 0 {
		f.window = 256 << 10
	}
	if f.mode == FillMemory && c.Size > 0 && c.Size <= c.MaxMemory {
		f.buf = make([]byte, 0, c.Size)
	}
	if f.mode == FillStream {
		f.reason = c.Reason
		if f.reason == "" {
			f.reason = "pass"
		}
	}
	return f
}

// Mode returns where the fill keeps its body now.
func (f *Fill) Mode() FillMode {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mode
}

// Storing reports whether the body is still on its way into a tier.
func (f *Fill) Storing() bool { return f.Mode() != FillStream }

// StopReason says why a FillStream stores nothing ("" while storing).
func (f *Fill) StopReason() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reason
}

// Received returns how many bytes have arrived.
func (f *Fill) Received() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// Buffered returns how many body bytes the fill holds in memory.
func (f *Fill) Buffered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.buf)
}

func (f *Fill) broadcast() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// stopStoring turns the fill into FillStream; f.mu is held. The disk
// entry, if any, stays readable for bytes already in it until Release.
func (f *Fill) stopStoring(reason string) {
	if f.mode == FillStream {
		return
	}
	f.mode = FillStream
	f.reason = reason
	if f.onStop != nil {
		stop := f.onStop
		f.onStop = nil
		f.mu.Unlock()
		stop(reason)
		f.mu.Lock()
	}
}

// minOffset is the smallest offset an open reader still needs; with no
// reader open, nothing may be dropped yet. f.mu is held.
func (f *Fill) minOffset() int64 {
	if len(f.readers) == 0 {
		return f.bufStart
	}
	m := f.n
	for r := range f.readers {
		m = min(m, r.off)
	}
	return m
}

// trim drops streamed bytes every reader has read. f.mu is held.
func (f *Fill) trim() {
	if f.mode != FillStream {
		return
	}
	m := max(f.minOffset(), f.bufStart)
	drop := m - f.bufStart
	if drop <= 0 {
		return
	}
	f.buf = f.buf[drop:]
	f.bufStart = m
	if cap(f.buf) > int(2*f.window) && len(f.buf) < cap(f.buf)/4 {
		f.buf = append([]byte(nil), f.buf...)
	}
}

// Write appends upstream bytes. It blocks while a streaming fill's window
// is full, until readers catch up or ctx ends (the flight was cancelled).
func (f *Fill) Write(p []byte) (int, error) {
	return f.WriteContext(context.Background(), p)
}

// WriteContext is Write bounded by ctx.
func (f *Fill) WriteContext(ctx context.Context, p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		n, err := f.write(ctx, p)
		total += n
		p = p[n:]
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (f *Fill) write(ctx context.Context, p []byte) (int, error) {
	f.mu.Lock()
	switch f.mode {
	case FillMemory:
		if f.n+int64(len(p)) > f.maxMem {
			f.spillLocked()
			f.mu.Unlock()
			return 0, nil // again, in the new mode
		}
		f.buf = append(f.buf, p...)
		f.n += int64(len(p))
		f.broadcast()
		f.mu.Unlock()
		return len(p), nil
	case FillDisk:
		w := f.w
		f.mu.Unlock()
		// Only this goroutine writes; readers read [0, diskN) meanwhile.
		k, err := w.Write(p)
		f.mu.Lock()
		f.n += int64(k)
		f.diskN = f.n
		f.bufStart = f.n
		if err != nil {
			f.stopStoring("disk: " + err.Error())
		}
		f.broadcast()
		f.mu.Unlock()
		return k, nil
	}
	// FillStream: wait for room in the window.
	for f.n-max(f.minOffset(), f.bufStart) >= f.window && !f.done {
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		f.mu.Lock()
		f.trim()
	}
	room := f.window - (f.n - max(f.minOffset(), f.bufStart))
	k := int(min(int64(len(p)), room))
	f.buf = append(f.buf, p[:k]...)
	f.n += int64(k)
	f.trim()
	f.broadcast()
	f.mu.Unlock()
	return k, nil
}

// spillLocked moves a memory body that outgrew its limit to disk, or
// stops storing it. f.mu is held.
func (f *Fill) spillLocked() {
	if f.spill != nil {
		spill := f.spill
		f.spill = nil
		w, err := spill()
		if err == nil {
			if _, err = w.Write(f.buf); err == nil {
				f.mode = FillDisk
				f.w = w
				f.diskN = f.n
				f.bufStart = f.n
				f.buf = nil
				return
			}
			w.Abort()
		}
		f.stopStoring("too-large-for-memory; disk: " + err.Error())
		return
	}
	f.stopStoring("too-large")
}

// Finish marks the body complete (err nil) or failed: readers of a
// failed fill get err, so nobody takes a truncated body for a whole one.
func (f *Fill) Finish(err error) {
	f.mu.Lock()
	f.done = true
	f.err = err
	f.broadcast()
	f.mu.Unlock()
}

// Bytes returns the body of a FillMemory fill; the pump calls it once
// the upstream body has ended without error.
func (f *Fill) Bytes() ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode != FillMemory || f.err != nil {
		return nil, false
	}
	return f.buf[:len(f.buf):len(f.buf)], true
}

// Writer returns the disk entry of a FillDisk fill.
func (f *Fill) Writer() (DiskWriter, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w, f.mode == FillDisk
}

// Release gives up the disk entry once no reader needs it: it aborts an
// entry that was never committed and closes one that was. The flight
// calls it when its last user is done.
func (f *Fill) Release() {
	f.mu.Lock()
	w := f.w
	f.w = nil
	f.mu.Unlock()
	if w != nil {
		w.Abort() // no-op on a committed entry
		w.Close()
	}
}

// Readers returns how many readers are open.
func (f *Fill) Readers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.readers)
}

// Reader returns a reader of the body from off that blocks for more bytes
// until the fill finishes or ctx ends. It fails with ErrFillGone when a
// streaming fill no longer holds off. Close it when done.
func (f *Fill) Reader(ctx context.Context, off int64) (*FillReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < f.bufStart && (f.w == nil || off >= f.diskN) {
		return nil, ErrFillGone
	}
	r := &FillReader{f: f, off: off, ctx: ctx}
	f.readers[r] = struct{}{}
	return r, nil
}

// FillReader reads a Fill. A failed fill makes Read return its error.
type FillReader struct {
	f      *Fill
	off    int64
	ctx    context.Context
	closed bool
}

// Read implements io.Reader.
func (r *FillReader) Read(p []byte) (int, error) {
	f := r.f
	for {
		f.mu.Lock()
		if f.err != nil {
			err := f.err
			f.mu.Unlock()
			return 0, err
		}
		if r.off < f.n {
			if r.off < f.diskN && f.w != nil && r.off < f.bufStart {
				w := f.w
				avail := min(f.diskN, f.bufStart) - r.off
				f.mu.Unlock()
				if int64(len(p)) > avail {
					p = p[:avail]
				}
				n, err := w.ReadAt(p, r.off)
				f.mu.Lock()
				r.off += int64(n)
				f.trim()
				f.broadcast()
				f.mu.Unlock()
				if n > 0 {
					return n, nil
				}
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return 0, err
			}
			if r.off < f.bufStart {
				f.mu.Unlock()
				return 0, ErrFillGone
			}
			n := copy(p, f.buf[r.off-f.bufStart:])
			r.off += int64(n)
			f.trim()
			f.broadcast()
			f.mu.Unlock()
			return n, nil
		}
		if f.done {
			f.mu.Unlock()
			return 0, io.EOF
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// Available reports whether a Read would return at once (bytes are
// there, or the body ended): a writer flushes when it is false.
func (r *FillReader) Available() bool {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	return r.off < f.n || f.done
}

// Close removes the reader, letting a streaming fill drop what it held
// for it.
func (r *FillReader) Close() error {
	f := r.f
	f.mu.Lock()
	if !r.closed {
		r.closed = true
		delete(f.readers, r)
		f.trim()
		f.broadcast()
	}
	f.mu.Unlock()
	return nil
}
