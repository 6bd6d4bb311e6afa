package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
)

// Eviction is S3-FIFO (Yang et al., SOSP 2023): new entries enter a small
// FIFO (10% of the bytes); on leaving it, entries read since they came
// move to the main FIFO and the others are dropped, their key remembered
// in a ghost FIFO. An entry whose key is a ghost goes straight to main.
// Main is a FIFO with reinsertion: an entry read since it last passed the
// tail goes round again with its read count lowered.
//
// Why not LRU: one-hit wonders (most objects of a CDN's long tail) leave
// through the small queue without pushing out objects that are read
// again, and a hit only increments an atomic counter, with no list
// reordering and no lock, so readers never contend with writers.

// entry is one object or marker in the index.
type entry struct {
	h        keyHash
	freq     atomic.Int32 // reads since last passing a queue's tail, at most 3
	verified atomic.Bool  // body checked against its checksums since start

	// Guarded by Store.mu.
	gen        uint64 // body generation; 0 for a marker or unknown
	metaCost   int64
	bodyCost   int64
	q          *fifo
	prev, next *entry
}

func (e *entry) size() int64 { return e.metaCost + e.bodyCost }

// touch counts a read.
func (e *entry) touch() {
	for range 4 {
		f := e.freq.Load()
		if f >= 3 || e.freq.CompareAndSwap(f, f+1) {
			return
		}
	}
}

// fifo is an intrusive queue: push at the head, leave at the tail.
type fifo struct {
	head, tail *entry
	n          int
	bytes      int64
}

func (q *fifo) push(e *entry) {
	e.q, e.prev, e.next = q, nil, q.head
	if q.head != nil {
		q.head.prev = e
	} else {
		q.tail = e
	}
	q.head = e
	q.n++
	q.bytes += e.size()
}

func (q *fifo) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		q.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		q.tail = e.prev
	}
	e.q, e.prev, e.next = nil, nil, nil
	q.n--
	q.bytes -= e.size()
}

// ghost remembers keys recently evicted from the small queue, oldest
// first, as many as there are entries (at least minGhost).
type ghost struct {
	seq   uint64
	items []ghostItem
	start int
	set   map[keyHash]uint64
}

type ghostItem struct {
	h   keyHash
	seq uint64
}

const minGhost = 1024

func (g *ghost) add(h keyHash, limit int) {
	if g.set == nil {
		g.set = map[keyHash]uint64{}
	}
	g.seq++
	g.set[h] = g.seq
	g.items = append(g.items, ghostItem{h, g.seq})
	for len(g.items)-g.start > max(limit, minGhost) {
		old := g.items[g.start]
		g.start++
		if g.set[old.h] == old.seq {
			delete(g.set, old.h)
		}
	}
	if g.start > len(g.items)/2 && g.start > 1024 {
		g.items = append(g.items[:0], g.items[g.start:]...)
		g.start = 0
	}
}

// take reports whether h is a ghost and forgets it.
func (g *ghost) take(h keyHash) bool {
	if _, ok := g.set[h]; ok {
		delete(g.set, h)
		return true
	}
	return false
}

// admit puts a new entry in its queue. Callers hold s.mu.
func (s *Store) admit(e *entry) {
	if s.ghost.take(e.h) {
		s.main.push(e)
	} else {
		s.small.push(e)
	}
}

// detach takes e out of its queue. Callers hold s.mu.
func (*Store) detach(e *entry) {
	if e.q != nil {
		e.q.remove(e)
	}
}

// setCosts changes e's costs, keeping its queue's byte count right.
// Callers hold s.mu.
func (*Store) setCosts(e *entry, metaCost, bodyCost int64) {
	if q := e.q; q != nil {
		q.bytes -= e.size()
		e.metaCost, e.bodyCost = metaCost, bodyCost
		q.bytes += e.size()
		return
	}
	e.metaCost, e.bodyCost = metaCost, bodyCost
}

// pickVictim chooses the entry to evict, takes it out of the queues and
// the index, and returns it (nil if there is none). Callers hold s.mu.
func (s *Store) pickVictim() *entry {
	smallTarget := s.cfg.MaxBytes / 10
	for range 4*(s.small.n+s.main.n) + 4 {
		if s.small.n > 0 && (s.small.bytes > smallTarget || s.main.n == 0) {
			e := s.small.tail
			s.small.remove(e)
			if e.freq.Load() > 0 {
				e.freq.Store(0)
				s.main.push(e)
				continue
			}
			s.ghost.add(e.h, len(s.index))
			delete(s.index, e.h)
			return e
		}
		if s.main.n == 0 {
			return nil
		}
		e := s.main.tail
		s.main.remove(e)
		if f := e.freq.Load(); f > 0 {
			e.freq.Store(f - 1)
			s.main.push(e)
			continue
		}
		delete(s.index, e.h)
		return e
	}
	// Readers kept every entry busy for the whole loop: evict the
	// oldest regardless.
	for _, q := range []*fifo{&s.small, &s.main} {
		if e := q.tail; e != nil {
			q.remove(e)
			delete(s.index, e.h)
			return e
		}
	}
	return nil
}

// errPolicy marks refusals that are the store's policy, not disk faults.
var errPolicy = errors.New("disk cache policy")

// Errors returned by writes.
var (
	// ErrFull means the space is taken by writes in progress, so nothing
	// can be evicted to make room.
	ErrFull = fmt.Errorf("%w: no room: the space is reserved by writes in progress", errPolicy)
	// ErrTooLarge means the body exceeds MaxObject.
	ErrTooLarge = fmt.Errorf("%w: object larger than the disk tier's object limit", errPolicy)
	// ErrNotReady means the index is still being rebuilt after a start;
	// writes are refused until the bytes on disk are known.
	ErrNotReady = fmt.Errorf("%w: index rebuild in progress", errPolicy)
	// ErrDegraded means writes are refused for a cool-down after repeated
	// I/O failures.
	ErrDegraded = fmt.Errorf("%w: degraded after repeated I/O failures", errPolicy)
	// ErrClosed means the store or the writer is closed.
	ErrClosed = fmt.Errorf("%w: closed", errPolicy)
)

// reserve charges n bytes to the store, evicting entries first if the
// total would exceed MaxBytes. Victims stay charged until their files
// are gone, so the bytes of the store's files never exceed MaxBytes.
// Callers must not hold a stripe lock (eviction takes them).
func (s *Store) reserve(n int64) error {
	if n <= 0 {
		return nil
	}
	if n > s.cfg.MaxBytes {
		return ErrTooLarge
	}
	s.evictMu.Lock()
	defer s.evictMu.Unlock()
	for {
		s.mu.Lock()
		if s.used+n <= s.cfg.MaxBytes {
			s.used += n
			s.mu.Unlock()
			return nil
		}
		v := s.pickVictim()
		s.mu.Unlock()
		if v == nil {
			return ErrFull
		}
		s.evict(v)
	}
}

// shrink evicts until the store is within MaxBytes (after a start with a
// lower limit than before).
func (s *Store) shrink() {
	s.evictMu.Lock()
	defer s.evictMu.Unlock()
	for {
		s.mu.Lock()
		if s.used <= s.cfg.MaxBytes {
			s.mu.Unlock()
			return
		}
		v := s.pickVictim()
		s.mu.Unlock()
		if v == nil {
			return
		}
		s.evict(v)
	}
}

func (s *Store) evict(v *entry) {
	freed := s.removeFiles(v)
	s.ctr.evictions.Add(1)
	s.ctr.evictedBytes.Add(freed)
}

// release returns n reserved bytes.
func (s *Store) release(n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.used -= n
	s.mu.Unlock()
}

// removeFiles deletes the files of an entry already taken out of the
// index and stops charging them. If a newer entry for the key was
// committed meanwhile, its metadata file (same name) is left alone.
func (s *Store) removeFiles(v *entry) int64 {
	st := s.stripe(v.h)
	st.Lock()
	defer st.Unlock()
	s.mu.Lock()
	_, newer := s.index[v.h]
	gen, size := v.gen, v.size()
	s.mu.Unlock()
	ok := true
	if gen != 0 {
		ok = s.unlink(s.bodyPath(v.h, gen)) && ok
	}
	if !newer {
		ok = s.unlink(s.metaPath(v.h)) && ok
	}
	if !ok {
		// Still on disk: keep it charged (the next start recounts).
		return 0
	}
	s.release(size)
	return size
}

// unlink removes a file; a file already gone is fine.
func (s *Store) unlink(path string) bool {
	err := os.Remove(path)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return true
	}
	s.ioError(opRemove, fmt.Errorf("remove %s: %w", path, err))
	return false
}
