package cache

import (
	"sort"
	"sync"
	"time"
)

// Invalidations are the purge rules in force: each says "content of these
// objects that left the origin at or before time T is gone (hard) or stale
// (soft)". Checking objects against rules at lookup, rather than deleting
// copies, makes a purge immediate in every tier, including copies the
// memory tier has not finished storing and copies on disk.
//
// Rules are kept until MaxRules is exceeded; then the oldest are folded
// into a horizon: everything that left the origin before the horizon is
// treated as soft-purged, so it is revalidated, never served unchecked.
type Invalidations struct {
	// MaxRules bounds the rules kept per kind; 0 means 100,000.
	MaxRules int

	mu       sync.RWMutex
	keys     map[string]Rule // primary key → rule
	tags     map[string]Rule // tag → rule
	sites    map[string]Rule // site host → rule
	prefixes prefixTrie
	horizon  time.Time
}

// Rule is one purge rule's time and kind.
type Rule struct {
	// At is the purge time; content that left the origin at or before it
	// is affected.
	At time.Time
	// Soft marks content stale instead of removing it.
	Soft bool
}

// prefixTrie holds prefix rules by byte, so checking a key costs its
// length, whatever the number of rules.
type prefixTrie struct {
	root *trieNode
	n    int
}

type trieNode struct {
	next map[byte]*trieNode
	rule *Rule
}

// add merges r into the rule for prefix; it reports whether the prefix is new.
func (t *prefixTrie) add(prefix string, r Rule) bool {
	if t.root == nil {
		t.root = &trieNode{}
	}
	n := t.root
	for i := 0; i < len(prefix); i++ {
		if n.next == nil {
			n.next = map[byte]*trieNode{}
		}
		c, ok := n.next[prefix[i]]
		if !ok {
			c = &trieNode{}
			n.next[prefix[i]] = c
		}
		n = c
	}
	if n.rule == nil {
		n.rule = &r
		t.n++
		return true
	}
	m := merge(*n.rule, true, r)
	n.rule = &m
	return false
}

// match calls fn with the rule of every prefix of key.
func (t *prefixTrie) match(key string, fn func(Rule)) {
	n := t.root
	for i := 0; n != nil; i++ {
		if n.rule != nil {
			fn(*n.rule)
		}
		if i == len(key) || n.next == nil {
			return
		}
		n = n.next[key[i]]
	}
}

// pruneBefore removes every rule at or before cut, and empty branches.
func (t *prefixTrie) pruneBefore(cut time.Time) {
	var walk func(n *trieNode) bool
	walk = func(n *trieNode) bool {
		if n.rule != nil && !n.rule.At.After(cut) {
			n.rule = nil
			t.n--
		}
		for b, c := range n.next {
			if walk(c) {
				delete(n.next, b)
			}
		}
		return n.rule == nil && len(n.next) == 0
	}
	if t.root != nil {
		walk(t.root)
	}
}

// times returns the time of every rule.
func (t *prefixTrie) times() []time.Time {
	var out []time.Time
	var walk func(n *trieNode)
	walk = func(n *trieNode) {
		if n.rule != nil {
			out = append(out, n.rule.At)
		}
		for _, c := range n.next {
			walk(c)
		}
	}
	if t.root != nil {
		walk(t.root)
	}
	return out
}

// Verdict is what the rules say of an object.
type Verdict int

// Verdicts.
const (
	Valid  Verdict = iota // no rule applies
	Stale                 // a soft rule applies: revalidate before use
	Purged                // a hard rule applies: the object is gone
)

func (inv *Invalidations) init() {
	if inv.keys == nil {
		inv.keys = map[string]Rule{}
		inv.tags = map[string]Rule{}
		inv.sites = map[string]Rule{}
	}
}

func merge(old Rule, ok bool, r Rule) Rule {
	if !ok {
		return r
	}
	// A hard rule is never weakened by a later soft one, and times only
	// move forward.
	if r.At.After(old.At) {
		if old.Soft || !r.Soft {
			return r
		}
		return Rule{At: r.At, Soft: false}
	}
	if old.Soft && !r.Soft {
		return Rule{At: old.At, Soft: false}
	}
	return old
}

// PurgeKey adds a rule for one primary key (a URL).
func (inv *Invalidations) PurgeKey(primary string, r Rule) {
	inv.add(func() map[string]Rule { return inv.keys }, primary, r)
}

// PurgeTag adds a rule for every object carrying tag.
func (inv *Invalidations) PurgeTag(tag string, r Rule) {
	inv.add(func() map[string]Rule { return inv.tags }, tag, r)
}

// PurgeSite adds a rule for everything of a site.
func (inv *Invalidations) PurgeSite(site string, r Rule) {
	inv.add(func() map[string]Rule { return inv.sites }, site, r)
}

// add merges r into the rule for k in the map m returns (after init).
func (inv *Invalidations) add(m func() map[string]Rule, k string, r Rule) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.init()
	rules := m()
	old, ok := rules[k]
	rules[k] = merge(old, ok, r)
	inv.pruneMap(rules)
}

// PurgePrefix adds a rule for every primary key starting with prefix.
func (inv *Invalidations) PurgePrefix(prefix string, r Rule) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.init()
	if !inv.prefixes.add(prefix, r) || inv.prefixes.n <= inv.maxRules() {
		return
	}
	// Fold the oldest tenth into the horizon, as pruneMap does.
	times := inv.prefixes.times()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	cut := times[len(times)/10]
	inv.prefixes.pruneBefore(cut)
	inv.raiseHorizon(cut)
}

func (inv *Invalidations) maxRules() int {
	if inv.MaxRules > 0 {
		return inv.MaxRules
	}
	return 100_000
}

func (inv *Invalidations) raiseHorizon(t time.Time) {
	if t.After(inv.horizon) {
		inv.horizon = t
	}
}

// pruneMap folds the oldest tenth of m's rules into the horizon when m
// holds more than MaxRules. Sorting is O(n log n) once per n/10 rules added.
func (inv *Invalidations) pruneMap(m map[string]Rule) {
	maxN := inv.maxRules()
	if len(m) <= maxN {
		return
	}
	times := make([]time.Time, 0, len(m))
	for _, r := range m {
		times = append(times, r.At)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	cut := times[len(times)/10]
	for k, r := range m {
		if !r.At.After(cut) {
			delete(m, k)
		}
	}
	inv.raiseHorizon(cut)
}

// Len returns how many rules are kept.
func (inv *Invalidations) Len() int {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return len(inv.keys) + len(inv.tags) + len(inv.sites) + inv.prefixes.n
}

// SetHorizon marks content that left the origin at or before t as stale:
// a node whose purge log no longer reaches back that far cannot know
// which of it was purged, so it revalidates it before use.
func (inv *Invalidations) SetHorizon(t time.Time) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.init()
	inv.raiseHorizon(t)
}

// Check returns what the rules say of content with this primary key, site
// and tags that left the origin at origin.
func (inv *Invalidations) Check(primary, site string, tags []string, origin time.Time) Verdict {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	if inv.keys == nil && inv.horizon.IsZero() {
		return Valid
	}
	v := Valid
	apply := func(r Rule, ok bool) {
		if !ok || origin.After(r.At) {
			return
		}
		if !r.Soft {
			v = Purged
		} else if v == Valid {
			v = Stale
		}
	}
	r, ok := inv.keys[primary]
	apply(r, ok)
	r, ok = inv.sites[site]
	apply(r, ok)
	for _, t := range tags {
		r, ok = inv.tags[t]
		apply(r, ok)
	}
	inv.prefixes.match(primary, func(r Rule) { apply(r, true) })
	if v == Valid && !inv.horizon.IsZero() && !origin.After(inv.horizon) {
		v = Stale
	}
	return v
}

// CheckObject applies Check to a stored object.
func (inv *Invalidations) CheckObject(o *Object) Verdict {
	var origin time.Time
	if h := o.Head(); h != nil {
		origin = h.Origin
	}
	return inv.Check(o.Primary, o.Site, o.Tags, origin)
}
