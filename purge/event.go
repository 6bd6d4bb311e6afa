// Package purge is the CDN's purge system: events on a NATS JetStream log
// that every node applies, an admin API that publishes them and waits for
// every announced node to confirm, and an embedded NATS server for
// single-machine setups.
//
// A purge does not delete copies. It adds a rule on every node: content
// that left the origin at or before the event's Time is gone (hard) or
// stale (soft). See cache.Invalidations and README.md.
package purge

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event is one purge on the bus. Its JSON form is what travels.
type Event struct {
	// ID names the event; confirmations and GET /purge/{id} use it.
	ID string `json:"id"`
	// Time is the purge time, set by the API node when it accepted the
	// purge: content that left the origin at or before it is affected.
	Time time.Time `json:"time"`
	// URLs are primary cache keys ("scheme://host/path?query").
	URLs []string `json:"urls,omitempty"`
	// Prefixes match every primary key starting with one of them.
	Prefixes []string `json:"prefixes,omitempty"`
	// Tags are surrogate keys (Surrogate-Key, Cache-Tag).
	Tags []string `json:"tags,omitempty"`
	// Sites are site hosts whose every object is affected.
	Sites []string `json:"sites,omitempty"`
	// Soft marks content stale (revalidate before use) instead of gone.
	Soft bool `json:"soft,omitempty"`
}

// Items returns how many targets the event names.
func (ev *Event) Items() int {
	return len(ev.URLs) + len(ev.Prefixes) + len(ev.Tags) + len(ev.Sites)
}

// Validate checks an event taken off the bus: an ID usable as a subject
// token, a purge time, and at least one target.
func (ev *Event) Validate() error {
	var errs []error
	if !validToken(ev.ID) {
		errs = append(errs, fmt.Errorf("id: %q is not 1-64 letters, digits, '-' or '_'", ev.ID))
	}
	if ev.Time.IsZero() {
		errs = append(errs, errors.New("time: missing"))
	}
	if ev.Items() == 0 {
		errs = append(errs, errors.New("urls, prefixes, tags, sites: all empty"))
	}
	return errors.Join(errs...)
}

// DecodeEvent parses and validates one event as it travels on the bus.
func DecodeEvent(data []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return Event{}, fmt.Errorf("decode purge event: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return Event{}, fmt.Errorf("invalid purge event %q: %w", ev.ID, err)
	}
	return ev, nil
}

// newID returns a random event ID: 16 bytes in hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b[:])
}
