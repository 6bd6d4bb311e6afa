package disk

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"github.com/selfcdn/cdn/cache"
)

// ErrAborted is returned by Writer.ReadAt after Abort: the body will
// never be complete.
var ErrAborted = errors.New("disk cache write aborted")

// Writer states, guarded by Writer.rmu.
const (
	writing = iota
	committed
	aborted
)

// Writer streams a new object's body into a temporary file. Write, Commit
// and Abort are meant for the one goroutine filling the object (Abort may
// come from any goroutine); ReadAt and Written are for any number of
// readers at once, so collapsed requests read the body from the file
// while it arrives.
type Writer struct {
	s   *Store
	key string
	h   keyHash

	wmu      sync.Mutex // serialises Write, Commit and Abort
	keepOpen bool       // Commit keeps f open for ReadAt (CommitOpen)
	reserved int64      // bytes charged for the body so far
	crc      uint32     // of the current block
	sums     []uint32   // of the completed blocks
	err      error      // first write error; Commit then fails

	rmu     sync.RWMutex // guards f, path and state against ReadAt
	f       *os.File     // nil once committed
	path    string       // the temporary file, then the body's file
	state   int
	written atomic.Int64
}

// Create starts writing a new object under key, of unknown size: space is
// reserved as the body grows, and a body growing past MaxObject fails.
func (s *Store) Create(key string) (*Writer, error) {
	return s.CreateSized(key, -1)
}

// CreateSized is Create for a body whose size is announced (from
// Content-Length; negative if unknown): the space is reserved at once, so
// a body that cannot fit, or exceeds MaxObject, fails before any byte is
// written.
func (s *Store) CreateSized(key string, expected int64) (*Writer, error) {
	if err := s.writable(); err != nil {
		return nil, fmt.Errorf("create disk cache entry %q: %w", key, err)
	}
	if expected > s.cfg.MaxObject {
		return nil, fmt.Errorf("create disk cache entry %q of %d bytes: %w", key, expected, ErrTooLarge)
	}
	h := hashKey(key)
	w := &Writer{s: s, key: key, h: h}
	if expected > 0 {
		if err := s.reserve(cost(expected)); err != nil {
			return nil, fmt.Errorf("create disk cache entry %q of %d bytes: %w", key, expected, err)
		}
		w.reserved = cost(expected)
	}
	f, err := os.CreateTemp(s.tmpDir, h.String()+".*.body")
	if err != nil {
		s.release(w.reserved)
		err = fmt.Errorf("create disk cache entry %q: %w", key, err)
		s.ioError(opCreate, err)
		return nil, err
	}
	w.f, w.path = f, f.Name()
	return w, nil
}

// writable says why writes are refused, if they are.
func (s *Store) writable() error {
	switch {
	case s.closed.Load():
		return ErrClosed
	case !s.ready.Load():
		return ErrNotReady
	case s.degraded():
		return ErrDegraded
	}
	return nil
}

// reserveStep is how far ahead a body of unknown size reserves: a
// quarter of what it has, between 64 KiB and 4 MiB, so large bodies do
// not reserve at every write and small ones do not hold much unused.
func reserveStep(written int64) int64 {
	return min(max(written/4, 64<<10), 4<<20)
}

// Write appends body bytes. An error (too large, no room, ENOSPC, EIO)
// is returned again by every later Write and by Commit; then Abort.
func (w *Writer) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.state != writing {
		return 0, fmt.Errorf("write disk cache entry %q: %w", w.key, ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	s := w.s
	end := w.written.Load() + int64(len(p))
	if end > s.cfg.MaxObject {
		w.err = fmt.Errorf("write disk cache entry %q past %d bytes: %w", w.key, s.cfg.MaxObject, ErrTooLarge)
		return 0, w.err
	}
	if need := cost(end); need > w.reserved {
		grow := max(need-w.reserved, cost(reserveStep(end)))
		grow = max(min(grow, cost(s.cfg.MaxObject)-w.reserved), need-w.reserved)
		if err := s.reserve(grow); err != nil {
			w.err = fmt.Errorf("write disk cache entry %q: %w", w.key, err)
			return 0, w.err
		}
		w.reserved += grow
	}
	w.rmu.RLock()
	n, err := w.f.Write(p)
	w.rmu.RUnlock()
	w.sum(p[:n])
	w.written.Add(int64(n))
	if err != nil {
		w.err = fmt.Errorf("write disk cache temp file %s: %w", w.path, err)
		s.ioError(opWrite, w.err)
		return n, w.err
	}
	return n, nil
}

// sum feeds the block checksums.
func (w *Writer) sum(p []byte) {
	pos := w.written.Load()
	for len(p) > 0 {
		k := min(int64(len(p)), blockSize-pos%blockSize)
		w.crc = crc32Update(w.crc, p[:k])
		pos += k
		p = p[k:]
		if pos%blockSize == 0 {
			w.sums = append(w.sums, w.crc)
			w.crc = 0
		}
	}
}

// Written returns the number of body bytes written so far.
func (w *Writer) Written() int64 { return w.written.Load() }

// ReadAt reads body bytes already written, from the file (before and
// after Commit). Fewer than len(p) bytes come with io.EOF: the rest is
// not written yet, or the body ends there; Written says which once the
// fill is known to be complete. After Abort it fails with ErrAborted.
func (w *Writer) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read disk cache entry %q at %d: negative offset", w.key, off)
	}
	w.rmu.RLock()
	defer w.rmu.RUnlock()
	if w.state == aborted {
		return 0, fmt.Errorf("read disk cache entry %q: %w", w.key, ErrAborted)
	}
	avail := w.written.Load() - off
	if avail <= 0 {
		return 0, io.EOF
	}
	q := p
	if int64(len(q)) > avail {
		q = q[:avail]
	}
	f := w.f
	if f == nil {
		var err error
		if f, err = os.Open(w.path); err != nil {
			return 0, fmt.Errorf("read disk cache entry %q: %w", w.key, err)
		}
		defer f.Close()
	}
	n, err := f.ReadAt(q, off)
	if err != nil && !(err == io.EOF && n == len(q)) {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, fmt.Errorf("read disk cache entry %q at %d: %w", w.key, off, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Commit makes the written body the object stored under its key. o
// carries Key (which must be the key given to Create), Primary, Site,
// Tags and Head; o.Body is ignored. The body's file is renamed into
// place, then the metadata's (the commit point), the bytes are charged
// and entries are evicted as needed. If Commit fails, nothing of the
// object remains, as after Abort.
func (w *Writer) Commit(o *cache.Object) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.state != writing {
		return fmt.Errorf("commit disk cache entry %q: %w", w.key, ErrClosed)
	}
	err := w.commit(o)
	if err != nil && w.state == writing {
		w.abortLocked()
	}
	return err
}

func (w *Writer) commit(o *cache.Object) error {
	s := w.s
	switch {
	case w.err != nil:
		return fmt.Errorf("commit disk cache entry %q: %w", w.key, w.err)
	case o == nil || o.Key != w.key:
		return fmt.Errorf("commit disk cache entry %q: object has another key", w.key)
	case o.Head() == nil:
		return fmt.Errorf("commit disk cache entry %q: object has no head", w.key)
	case s.closed.Load():
		return fmt.Errorf("commit disk cache entry %q: %w", w.key, ErrClosed)
	}
	size := w.written.Load()
	if size%blockSize != 0 {
		w.sums = append(w.sums, w.crc)
		w.crc = 0
	}
	m := metaOf(o, false)
	m.gen, m.size, m.sums = s.newGen(), size, w.sums
	buf, err := m.encode()
	if err != nil {
		return fmt.Errorf("commit disk cache entry: %w", err)
	}
	if s.cfg.Sync {
		if err := w.f.Sync(); err != nil {
			err = fmt.Errorf("commit disk cache entry %q: sync %s: %w", w.key, w.path, err)
			s.ioError(opCommit, err)
			return err
		}
	}
	bodyCost := cost(size)
	s.release(w.reserved - bodyCost)
	w.reserved = bodyCost
	metaCost := cost(int64(len(buf)))
	if err := s.reserve(metaCost); err != nil {
		return fmt.Errorf("commit disk cache entry %q: %w", w.key, err)
	}
	w.reserved += metaCost

	w.rmu.Lock()
	defer w.rmu.Unlock()
	// With keepOpen the file stays open for ReadAt: readers still
	// streaming the body keep reading it through this descriptor even if
	// the entry is evicted (unlinked) right after the commit; Close
	// releases it. Otherwise it is closed now.
	if !w.keepOpen {
		if err := w.f.Close(); err != nil {
			err = fmt.Errorf("commit disk cache entry %q: close %s: %w", w.key, w.path, err)
			s.ioError(opCommit, err)
			w.f = nil
			return err
		}
		w.f = nil
	}
	final, err := s.commitFiles(w.h, m.gen, w.path, buf, bodyCost, metaCost)
	if err != nil && w.f != nil {
		w.f.Close()
		w.f = nil
	}
	// commitFiles released the reservation and removed the files if it
	// failed, and owns them if it succeeded: nothing is left to abort.
	w.reserved = 0
	if err != nil {
		w.state = aborted
		return fmt.Errorf("commit disk cache entry %q: %w", w.key, err)
	}
	w.path, w.state = final, committed
	return nil
}

// CommitOpen is Commit, keeping the body's descriptor open for ReadAt
// until Close, so readers of a streaming body are not cut off if the
// entry is evicted right after the commit.
func (w *Writer) CommitOpen(o *cache.Object) error {
	w.wmu.Lock()
	w.keepOpen = true
	w.wmu.Unlock()
	return w.Commit(o)
}

// Close releases the descriptor a committed writer keeps for ReadAt;
// later ReadAt calls open the committed file by name. Call it when no
// reader of the streaming body is left. It is a no-op otherwise.
func (w *Writer) Close() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.state != committed {
		return
	}
	w.rmu.Lock()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	w.rmu.Unlock()
}

// Abort discards the body: the temporary file is removed and its space
// released. It is a no-op after Commit or Abort.
func (w *Writer) Abort() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.state == writing {
		w.abortLocked()
	}
}

func (w *Writer) abortLocked() {
	w.rmu.Lock()
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	w.s.unlink(w.path)
	w.state = aborted
	w.rmu.Unlock()
	w.s.release(w.reserved)
	w.reserved = 0
}

// commitFiles writes the metadata, renames the body (if tmpBody is set)
// and then the metadata into place and indexes the entry, replacing any
// older one. bodyCost+metaCost must be reserved; on failure they are
// released and every file written is removed. It returns the body's path.
func (s *Store) commitFiles(h keyHash, gen uint64, tmpBody string, metaBuf []byte, bodyCost, metaCost int64) (string, error) {
	final := ""
	if tmpBody != "" {
		final = s.bodyPath(h, gen)
	}
	fail := func(err error, remove ...string) (string, error) {
		for _, p := range remove {
			s.unlink(p)
		}
		s.release(bodyCost + metaCost)
		s.ioError(opCommit, err)
		return "", err
	}
	mtmp, err := s.writeTemp(h, metaBuf)
	if err != nil {
		return fail(err, tmpBody)
	}

	st := s.stripe(h)
	st.Lock()
	defer st.Unlock()
	if tmpBody != "" {
		if err := s.renameInto(tmpBody, final, h); err != nil {
			return fail(err, tmpBody, mtmp)
		}
	}
	if err := s.renameInto(mtmp, s.metaPath(h), h); err != nil {
		return fail(err, final, mtmp)
	}

	e := &entry{h: h, gen: gen, metaCost: metaCost, bodyCost: bodyCost}
	e.verified.Store(true)
	s.mu.Lock()
	old := s.index[h]
	s.index[h] = e
	if old != nil && old.q == &s.main {
		s.detach(old)
		s.main.push(e)
	} else {
		if old != nil {
			s.detach(old)
		}
		s.admit(e)
	}
	s.mu.Unlock()
	if old != nil {
		ok := old.gen == 0 || old.gen == gen || s.unlink(s.bodyPath(h, old.gen))
		if ok {
			s.release(old.size())
		}
	}
	s.ctr.stores.Add(1)
	s.ioOK()
	return final, nil
}

// renameInto renames src to dst, creating h's leaf folder if missing.
func (s *Store) renameInto(src, dst string, h keyHash) error {
	err := os.Rename(src, dst)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(s.leafDir(h), 0o755); err == nil {
			err = os.Rename(src, dst)
		}
	}
	if err != nil {
		return fmt.Errorf("rename %s into place: %w", src, err)
	}
	return nil
}

// SetMarker stores a Vary or Pass marker (o.VaryFields, o.Pass, with
// o.Key, Primary, Site, Tags and Head; no body), replacing whatever is
// stored under o.Key. Markers persist, so variants are found after a
// restart.
func (s *Store) SetMarker(o *cache.Object) error {
	if o == nil {
		return errors.New("set disk cache marker: nil object")
	}
	if err := s.writable(); err != nil {
		return fmt.Errorf("set disk cache marker %q: %w", o.Key, err)
	}
	buf, err := metaOf(o, true).encode()
	if err != nil {
		return fmt.Errorf("set disk cache marker: %w", err)
	}
	metaCost := cost(int64(len(buf)))
	if err := s.reserve(metaCost); err != nil {
		return fmt.Errorf("set disk cache marker %q: %w", o.Key, err)
	}
	if _, err := s.commitFiles(hashKey(o.Key), 0, "", buf, 0, metaCost); err != nil {
		return fmt.Errorf("set disk cache marker %q: %w", o.Key, err)
	}
	return nil
}

// UpdateHead replaces the head of the entry stored under key, as a
// successful revalidation does (RFC 9111 §4.3.4): new metadata is written
// to a temporary file and renamed over the old, so a crash leaves the old
// head or the new one, whole. The body is not touched. If there is no
// such entry the error wraps fs.ErrNotExist.
func (s *Store) UpdateHead(key string, head *cache.Head) error {
	if head == nil {
		return fmt.Errorf("update head of disk cache entry %q: nil head", key)
	}
	if err := s.writable(); err != nil && !errors.Is(err, ErrDegraded) {
		return fmt.Errorf("update head of disk cache entry %q: %w", key, err)
	}
	h := hashKey(key)
	e := s.lookup(h)
	if e == nil {
		return fmt.Errorf("update head of disk cache entry %q: %w", key, fs.ErrNotExist)
	}
	mpath := s.metaPath(h)
	m, err := readMeta(mpath)
	if err != nil {
		if errors.Is(err, errCorruptMeta) {
			s.corrupt(corruptMeta, mpath, err)
			s.drop(h, 0, true)
		}
		return fmt.Errorf("update head of disk cache entry %q: %w", key, err)
	}
	if m.key != key || m.gen != e.gen {
		return fmt.Errorf("update head of disk cache entry %q: replaced meanwhile: %w", key, fs.ErrNotExist)
	}
	m.head = head
	buf, err := m.encode()
	if err != nil {
		return fmt.Errorf("update head of disk cache entry: %w", err)
	}
	newCost := cost(int64(len(buf)))
	if err := s.reserve(newCost); err != nil {
		return fmt.Errorf("update head of disk cache entry %q: %w", key, err)
	}
	tmp, err := s.writeTemp(h, buf)
	if err != nil {
		s.release(newCost)
		err = fmt.Errorf("update head of disk cache entry %q: %w", key, err)
		s.ioError(opCommit, err)
		return err
	}

	st := s.stripe(h)
	st.Lock()
	defer st.Unlock()
	if s.lookup(h) != e {
		s.unlink(tmp)
		s.release(newCost)
		return fmt.Errorf("update head of disk cache entry %q: replaced meanwhile: %w", key, fs.ErrNotExist)
	}
	if err := os.Rename(tmp, mpath); err != nil {
		s.unlink(tmp)
		s.release(newCost)
		err = fmt.Errorf("update head of disk cache entry %q: rename %s: %w", key, tmp, err)
		s.ioError(opCommit, err)
		return err
	}
	s.mu.Lock()
	oldCost := e.metaCost
	s.setCosts(e, newCost, e.bodyCost)
	s.mu.Unlock()
	s.release(oldCost)
	s.ioOK()
	return nil
}

// writeTemp writes a metadata file under a unique temporary name and
// returns that name; on failure nothing is left.
func (s *Store) writeTemp(h keyHash, b []byte) (string, error) {
	f, err := os.CreateTemp(s.tmpDir, h.String()+".*.meta")
	if err != nil {
		return "", fmt.Errorf("create metadata file: %w", err)
	}
	_, err = f.Write(b)
	if err == nil && s.cfg.Sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write metadata file %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}
