package fwdproxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// dummyHash is compared against when the user is unknown, so an unknown
// user costs as much as a wrong password and timing tells nothing.
var dummyHash = []byte("$2a$10$datW19Zv3StLRRiXbfl5tOT1DN6FU1TM4iMaekkUPK0RgxxvUJ3Qy")

// htpasswd holds the users of an htpasswd file with bcrypt hashes and
// reloads it when the file changes.
type htpasswd struct {
	path  string
	now   func() time.Time
	check time.Duration // how often the file is stat'ed

	mu      sync.Mutex // guards the fields below
	users   map[string][]byte
	mtime   time.Time
	size    int64
	lastRun time.Time
	// ok caches sha256(user NUL password) of credentials bcrypt accepted,
	// so each request does not pay bcrypt's cost. Cleared on reload.
	ok map[[32]byte]string

	loads atomic.Int64
}

func newHtpasswd(path string, now func() time.Time) (*htpasswd, error) {
	h := &htpasswd{path: path, now: now, check: time.Second}
	if err := h.reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// reload reads the file now.
func (h *htpasswd) reload() error {
	fi, err := os.Stat(h.path)
	if err != nil {
		return fmt.Errorf("htpasswd file: %w", err)
	}
	b, err := os.ReadFile(h.path)
	if err != nil {
		return fmt.Errorf("htpasswd file: %w", err)
	}
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		user, hash, ok := strings.Cut(l, ":")
		if !ok || user == "" {
			return fmt.Errorf("htpasswd file %s line %d: want user:bcrypt-hash", h.path, line)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fmt.Errorf("htpasswd file %s line %d: user %q: only bcrypt hashes ($2y$, htpasswd -B) are accepted: %w", h.path, line, user, err)
		}
		users[user] = []byte(hash)
	}
	h.mu.Lock()
	h.users, h.mtime, h.size, h.ok = users, fi.ModTime(), fi.Size(), map[[32]byte]string{}
	h.lastRun = h.now()
	h.mu.Unlock()
	h.loads.Add(1)
	return nil
}

// maybeReload stats the file at most once per check interval and reloads
// it when its size or modification time changed. A file that fails to
// load keeps the previous users.
func (h *htpasswd) maybeReload() error {
	h.mu.Lock()
	now := h.now()
	if now.Sub(h.lastRun) < h.check {
		h.mu.Unlock()
		return nil
	}
	h.lastRun = now
	mtime, size := h.mtime, h.size
	h.mu.Unlock()
	fi, err := os.Stat(h.path)
	if err != nil {
		return fmt.Errorf("htpasswd file: %w", err)
	}
	if fi.ModTime().Equal(mtime) && fi.Size() == size {
		return nil
	}
	return h.reload()
}

// verify checks a user and password. It always runs one bcrypt comparison
// (against a dummy hash for unknown users) unless the exact credentials
// were verified before.
func (h *htpasswd) verify(user, pass string) bool {
	sum := sha256.Sum256([]byte(user + "\x00" + pass))
	h.mu.Lock()
	hash, known := h.users[user]
	cached, hit := h.ok[sum]
	h.mu.Unlock()
	if hit && subtle.ConstantTimeCompare([]byte(cached), []byte(user)) == 1 {
		return true
	}
	if !known {
		hash = dummyHash
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	if err != nil || !known {
		return false
	}
	h.mu.Lock()
	if len(h.ok) > 100_000 {
		h.ok = map[[32]byte]string{}
	}
	h.ok[sum] = user
	h.mu.Unlock()
	return true
}

// parseBasic decodes a Proxy-Authorization value of the Basic scheme
// (RFC 7617).
func parseBasic(v string) (user, pass string, ok bool) {
	scheme, cred, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	if !ok {
		return "", "", false
	}
	return user, pass, true
}

// failLimiter counts failed authentications per client address and
// refuses a client for a while once it reaches the limit.
type failLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu sync.Mutex // guards m
	m  map[netip.Addr]*failCount
}

type failCount struct {
	n     int
	start time.Time
}

func newFailLimiter(max int, window time.Duration, now func() time.Time) *failLimiter {
	return &failLimiter{max: max, window: window, now: now, m: map[netip.Addr]*failCount{}}
}

// blocked reports whether a has used up its failed attempts.
func (l *failLimiter) blocked(a netip.Addr) bool {
	if l.max <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.m[a]
	if c == nil {
		return false
	}
	if l.now().Sub(c.start) >= l.window {
		delete(l.m, a)
		return false
	}
	return c.n >= l.max
}

// fail records a failed attempt by a.
func (l *failLimiter) fail(a netip.Addr) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.m) > 100_000 {
		for k, c := range l.m {
			if now.Sub(c.start) >= l.window {
				delete(l.m, k)
			}
		}
	}
	c := l.m[a]
	if c == nil || now.Sub(c.start) >= l.window {
		c = &failCount{start: now}
		l.m[a] = c
	}
	c.n++
}
