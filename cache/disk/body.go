package disk

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync/atomic"

	"github.com/selfcdn/cdn/cache"
)

// ErrCorrupt is returned by a body reader whose bytes do not match their
// checksum or length; the entry has been dropped, and the response that
// was being sent must be aborted.
var ErrCorrupt = errors.New("disk cache body failed verification")

func crc32Update(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }

// Body is the body of an object on disk. Each Open opens the file anew,
// so Bodies hold no file descriptors and may be kept (in the memory tier,
// say) for as long as one likes.
type Body struct {
	s        *Store
	h        keyHash
	path     string
	m        *meta
	e        *entry // nil if found before the index was rebuilt
	verified atomic.Bool
}

var _ cache.Body = (*Body)(nil)

// Size implements cache.Body.
func (b *Body) Size() int64 { return b.m.size }

// isVerified reports whether the whole body matched its checksums since
// the store started (or was written by this process).
func (b *Body) isVerified() bool {
	if b.verified.Load() {
		return true
	}
	if b.e != nil && b.e.verified.Load() {
		b.verified.Store(true)
		return true
	}
	return false
}

func (b *Body) markVerified() {
	b.verified.Store(true)
	if b.e != nil {
		b.e.verified.Store(true)
	}
}

// Open implements cache.Body: it returns a *BodyReader positioned at off
// (clamped to the body's size), reached by seeking, not by reading. If
// the entry was evicted or replaced since Get, the error wraps
// fs.ErrNotExist: treat it as a miss.
func (b *Body) Open(off int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, fmt.Errorf("open disk body %s at %d: negative offset", b.path, off)
	}
	off = min(off, b.m.size)
	f, err := os.Open(b.path)
	if err != nil {
		return nil, fmt.Errorf("open disk body %s: %w", b.path, err)
	}
	r := &BodyReader{b: b, f: f, pos: off, from0: off == 0, verify: !b.isVerified()}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			b.s.ioError(opRead, err)
			return nil, fmt.Errorf("seek disk body %s to %d: %w", b.path, off, err)
		}
	}
	if r.verify && off%b.m.blockSize != 0 {
		if err := r.primeBlock(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return r, nil
}

// BodyReader reads a body from its file. Until the body has been verified
// since the store started, it checks every block it reads against its
// checksum (a read starting mid-block first reads the block's start) and
// fails with ErrCorrupt on a mismatch, before returning the block's last
// bytes. Once verified, it reads the file as it is and File exposes it.
type BodyReader struct {
	b      *Body
	f      *os.File
	pos    int64 // body offset, also the file's offset
	from0  bool  // started at 0, so a full read verifies everything
	verify bool
	crc    uint32 // of the current block up to pos
	err    error
}

// primeBlock feeds the checksum with the current block's bytes before
// pos (read with pread, so the file offset stays at pos).
func (r *BodyReader) primeBlock() error {
	bs := r.b.m.blockSize
	start := r.pos - r.pos%bs
	bufp := r.b.s.bufPool.Get().(*[]byte)
	defer r.b.s.bufPool.Put(bufp)
	buf := *bufp
	for start < r.pos {
		n, err := r.f.ReadAt(buf[:min(int64(len(buf)), r.pos-start)], start)
		r.crc = crc32Update(r.crc, buf[:n])
		start += int64(n)
		if err != nil && start < r.pos {
			return r.fail(err)
		}
	}
	return nil
}

// fail records a read error: a short file or a checksum mismatch drops
// the entry as corrupt; other errors count as disk errors.
func (r *BodyReader) fail(err error) error {
	b := r.b
	switch {
	case errors.Is(err, ErrCorrupt):
		b.s.corrupt(corruptChecksum, b.path, err)
		b.s.drop(b.h, b.m.gen, true)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("disk body %s ends at %d, expected %d bytes: %w", b.path, r.pos, b.m.size, ErrCorrupt)
		b.s.corrupt(corruptLength, b.path, err)
		b.s.drop(b.h, b.m.gen, true)
	default:
		err = fmt.Errorf("read disk body %s at %d: %w", b.path, r.pos, err)
		b.s.ioError(opRead, err)
	}
	r.err = err
	return err
}

// Read implements io.Reader.
func (r *BodyReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	size := r.b.m.size
	if r.pos >= size {
		return 0, io.EOF
	}
	limit := size - r.pos
	bs := r.b.m.blockSize
	if r.verify {
		limit = min(limit, bs-r.pos%bs)
	}
	if int64(len(p)) > limit {
		p = p[:limit]
	}
	n, err := r.f.Read(p)
	r.pos += int64(n)
	if r.verify && n > 0 {
		r.crc = crc32Update(r.crc, p[:n])
		if r.pos%bs == 0 || r.pos == size {
			i := (r.pos - 1) / bs
			if r.crc != r.b.m.sums[i] {
				return 0, r.fail(fmt.Errorf("disk body %s: block %d: %w", r.b.path, i, ErrCorrupt))
			}
			r.crc = 0
			if r.pos == size && r.from0 {
				r.b.markVerified()
			}
		}
	}
	if err == io.EOF && r.pos < size || err != nil && err != io.EOF {
		return 0, r.fail(err)
	}
	if n == 0 && err == nil {
		return 0, r.fail(io.ErrUnexpectedEOF)
	}
	return n, nil
}

// WriteTo implements io.WriterTo. Once the body is verified it copies
// from the file through io.Copy, so a destination that implements
// io.ReaderFrom over a socket (net.TCPConn, net/http's ResponseWriter)
// uses sendfile.
func (r *BodyReader) WriteTo(w io.Writer) (int64, error) {
	if f, _, n := r.File(); f != nil {
		written, err := io.Copy(w, &io.LimitedReader{R: f, N: n})
		r.pos += written
		if err == nil && written < n {
			err = r.fail(io.ErrUnexpectedEOF)
		}
		return written, err
	}
	bufp := r.b.s.bufPool.Get().(*[]byte)
	defer r.b.s.bufPool.Put(bufp)
	buf := *bufp
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// File exposes the body's file for sendfile: f is positioned at offset,
// the absolute file offset of the reader's position, and length bytes
// remain to the end of the body. Hand io.LimitedReader{R: f, N: length}
// to the connection and do not use the reader afterwards except to Close
// it (which closes f).
//
// f is nil while the body is not verified since the store started (the
// first reads after a restart, for bodies over VerifyMax): then read
// through Read, which verifies, because sendfile would bypass the check.
func (r *BodyReader) File() (f *os.File, offset, length int64) {
	if r.err != nil {
		return nil, 0, 0
	}
	if r.verify {
		if !r.b.isVerified() {
			return nil, 0, 0
		}
		r.verify = false
	}
	return r.f, r.pos, r.b.m.size - r.pos
}

// Close closes the file.
func (r *BodyReader) Close() error { return r.f.Close() }
