package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names on the bus. Every node and API of one CDN uses the same ones.
const (
	// DefaultStream is the JetStream stream holding the purge log.
	DefaultStream = "CDN_PURGE"
	// SubjectEvents is the subject purge events are published on.
	SubjectEvents = "cdn.purge.events"
	// SubjectConfirmPrefix prefixes the subject a node confirms an event
	// on: SubjectConfirmPrefix + event ID.
	SubjectConfirmPrefix = "cdn.purge.ack."
	// NodesBucket is the JetStream key-value bucket nodes announce
	// themselves in (key: node name).
	NodesBucket = "cdn_nodes"
)

// Stream limits. A node that was away longer than StreamMaxAge, or while
// more than StreamMaxMsgs purges were made, cannot learn every purge it
// missed; it logs that (see Node) and its operator should empty its cache.
const (
	StreamMaxAge   = 7 * 24 * time.Hour
	StreamMaxMsgs  = 100_000
	StreamMaxBytes = 1 << 30
	// MaxEventBytes bounds one encoded event on the bus.
	MaxEventBytes = 1 << 20
	// dedupWindow makes a retried publish of one event ID a no-op.
	dedupWindow = 2 * time.Minute
)

// streamConfig is the purge stream's configuration. File storage keeps the
// log across restarts of the NATS server; memory storage suits tests and a
// single process whose cache does not outlive it either.
func streamConfig(name string, file bool) jetstream.StreamConfig {
	storage := jetstream.MemoryStorage
	if file {
		storage = jetstream.FileStorage
	}
	return jetstream.StreamConfig{
		Name:        name,
		Description: "CDN purge log: every node applies every event",
		Subjects:    []string{SubjectEvents},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      StreamMaxAge,
		MaxMsgs:     StreamMaxMsgs,
		MaxBytes:    StreamMaxBytes,
		MaxMsgSize:  MaxEventBytes,
		Storage:     storage,
		Duplicates:  dedupWindow,
	}
}

// ensureStream returns the purge stream, creating it (file storage) when
// it does not exist yet. An existing stream is used as it is, so a stream
// made by the embedded server with memory storage is not fought over.
func ensureStream(ctx context.Context, js jetstream.JetStream, name string, file bool) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, name)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("look up stream %s: %w", name, err)
	}
	s, err = js.CreateStream(ctx, streamConfig(name, file))
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = js.Stream(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", name, err)
	}
	return s, nil
}

// ensureNodesBucket returns the announcement bucket, creating it with the
// given TTL when it does not exist yet.
func ensureNodesBucket(ctx context.Context, js jetstream.JetStream, ttl time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, NodesBucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("look up bucket %s: %w", NodesBucket, err)
	}
	kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      NodesBucket,
		Description: "CDN nodes applying purges, kept alive by heartbeats",
		History:     1,
		TTL:         ttl,
		// File storage: announcements survive a restart of the NATS
		// server, so the API keeps waiting for nodes right after one.
		Storage: jetstream.FileStorage,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, NodesBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", NodesBucket, err)
	}
	return kv, nil
}

// Confirmation is what a node publishes on SubjectConfirmPrefix+ID after
// handling an event.
type Confirmation struct {
	// Node is the confirming node's name.
	Node string `json:"node"`
	// OK is true when the node applied the event.
	OK bool `json:"ok"`
	// Error says why the node could not apply it; the node retries.
	Error string `json:"error,omitempty"`
	// Time is when the node handled the event, by its clock.
	Time time.Time `json:"time"`
}

// Announcement is a node's value in NodesBucket, refreshed every heartbeat.
type Announcement struct {
	// Name is the node's name (also the key and the durable consumer).
	Name string `json:"name"`
	// Role is what the node does (edge, shield, ...), for people reading it.
	Role string `json:"role,omitempty"`
	// Time is when the heartbeat was sent, by the node's clock.
	Time time.Time `json:"time"`
	// Synced reports Node.Synced at that time.
	Synced bool `json:"synced"`
}

// tokenRE matches names usable as one NATS subject token, consumer name
// and key-value key: node names and event IDs.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// validToken reports whether s is usable as a subject token and consumer
// name.
func validToken(s string) bool { return tokenRE.MatchString(s) }

// connect dials NATS. It returns at once even when no server answers: the
// client keeps trying in the background, so a node or API can start before
// the bus does.
func connect(urls []string, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	opts := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 100*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		// Notice a dead link within seconds rather than minutes: a node
		// cut off from the bus must stop trusting its cache quickly.
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.Timeout(2 * time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("purge bus error", "subject", subj, "err", err)
		}),
	}, extra...)
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", strings.Join(urls, ","), err)
	}
	return nc, nil
}
