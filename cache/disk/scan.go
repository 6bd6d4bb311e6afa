package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// scanned is one entry found by the rebuild.
type scanned struct {
	h                  keyHash
	gen                uint64
	metaCost, bodyCost int64
	mtime              int64
}

// rebuild runs once in the background after Open: it removes what
// interrupted writes left (temporary files, bodies whose metadata never
// got renamed into place, bodies replaced but not yet deleted), indexes
// every entry with its bytes, oldest first, and then accepts writes.
// Files are not read except when one key has several bodies; contents are
// verified at Get and while reading.
func (s *Store) rebuild() {
	defer s.bg.Done()
	start := time.Now()
	s.removeOldTmp()
	var found []scanned
	for top := range 256 {
		select {
		case <-s.stop:
			return
		default:
		}
		topDir := filepath.Join(s.dir, fmt.Sprintf("%02x", top))
		leaves, err := readNames(topDir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.ioError(opScan, err)
			}
			continue
		}
		for _, leaf := range leaves {
			if len(leaf) != 1 || !strings.Contains("0123456789abcdef", leaf) {
				continue
			}
			found = s.scanLeaf(filepath.Join(topDir, leaf), found)
		}
	}
	slices.SortFunc(found, func(a, b scanned) int {
		switch {
		case a.mtime < b.mtime:
			return -1
		case a.mtime > b.mtime:
			return 1
		}
		return 0
	})
	var bytes int64
	for batch := found; len(batch) > 0; {
		n := min(len(batch), 4096)
		s.mu.Lock()
		for _, sc := range batch[:n] {
			if _, gone := s.tombstones[sc.h]; gone {
				continue
			}
			if _, dup := s.index[sc.h]; dup {
				continue
			}
			e := &entry{h: sc.h, gen: sc.gen, metaCost: sc.metaCost, bodyCost: sc.bodyCost}
			s.index[sc.h] = e
			s.main.push(e)
			s.used += e.size()
			bytes += e.size()
		}
		s.mu.Unlock()
		batch = batch[n:]
	}
	s.mu.Lock()
	s.tombstones = nil // writes may start: the index is complete
	s.mu.Unlock()
	// Within the limit (it may be lower than last run's) before the
	// first write.
	s.shrink()
	s.ready.Store(true)
	close(s.readyCh)
	took := time.Since(start)
	s.m.scan.Set(took.Seconds())
	s.log.Info("disk cache index rebuilt", "dir", s.dir, "entries", len(found), "bytes", bytes, "took", took)
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return names, nil
}

// removeOldTmp deletes the temporary folders of earlier runs.
func (s *Store) removeOldTmp() {
	names, err := readNames(s.dir)
	if err != nil {
		s.ioError(opScan, err)
		return
	}
	for _, name := range names {
		if !strings.HasPrefix(name, tmpOldPrefix) {
			continue
		}
		old := filepath.Join(s.dir, name)
		files, _ := readNames(old)
		for _, f := range files {
			if s.unlink(filepath.Join(old, f)) {
				s.ctr.orphans.Add(1)
			}
		}
		if err := os.Remove(old); err != nil {
			s.ioError(opScan, fmt.Errorf("remove %s: %w", old, err))
		}
	}
}

// scanLeaf indexes one leaf folder's entries into found.
func (s *Store) scanLeaf(dir string, found []scanned) []scanned {
	names, err := readNames(dir)
	if err != nil {
		s.ioError(opScan, err)
		return found
	}
	type group struct {
		meta bool
		gens []uint64
	}
	groups := make(map[keyHash]*group, len(names)/2+1)
	for _, name := range names {
		h, gen, body, ok := parseName(name)
		if !ok {
			// Only this store writes here; a stray file is junk.
			if s.unlink(filepath.Join(dir, name)) {
				s.ctr.orphans.Add(1)
			}
			continue
		}
		g := groups[h]
		if g == nil {
			g = &group{}
			groups[h] = g
		}
		if body {
			g.gens = append(g.gens, gen)
		} else {
			g.meta = true
		}
	}
	removeBody := func(h keyHash, gen uint64) {
		if s.unlink(filepath.Join(dir, bodyName(h, gen))) {
			s.ctr.orphans.Add(1)
		}
	}
	for h, g := range groups {
		if !g.meta {
			// The write stopped between the body's rename and the
			// metadata's, or an eviction between their removals.
			for _, gen := range g.gens {
				removeBody(h, gen)
			}
			continue
		}
		mpath := filepath.Join(dir, h.String())
		fi, err := os.Lstat(mpath)
		if err != nil {
			continue // deleted meanwhile
		}
		sc := scanned{h: h, metaCost: cost(fi.Size()), mtime: fi.ModTime().UnixNano()}
		gen := uint64(0)
		switch len(g.gens) {
		case 0:
		case 1:
			gen = g.gens[0]
		default:
			// A crash between a replacement's commit and the removal
			// of the body it replaced: the metadata says which is live.
			m, err := readMeta(mpath)
			if err != nil {
				if errors.Is(err, errCorruptMeta) {
					s.corrupt(corruptMeta, mpath, err)
				}
				s.unlink(mpath)
				for _, g := range g.gens {
					removeBody(h, g)
				}
				continue
			}
			gen = m.gen
			for _, g := range g.gens {
				if g != gen {
					removeBody(h, g)
				}
			}
		}
		if gen != 0 {
			bfi, err := os.Lstat(filepath.Join(dir, bodyName(h, gen)))
			if err != nil {
				gen = 0 // Get finds the body missing and drops the entry
			} else {
				sc.bodyCost = cost(bfi.Size())
			}
		}
		sc.gen = gen
		found = append(found, sc)
	}
	return found
}
