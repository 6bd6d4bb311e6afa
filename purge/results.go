package purge

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Result statuses.
const (
	// StatusConfirmed: every announced node applied the purge.
	StatusConfirmed = "confirmed"
	// StatusPartial: some announced nodes had not confirmed in time.
	StatusPartial = "partial"
	// StatusFailed: at least one node reported it could not apply it.
	StatusFailed = "failed"
)

// Result is the answer to POST /purge and GET /purge/{id}.
type Result struct {
	// ID names the purge.
	ID string `json:"id"`
	// Time is the purge time: content that left the origin at or before
	// it is affected.
	Time time.Time `json:"time"`
	// Status is StatusConfirmed, StatusPartial or StatusFailed.
	Status string `json:"status"`
	// Confirmed lists the nodes that applied the purge.
	Confirmed []string `json:"confirmed"`
	// Failed lists the nodes that reported an error (they retry).
	Failed []NodeError `json:"failed"`
	// Missing lists announced nodes that have not answered.
	Missing []string `json:"missing"`
	// DurationMS is the time from publishing to the last expected
	// confirmation, or to now while some are outstanding.
	DurationMS float64 `json:"duration_ms"`
	// LatencyMS is each confirming node's time from publishing to its
	// confirmation.
	LatencyMS map[string]float64 `json:"latency_ms,omitempty"`
	// Message explains a status other than confirmed, for people.
	Message string `json:"message,omitempty"`
}

// NodeError is one node's failure to apply a purge.
type NodeError struct {
	// Node is the node's name.
	Node string `json:"node"`
	// Error is what the node reported.
	Error string `json:"error"`
}

// tracked is one purge's confirmations so far.
type tracked struct {
	ev        Event
	published time.Time
	expected  map[string]bool
	confirmed map[string]time.Duration // node → publish-to-confirmation
	failed    map[string]string        // node → error, while not confirmed
	changed   chan struct{}            // closed and replaced on every update
	completed bool                     // every expected node confirmed
}

func (t *tracked) answered() bool {
	for n := range t.expected {
		if _, ok := t.confirmed[n]; !ok {
			if _, ok := t.failed[n]; !ok {
				return false
			}
		}
	}
	return true
}

func (t *tracked) allConfirmed() bool {
	for n := range t.expected {
		if _, ok := t.confirmed[n]; !ok {
			return false
		}
	}
	return true
}

// results keeps the recent purges' confirmations, at most max of them.
type results struct {
	max int

	mu    sync.Mutex // guards byID and order, and every tracked in them
	byID  map[string]*tracked
	order []string // oldest first
}

func newResults(max int) *results {
	return &results{max: max, byID: map[string]*tracked{}}
}

// add starts tracking ev, published at t, expecting these nodes.
func (rs *results) add(ev Event, published time.Time, expected []string) *tracked {
	t := &tracked{
		ev: ev, published: published,
		expected:  map[string]bool{},
		confirmed: map[string]time.Duration{},
		failed:    map[string]string{},
		changed:   make(chan struct{}),
	}
	for _, n := range expected {
		t.expected[n] = true
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for len(rs.order) >= rs.max {
		delete(rs.byID, rs.order[0])
		rs.order = rs.order[1:]
	}
	rs.byID[ev.ID] = t
	rs.order = append(rs.order, ev.ID)
	return t
}

// remove forgets a purge that was never published.
func (rs *results) remove(id string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.byID, id)
	if i := slices.Index(rs.order, id); i >= 0 {
		rs.order = slices.Delete(rs.order, i, i+1)
	}
}

// confirmEvent is what record did with a confirmation, for metrics.
type confirmEvent struct {
	known      bool
	first      bool          // first OK from this node
	latency    time.Duration // publish → this confirmation
	completion time.Duration // set when this confirmation completed the purge
	completed  bool
}

// record adds a node's confirmation of purge id, received at now.
func (rs *results) record(id string, c Confirmation, now time.Time) confirmEvent {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	t, ok := rs.byID[id]
	if !ok {
		return confirmEvent{}
	}
	out := confirmEvent{known: true, latency: now.Sub(t.published)}
	if c.OK {
		delete(t.failed, c.Node)
		if _, done := t.confirmed[c.Node]; !done {
			t.confirmed[c.Node] = out.latency
			out.first = true
		}
		if !t.completed && t.allConfirmed() {
			t.completed = true
			out.completed, out.completion = true, out.latency
		}
	} else if _, done := t.confirmed[c.Node]; !done {
		msg := c.Error
		if msg == "" {
			msg = "unknown error"
		}
		t.failed[c.Node] = msg
	}
	close(t.changed)
	t.changed = make(chan struct{})
	return out
}

// get returns the tracked purge id, or nil.
func (rs *results) get(id string) *tracked {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.byID[id]
}

// state returns whether every expected node answered and the channel
// closed on the next update.
func (rs *results) state(t *tracked) (answered bool, changed <-chan struct{}) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return t.answered(), t.changed
}

// snapshot builds the Result of t at now; wait is the confirmation
// timeout, quoted in messages.
func (rs *results) snapshot(t *tracked, now time.Time, wait time.Duration) Result {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r := Result{
		ID: t.ev.ID, Time: t.ev.Time,
		Confirmed: []string{}, Failed: []NodeError{}, Missing: []string{},
		LatencyMS: map[string]float64{},
	}
	var last time.Duration
	for n, d := range t.confirmed {
		r.Confirmed = append(r.Confirmed, n)
		r.LatencyMS[n] = ms(d)
		if t.expected[n] {
			last = max(last, d)
		}
	}
	for n, e := range t.failed {
		r.Failed = append(r.Failed, NodeError{Node: n, Error: e})
	}
	for n := range t.expected {
		_, c := t.confirmed[n]
		_, f := t.failed[n]
		if !c && !f {
			r.Missing = append(r.Missing, n)
		}
	}
	slices.Sort(r.Confirmed)
	slices.Sort(r.Missing)
	slices.SortFunc(r.Failed, func(a, b NodeError) int { return strings.Compare(a.Node, b.Node) })
	if t.completed {
		r.DurationMS = ms(last)
	} else {
		r.DurationMS = ms(now.Sub(t.published))
	}
	switch {
	case len(r.Failed) > 0:
		r.Status = StatusFailed
		r.Message = fmt.Sprintf("%d node(s) could not apply the purge and are retrying; it is stored on the bus", len(r.Failed))
		if len(r.Missing) > 0 {
			r.Message += fmt.Sprintf("; %d node(s) have not confirmed", len(r.Missing))
		}
	case len(r.Missing) > 0:
		r.Status = StatusPartial
		r.Message = fmt.Sprintf("%d node(s) did not confirm within %s; the purge is stored on the bus and they apply it before serving from cache again", len(r.Missing), wait)
	default:
		r.Status = StatusConfirmed
		if len(t.expected) == 0 {
			r.Message = "no nodes are announced; the purge is stored on the bus and every node applies it when it starts"
		}
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
