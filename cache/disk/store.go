// Package disk is the CDN's disk cache tier: objects of the cache core
// (cache.Object) kept in files, bounded in bytes, safe across crashes and
// verified before they are served.
//
// Every object is two files: its metadata (key, head, tags, body length
// and per-block CRC-32C checksums) and its body. Both are written under a
// temporary name and renamed into place, body first; the metadata's rename
// is the commit. A body is read straight from its file, so memory does
// not grow with object size, and a body reader hands its file to the
// caller for sendfile once the body has been verified.
//
// Open returns at once: the index (what is on disk, how many bytes) is
// rebuilt in the background. Until it is, Get and Delete work by hashing
// the key to its file names, and writes are refused with ErrNotReady so
// the byte limit holds. See README.md for the format, the crash-safety
// argument, the verification policy and the eviction policy.
package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/selfcdn/cdn/cache"
)

const numStripes = 64

// Store is a disk cache tier. Its methods are safe for concurrent use.
type Store struct {
	cfg    Config
	dir    string
	tmpDir string
	log    *slog.Logger
	now    func() time.Time
	lock   *os.File

	ctr    counters
	m      *metrics
	health health

	ready   atomic.Bool
	readyCh chan struct{}
	closed  atomic.Bool
	stop    chan struct{}
	bg      sync.WaitGroup

	genMu   sync.Mutex
	lastGen uint64

	// stripes serialise the renames and removals of one key's files.
	stripes [numStripes]sync.Mutex
	// evictMu serialises reservations, so one eviction pass at a time
	// picks victims and deletes their files.
	evictMu sync.Mutex

	bufPool sync.Pool // *[]byte of copyBufSize

	mu         sync.RWMutex
	index      map[keyHash]*entry
	small      fifo
	main       fifo
	ghost      ghost
	used       int64                // bytes of files plus reservations
	tombstones map[keyHash]struct{} // deleted during the rebuild; nil after
}

const copyBufSize = 64 << 10

// Open opens or creates the store in cfg.Dir. It does no work
// proportional to the number of entries: it takes the folder's lock,
// moves leftover temporary files aside and starts the index rebuild in
// the background. Until Ready, Get and Delete work (by path) and writes
// return ErrNotReady.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("disk cache config: %w", err)
	}
	cfg = cfg.withDefaults()
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("disk cache folder %s: %w", cfg.Dir, err)
	}
	s := &Store{
		cfg:        cfg,
		dir:        dir,
		tmpDir:     filepath.Join(dir, tmpDirName),
		log:        cfg.Logger.With("component", "disk-cache"),
		now:        cfg.Now,
		readyCh:    make(chan struct{}),
		stop:       make(chan struct{}),
		index:      map[keyHash]*entry{},
		tombstones: map[keyHash]struct{}{},
		lastGen:    uint64(time.Now().UnixNano()),
	}
	s.bufPool.New = func() any { b := make([]byte, copyBufSize); return &b }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create disk cache folder %s: %w", dir, err)
	}
	if s.lock, err = lockDir(filepath.Join(dir, lockFile)); err != nil {
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		s.lock.Close()
		return nil, err
	}
	if err := s.checkFormat(); err != nil {
		return fail(err)
	}
	if err := s.resetTmp(); err != nil {
		return fail(err)
	}
	if s.m, err = newMetrics(s, cfg.Registerer); err != nil {
		return fail(fmt.Errorf("register disk cache metrics: %w", err))
	}
	s.bg.Add(1)
	go s.rebuild()
	return s, nil
}

// checkFormat accepts a folder written by this format or an empty one
// (which it marks), and refuses anything else, so a mistyped path never
// has its files deleted as leftovers.
func (s *Store) checkFormat() error {
	path := filepath.Join(s.dir, formatFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if string(b) != formatText {
			return fmt.Errorf("disk cache folder %s: unknown format %q", s.dir, bytes.TrimSpace(b))
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list disk cache folder %s: %w", s.dir, err)
	}
	for _, de := range des {
		if de.Name() != lockFile {
			return fmt.Errorf("disk cache folder %s is not empty and has no %s file: refusing to use it", s.dir, formatFile)
		}
	}
	if err := writeFileAtomic(filepath.Join(s.dir, formatFile+".new"), path, []byte(formatText), true); err != nil {
		return fmt.Errorf("mark disk cache folder %s: %w", s.dir, err)
	}
	return nil
}

// resetTmp moves the temporary folder of an earlier run aside (removed in
// the background) and makes a fresh one: O(1) whatever it holds.
func (s *Store) resetTmp() error {
	if _, err := os.Lstat(s.tmpDir); err == nil {
		old := filepath.Join(s.dir, fmt.Sprintf("%s%d", tmpOldPrefix, time.Now().UnixNano()))
		if err := os.Rename(s.tmpDir, old); err != nil {
			return fmt.Errorf("move aside %s: %w", s.tmpDir, err)
		}
	}
	if err := os.Mkdir(s.tmpDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", s.tmpDir, err)
	}
	return nil
}

func writeFileAtomic(tmp, dst string, b []byte, sync bool) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Ready reports whether the index is rebuilt: Used and Len are complete
// and writes are accepted.
func (s *Store) Ready() bool { return s.ready.Load() }

// WaitReady blocks until the index is rebuilt, ctx ends or the store is
// closed.
func (s *Store) WaitReady(ctx context.Context) error {
	select {
	case <-s.readyCh:
		return nil
	case <-s.stop:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("wait for disk cache index %s: %w", s.dir, ctx.Err())
	}
}

// Used returns the bytes charged to the store: its files (each rounded up
// to 4 KiB) plus space reserved for writes in progress. It never exceeds
// MaxBytes. Until Ready it counts only what was written since Open.
func (s *Store) Used() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.used
}

// Len returns the number of entries (objects and markers). Until Ready it
// counts only what was written since Open.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.index)
}

// Close stops the background work and releases the folder's lock. Bodies
// already opened stay readable; later calls fail with ErrClosed or miss.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stop)
	s.bg.Wait()
	return s.lock.Close()
}

func (s *Store) stripe(h keyHash) *sync.Mutex {
	return &s.stripes[h[0]%numStripes]
}

// newGen returns a body generation: unique in this process, increasing,
// and from the wall clock so it also differs from earlier runs'.
func (s *Store) newGen() uint64 {
	s.genMu.Lock()
	defer s.genMu.Unlock()
	g := uint64(time.Now().UnixNano())
	if g <= s.lastGen {
		g = s.lastGen + 1
	}
	s.lastGen = g
	return g
}

// lookup returns the index entry for h (nil if none).
func (s *Store) lookup(h keyHash) *entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.index[h]
}

// Get returns the object or marker stored under key. Its body reads from
// the body file; see Body. Before Ready, Get reads the files directly.
// An entry that fails verification is dropped and reported as a miss.
func (s *Store) Get(key string) (*cache.Object, bool) {
	o := s.get(key)
	if o == nil {
		s.ctr.misses.Add(1)
		return nil, false
	}
	s.ctr.hits.Add(1)
	return o, true
}

func (s *Store) get(key string) *cache.Object {
	if s.closed.Load() {
		return nil
	}
	h := hashKey(key)
	var e *entry
	if s.ready.Load() {
		if e = s.lookup(h); e == nil {
			return nil
		}
	}
	mpath := s.metaPath(h)
	m, err := readMeta(mpath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if e != nil {
			s.drop(h, e.gen, false)
		}
		return nil
	case errors.Is(err, errCorruptMeta):
		s.corrupt(corruptMeta, mpath, err)
		s.drop(h, 0, true)
		return nil
	case err != nil:
		s.ioError(opRead, err)
		return nil
	}
	if m.key != key {
		return nil // another key with the same 128-bit hash prefix: never in practice
	}
	if e != nil {
		e.touch()
	}
	if m.marker {
		return m.object(nil)
	}
	bpath := s.bodyPath(h, m.gen)
	fi, err := os.Stat(bpath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.ioError(opRead, err)
			return nil
		}
		// Replaced or evicted since the metadata was read, or lost in a
		// crash: only the latter leaves the metadata naming it.
		if m2, err := readMeta(mpath); err == nil && m2.gen == m.gen {
			s.corrupt(corruptMissing, bpath, err)
			s.drop(h, m.gen, true)
		}
		return nil
	}
	if fi.Size() != m.size {
		s.corrupt(corruptLength, bpath, fmt.Errorf("body is %d bytes, metadata says %d", fi.Size(), m.size))
		s.drop(h, m.gen, true)
		return nil
	}
	if e != nil && e.gen != m.gen {
		e = nil // replaced since the lookup: e's verification is not m's
	}
	b := &Body{s: s, h: h, path: bpath, m: m, e: e}
	if e != nil && e.verified.Load() {
		b.verified.Store(true)
	} else if m.size <= s.cfg.VerifyMax {
		if err := s.verifyFile(b); err != nil {
			return nil
		}
	}
	return m.object(b)
}

// object builds the cache object m describes, with body b.
func (m *meta) object(b *Body) *cache.Object {
	var body cache.Body
	if b != nil {
		body = b
	}
	o := cache.NewObject(m.key, m.primary, m.head, body)
	o.Site, o.Tags, o.VaryFields, o.Pass = m.site, m.tags, m.vary, m.pass
	return o
}

func readMeta(path string) (*meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	if err != nil {
		return nil, fmt.Errorf("read metadata %s: %w", path, err)
	}
	m, err := decodeMeta(b)
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", path, err)
	}
	return m, nil
}

// verifyFile checks a whole body against its checksums, dropping the
// entry if it fails.
func (s *Store) verifyFile(b *Body) error {
	f, err := os.Open(b.path)
	if err != nil {
		s.ioError(opRead, err)
		return fmt.Errorf("open body %s: %w", b.path, err)
	}
	defer f.Close()
	bufp := s.bufPool.Get().(*[]byte)
	defer s.bufPool.Put(bufp)
	buf := *bufp
	m := b.m
	for i, want := range m.sums {
		n := min(m.blockSize, m.size-int64(i)*m.blockSize)
		var crc uint32
		for n > 0 {
			k, err := io.ReadFull(f, buf[:min(int64(len(buf)), n)])
			if err != nil {
				err = fmt.Errorf("read body %s: %w", b.path, err)
				if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
					s.corrupt(corruptLength, b.path, err)
					s.drop(b.h, m.gen, true)
				} else {
					s.ioError(opRead, err)
				}
				return err
			}
			crc = crc32Update(crc, buf[:k])
			n -= int64(k)
		}
		if crc != want {
			err := fmt.Errorf("body %s: block %d: %w", b.path, i, ErrCorrupt)
			s.corrupt(corruptChecksum, b.path, err)
			s.drop(b.h, m.gen, true)
			return err
		}
	}
	b.markVerified()
	return nil
}

// drop removes the entry of h if it still has body generation gen (0:
// whatever it has), with its files. broken says its files are bad, so all
// of them go, even if the index does not know the entry yet.
func (s *Store) drop(h keyHash, gen uint64, broken bool) {
	st := s.stripe(h)
	st.Lock()
	defer st.Unlock()
	s.mu.Lock()
	e := s.index[h]
	if e != nil && gen != 0 && e.gen != 0 && e.gen != gen {
		s.mu.Unlock()
		return // replaced by a newer write meanwhile
	}
	if e != nil {
		delete(s.index, h)
		s.detach(e)
	}
	if s.tombstones != nil {
		s.tombstones[h] = struct{}{}
	}
	s.mu.Unlock()
	var ok bool
	switch {
	case e != nil && !broken && e.gen != 0:
		ok = s.unlink(s.bodyPath(h, e.gen))
		ok = s.unlink(s.metaPath(h)) && ok
	case e != nil || broken:
		ok = s.removeAll(h)
	}
	if e != nil && ok {
		s.release(e.size())
	}
}

// removeAll deletes every file of h: its metadata and any body.
func (s *Store) removeAll(h keyHash) bool {
	ok := s.unlink(s.metaPath(h))
	des, err := os.ReadDir(s.leafDir(h))
	if err != nil {
		return ok && errors.Is(err, fs.ErrNotExist)
	}
	for _, de := range des {
		if hh, _, body, valid := parseName(de.Name()); valid && body && hh == h {
			ok = s.unlink(filepath.Join(s.leafDir(h), de.Name())) && ok
		}
	}
	return ok
}

// Delete removes the entry stored under key, if any. Bodies already
// opened stay readable until closed.
func (s *Store) Delete(key string) {
	if s.closed.Load() {
		return
	}
	s.drop(hashKey(key), 0, !s.ready.Load())
}
