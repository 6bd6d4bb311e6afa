package origin

import (
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// seedEntry is one seed and when it was set (zero: never).
type seedEntry struct {
	value uint64
	setAt time.Time
}

// seedState is an immutable snapshot of the seeds: readers load it without
// locking, writers copy it.
type seedState struct {
	global seedEntry
	names  map[string]seedEntry // by object name (the path after /gen/)
}

// seeds holds the server-side seeds mixed into every synthetic object, so
// that the content at a URL can change without the URL changing.
type seeds struct {
	mu    sync.Mutex // serialises writers
	state atomic.Pointer[seedState]
}

func (s *seeds) load() *seedState {
	if st := s.state.Load(); st != nil {
		return st
	}
	return &seedState{}
}

// lookup returns the effective seed of an object name and when it was set.
func (s *seeds) lookup(name string) (uint64, time.Time) {
	st := s.load()
	if e, ok := st.names[name]; ok {
		return e.value, e.setAt
	}
	return st.global.value, st.global.setAt
}

// set sets the global seed (name == "") or one object's seed.
func (s *seeds) set(name string, global bool, value uint64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	st := &seedState{global: old.global, names: maps.Clone(old.names)}
	e := seedEntry{value: value, setAt: now}
	if global {
		st.global = e
	} else {
		if st.names == nil {
			st.names = make(map[string]seedEntry)
		}
		st.names[name] = e
	}
	s.state.Store(st)
}

// clear removes one object's override, or with global every override and
// the global seed.
func (s *seeds) clear(name string, global bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.load()
	if global {
		// The content changes back, so Last-Modified moves forward.
		s.state.Store(&seedState{global: seedEntry{setAt: now}})
		return
	}
	st := &seedState{global: old.global, names: maps.Clone(old.names)}
	delete(st.names, name)
	s.state.Store(st)
}

// SetSeed sets the global seed mixed into every synthetic body and ETag
// (objects with their own seed excepted), as POST /_origin/seed?value=N does.
func (s *Server) SetSeed(value uint64) { s.seeds.set("", true, value, s.now()) }

// SetPathSeed sets the seed of the one synthetic object at path (for
// example "/gen/a"), overriding the global seed, as
// POST /_origin/seed?path=P&value=N does.
func (s *Server) SetPathSeed(path string, value uint64) error {
	name, ok := strings.CutPrefix(path, genPrefix)
	if !ok {
		return &pathError{path}
	}
	s.seeds.set(name, false, value, s.now())
	return nil
}

// Seed returns the effective seed of the synthetic object at path, or the
// global seed when path is "".
func (s *Server) Seed(path string) uint64 {
	if path == "" {
		return s.seeds.load().global.value
	}
	v, _ := s.seeds.lookup(strings.TrimPrefix(path, genPrefix))
	return v
}

// pathError reports a seed path outside /gen/.
type pathError struct{ path string }

func (e *pathError) Error() string {
	return "seed path " + strconv.Quote(e.path) + " does not start with " + genPrefix
}

// seedJSON is the body of GET and POST /_origin/seed.
type seedJSON struct {
	Path  string            `json:"path,omitempty"`
	Value uint64            `json:"value"`
	Paths map[string]uint64 `json:"paths,omitempty"`
}

// serveSeed handles /_origin/seed: GET reads, POST sets (?value=N, with
// &path=/gen/x for one object), DELETE clears (?path= for one object,
// otherwise everything).
func (s *Server) serveSeed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path, hasPath := q.Get("path"), q.Has("path")
	name := ""
	if hasPath {
		var ok bool
		if name, ok = strings.CutPrefix(path, genPrefix); !ok {
			s.textError(w, http.StatusBadRequest, (&pathError{path}).Error())
			return
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		v, err := strconv.ParseUint(q.Get("value"), 10, 64)
		if err != nil {
			s.textError(w, http.StatusBadRequest, "seed value="+strconv.Quote(q.Get("value"))+": not an unsigned 64-bit integer")
			return
		}
		s.seeds.set(name, !hasPath, v, s.now())
	case http.MethodDelete:
		s.seeds.clear(name, !hasPath, s.now())
	default:
		w.Header()["Allow"] = []string{"GET, HEAD, POST, DELETE"}
		s.textError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	var out seedJSON
	if hasPath {
		out.Path = path
		out.Value, _ = s.seeds.lookup(name)
	} else {
		st := s.seeds.load()
		out.Value = st.global.value
		if len(st.names) > 0 {
			out.Paths = make(map[string]uint64, len(st.names))
			for n, e := range st.names {
				out.Paths[genPrefix+n] = e.value
			}
		}
	}
	s.writeJSON(w, out)
}
