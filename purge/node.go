package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultHeartbeat is how often a node refreshes its announcement.
const DefaultHeartbeat = time.Second

// NodeConfig configures a node's side of the purge bus.
type NodeConfig struct {
	// Name is the node's name: its durable consumer and its key in
	// NodesBucket. 1-64 letters, digits, '-' or '_'. Required.
	Name string
	// Role says what the node is (edge, shield), shown in its
	// announcement. Optional.
	Role string
	// URLs are the NATS servers. Required.
	URLs []string
	// Stream is the purge stream. Empty means DefaultStream.
	Stream string
	// Apply applies one event on this node, usually by adding rules to
	// its cache.Invalidations. Required.
	//
	// It is called from one goroutine at a time, in log order except for
	// retries. It must be idempotent: an event applied just before a
	// crash is applied again. It should return quickly; an error makes
	// the node report the failure and retry the event later (with
	// back-off), and the node does not count as synced until it succeeds.
	// A panic is treated as an error.
	Apply func(Event) error
	// ReplayAll, for a node whose cache survives restarts (a disk tier),
	// applies every event the log still holds once per start, before the
	// node counts as synced: rules applied before a restart are in memory
	// only, and the durable consumer resumes after them. When the log has
	// already dropped older events, LogHorizon is called with the time of
	// the oldest event kept, so the node can treat anything older as
	// stale.
	ReplayAll bool
	// LogHorizon, if set, receives the time before which the log no
	// longer holds every purge (only with ReplayAll).
	LogHorizon func(t time.Time)
	// Heartbeat is how often the node refreshes its announcement; the
	// announcement bucket's TTL is three heartbeats. Zero means
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// AckWait is how long the bus waits for an event's acknowledgement
	// before delivering it again, which bounds how long a node restarted
	// right after a crash waits for events that were in flight. Zero
	// means 10s.
	AckWait time.Duration
	// Logger receives the node's log lines. If nil, they are discarded.
	Logger *slog.Logger
	// Registerer receives the node's metrics, labelled node=Name. If nil,
	// they are not registered.
	Registerer prometheus.Registerer
	// Now is the clock used for announcements, confirmations and the
	// apply-delay metric. If nil, time.Now is used.
	Now func() time.Time
}

// Validate returns every problem with the configuration, naming each field.
func (c *NodeConfig) Validate() error {
	var errs []error
	if !validToken(c.Name) {
		errs = append(errs, fmt.Errorf("name: %q is not 1-64 letters, digits, '-' or '_'", c.Name))
	}
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("urls: at least one NATS URL is required"))
	}
	for i, u := range c.URLs {
		if strings.TrimSpace(u) == "" || strings.Contains(u, ",") {
			errs = append(errs, fmt.Errorf("urls[%d]: %q is not a NATS URL", i, u))
		}
	}
	if c.Stream != "" && !validToken(c.Stream) {
		errs = append(errs, fmt.Errorf("stream: %q is not 1-64 letters, digits, '-' or '_'", c.Stream))
	}
	if c.Apply == nil {
		errs = append(errs, errors.New("apply: required"))
	}
	if c.Heartbeat < 0 {
		errs = append(errs, fmt.Errorf("heartbeat: %s is negative", c.Heartbeat))
	}
	if c.AckWait < 0 {
		errs = append(errs, fmt.Errorf("ack_wait: %s is negative", c.AckWait))
	}
	return errors.Join(errs...)
}

func (c *NodeConfig) applyDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.AckWait == 0 {
		c.AckWait = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Node applies the purge log on one CDN node. It consumes the stream
// through a durable consumer named after the node, so a node that was
// down or cut off resumes where it stopped and applies what it missed.
//
// Synced tells the cache whether it may trust stored content: it is false
// until the node has applied every event that was in the log when it
// (re)connected, and false again whenever the bus is unreachable or an
// event could not be applied.
type Node struct {
	cfg      NodeConfig
	log      *slog.Logger
	metrics  *nodeMetrics
	started  atomic.Bool
	replayed atomic.Bool // the log was replayed this start (ReplayAll)

	// epoch counts disconnections, so a sync check begun before a
	// disconnection cannot mark the node synced after it.
	epoch atomic.Uint64
	// announced is true while the node's announcement is surely alive;
	// the node is never synced without it (see heartbeat).
	announced atomic.Bool

	mu       sync.Mutex    // guards synced and syncedCh
	synced   bool          // see Synced
	syncedCh chan struct{} // closed when synced becomes true
}

// NewNode checks cfg and returns a node; Run starts it.
func NewNode(cfg NodeConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("purge node config: %w", err)
	}
	cfg.applyDefaults()
	m, err := newNodeMetrics(cfg.Registerer, cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("purge node %s: %w", cfg.Name, err)
	}
	m.synced.Set(0)
	return &Node{
		cfg:      cfg,
		log:      cfg.Logger.With("node", cfg.Name),
		metrics:  m,
		syncedCh: make(chan struct{}),
	}, nil
}

// Synced reports whether the node has applied every purge that was in the
// log when it last connected and announced itself, is connected and
// announced now, and has no purge whose application failed and awaits a
// retry. While it is false the node's
// cache must treat stored content as needing revalidation.
func (n *Node) Synced() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.synced
}

// WaitSynced blocks until the node is synced or ctx ends.
func (n *Node) WaitSynced(ctx context.Context) error {
	for {
		n.mu.Lock()
		ok, ch := n.synced, n.syncedCh
		n.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("purge node %s: wait for sync: %w", n.cfg.Name, ctx.Err())
		}
	}
}

func (n *Node) setSynced(v bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.synced == v {
		return
	}
	n.synced = v
	if v {
		close(n.syncedCh)
		n.metrics.synced.Set(1)
	} else {
		n.syncedCh = make(chan struct{})
		n.metrics.synced.Set(0)
	}
}

// Run connects to the bus, announces the node, and applies events until
// ctx ends. It keeps going through bus outages (reconnecting and catching
// up) and returns nil when ctx ends; it returns an error only if it cannot
// start. On return the node's announcement is withdrawn, so the API stops
// waiting for it. Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	if !n.started.CompareAndSwap(false, true) {
		return fmt.Errorf("purge node %s: Run called twice", n.cfg.Name)
	}
	resync := make(chan struct{}, 1)
	signal := func() {
		select {
		case resync <- struct{}{}:
		default:
		}
	}
	nc, err := connect(n.cfg.URLs, "cdn purge node "+n.cfg.Name, n.log,
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			n.epoch.Add(1)
			n.setSynced(false)
			if err == nil && nc.IsClosed() {
				return // our own Close at shutdown, not an outage
			}
			n.log.Warn("purge bus disconnected; cached content needs revalidation until caught up", "err", err)
		}),
		// The first connection after a failed initial attempt.
		nats.ConnectHandler(func(nc *nats.Conn) {
			n.log.Info("purge bus connected", "server", nc.ConnectedUrlRedacted())
			signal()
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			n.log.Info("purge bus reconnected", "server", nc.ConnectedUrlRedacted())
			signal()
		}),
	)
	if err != nil {
		return fmt.Errorf("purge node %s: %w", n.cfg.Name, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("purge node %s: JetStream: %w", n.cfg.Name, err)
	}

	var wg sync.WaitGroup
	hbCtx, stopHB := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.heartbeat(hbCtx, js, signal)
	}()

	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := n.session(ctx, nc, js, resync)
		if ctx.Err() != nil {
			break
		}
		if err == nil {
			continue // resync requested
		}
		n.setSynced(false)
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		n.log.Warn("purge consumer stopped; retrying", "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-resync:
		}
		t.Stop()
		backoff = min(backoff*2, 5*time.Second)
	}
	stopHB()
	wg.Wait()
	n.setSynced(false)
	if nc.IsConnected() {
		n.withdraw(js)
	}
	return nil
}

// session sets up the stream and consumer, records the stream's last
// sequence as the sync target, and applies events until ctx ends (nil),
// a reconnection asks for a new session (nil), or the consumer fails.
func (n *Node) session(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, resync <-chan struct{}) error {
	epoch := n.epoch.Load()
	if !nc.IsConnected() {
		select {
		case <-ctx.Done():
			return nil
		case <-resync:
			return nil
		}
	}
	opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stream, err := ensureStream(opCtx, js, n.cfg.Stream, true)
	if err != nil {
		return err
	}
	info, err := stream.Info(opCtx)
	if err != nil {
		return fmt.Errorf("stream %s info: %w", n.cfg.Stream, err)
	}
	target := info.State.LastSeq
	if n.cfg.ReplayAll && !n.replayed.Load() {
		if err := n.replay(ctx, stream, info, target); err != nil {
			return err
		}
		n.replayed.Store(true)
	}
	cons, err := stream.CreateOrUpdateConsumer(opCtx, jetstream.ConsumerConfig{
		Durable:       n.cfg.Name,
		Description:   "purge events for node " + n.cfg.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       n.cfg.AckWait,
		MaxDeliver:    -1,
		FilterSubject: SubjectEvents,
		MaxAckPending: 1000,
		// A node gone for longer than the log keeps events loses its
		// consumer too; coming back it replays what the log still has.
		InactiveThreshold: StreamMaxAge,
	})
	if err != nil {
		return fmt.Errorf("durable consumer %s on stream %s: %w", n.cfg.Name, n.cfg.Stream, err)
	}
	if ci := cons.CachedInfo(); ci != nil && ci.Delivered.Stream > 0 && ci.AckFloor.Stream+1 < info.State.FirstSeq {
		n.log.Error("purges were dropped from the log before this node applied them; empty this node's cache",
			"acked_through", ci.AckFloor.Stream, "log_starts_at", info.State.FirstSeq)
	}
	cancel()
	n.checkSynced(ctx, cons, target, epoch)

	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consume %s: %w", n.cfg.Name, err)
	}
	defer it.Stop()
	checkEvery := time.NewTicker(250 * time.Millisecond)
	defer checkEvery.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-resync:
			return nil
		default:
		}
		msg, err := it.Next(jetstream.NextMaxWait(250 * time.Millisecond))
		if errors.Is(err, nats.ErrTimeout) {
			if !n.Synced() {
				n.checkSynced(ctx, cons, target, epoch)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("consume %s: %w", n.cfg.Name, err)
		}
		seq, applied := n.handle(ctx, nc, msg)
		if !applied {
			// A purge this node could not apply: its cache cannot be
			// trusted until the retry succeeds.
			target = max(target, seq)
			n.setSynced(false)
			continue
		}
		if !n.Synced() && seq >= target {
			n.checkSynced(ctx, cons, target, epoch)
		} else if !n.Synced() {
			select {
			case <-checkEvery.C:
				n.checkSynced(ctx, cons, target, epoch)
			default:
			}
		}
	}
}

// checkSynced marks the node synced when the server says every event up
// to target is acknowledged (or nothing is left), no disconnection or
// announcement lapse happened since the session began, and the node is
// announced.
func (n *Node) checkSynced(ctx context.Context, cons jetstream.Consumer, target, epoch uint64) {
	if n.Synced() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ci, err := cons.Info(ctx)
	if err != nil {
		n.log.Debug("purge consumer info", "err", err)
		return
	}
	caughtUp := ci.AckFloor.Stream >= target ||
		(ci.Delivered.Stream >= target && ci.NumAckPending == 0) ||
		(ci.NumPending == 0 && ci.NumAckPending == 0)
	if caughtUp && n.epoch.Load() == epoch && n.announced.Load() {
		n.setSynced(true)
		n.log.Info("purge log caught up", "through_seq", target)
	}
}

// handle applies one message and returns its stream sequence and whether
// it was applied (or dropped as undecodable) rather than left for a retry.
func (n *Node) handle(ctx context.Context, nc *nats.Conn, msg jetstream.Msg) (uint64, bool) {
	md, err := msg.Metadata()
	if err != nil {
		n.log.Error("purge message without JetStream metadata; dropped", "err", err)
		_ = msg.Term()
		return 0, true
	}
	seq := md.Sequence.Stream
	ev, err := DecodeEvent(msg.Data())
	if err != nil {
		n.metrics.invalid.Inc()
		n.log.Error("undecodable purge event dropped", "seq", seq, "err", err)
		_ = msg.TermWithReason("invalid purge event")
		return seq, true
	}
	if err := n.apply(ev); err != nil {
		n.metrics.failures.Inc()
		delay := retryDelay(md.NumDelivered)
		n.log.Error("apply purge failed; will retry", "id", ev.ID, "seq", seq, "attempt", md.NumDelivered, "retry_in", delay, "err", err)
		n.setSynced(false) // before the API hears of the failure
		n.confirm(nc, ev, err)
		if nakErr := msg.NakWithDelay(delay); nakErr != nil {
			n.log.Warn("nak purge event", "id", ev.ID, "err", nakErr)
		}
		return seq, false
	}
	ackCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	// DoubleAck waits for the server to record the acknowledgement, so a
	// confirmed purge is never delivered again after a restart.
	if err := msg.DoubleAck(ackCtx); err != nil {
		n.log.Warn("acknowledge purge event; it will be applied again", "id", ev.ID, "seq", seq, "err", err)
	}
	cancel()
	n.metrics.applied.Inc()
	n.metrics.delay.Observe(n.cfg.Now().Sub(ev.Time).Seconds())
	n.confirm(nc, ev, nil)
	n.log.Debug("purge applied", "id", ev.ID, "seq", seq, "items", ev.Items(), "soft", ev.Soft)
	return seq, true
}

// apply calls the Apply hook, turning a panic into an error.
// replay applies every event the log holds up to target, through an
// ephemeral ordered consumer, without confirming them.
func (n *Node) replay(ctx context.Context, stream jetstream.Stream, info *jetstream.StreamInfo, target uint64) error {
	if info.State.FirstSeq > 1 && n.cfg.LogHorizon != nil {
		n.cfg.LogHorizon(info.State.FirstTime)
	}
	if target == 0 || info.State.Msgs == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	oc, err := stream.OrderedConsumer(rctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{SubjectEvents},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("replay purge log: %w", err)
	}
	applied := 0
	for {
		msg, err := oc.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			return fmt.Errorf("replay purge log: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("replay purge log: %w", err)
		}
		if ev, err := DecodeEvent(msg.Data()); err == nil {
			if err := n.apply(ev); err != nil {
				return fmt.Errorf("replay purge %s: %w", ev.ID, err)
			}
			applied++
		}
		if md.Sequence.Stream >= target {
			break
		}
	}
	n.log.Info("replayed the purge log", "events", applied, "through_seq", target)
	return nil
}

func (n *Node) apply(ev Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("apply panicked: %v", r)
		}
	}()
	return n.cfg.Apply(ev)
}

// retryDelay backs off a failing event: 250ms, 500ms, 1s ... up to 10s.
func retryDelay(delivered uint64) time.Duration {
	d := 250 * time.Millisecond
	for i := uint64(1); i < delivered && d < 10*time.Second; i++ {
		d *= 2
	}
	return min(d, 10*time.Second)
}

// confirm tells the API how applying ev went. Confirmations are plain
// NATS messages: an API that is not listening loses nothing it needs.
func (n *Node) confirm(nc *nats.Conn, ev Event, applyErr error) {
	c := Confirmation{Node: n.cfg.Name, OK: applyErr == nil, Time: n.cfg.Now()}
	if applyErr != nil {
		c.Error = applyErr.Error()
	}
	data, err := json.Marshal(c)
	if err != nil {
		n.log.Error("encode purge confirmation", "id", ev.ID, "err", err)
		return
	}
	if err := nc.Publish(SubjectConfirmPrefix+ev.ID, data); err != nil {
		n.log.Warn("publish purge confirmation", "id", ev.ID, "err", err)
	}
}

// heartbeat announces the node every Heartbeat until ctx ends.
//
// The API waits only for announced nodes, so a node whose announcement may
// have expired (no successful heartbeat for the bucket's TTL less one
// heartbeat) stops counting as synced: a purge published meanwhile may have
// been reported done without it. When an announcement succeeds again it
// asks for a new session, whose sync target includes those purges.
func (n *Node) heartbeat(ctx context.Context, js jetstream.JetStream, resync func()) {
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	lapse := time.NewTimer(time.Hour)
	lapse.Stop()
	defer lapse.Stop()
	var kv jetstream.KeyValue
	grace := 2 * n.cfg.Heartbeat
	failing := false
	for {
		sent := time.Now()
		err := func() error {
			opCtx, cancel := context.WithTimeout(ctx, max(n.cfg.Heartbeat, time.Second))
			defer cancel()
			if kv == nil {
				b, err := ensureNodesBucket(opCtx, js, 3*n.cfg.Heartbeat)
				if err != nil {
					return err
				}
				if st, err := b.Status(opCtx); err == nil && st.TTL() > 0 {
					// The bucket may have been made by a node with
					// another heartbeat: its TTL is what counts.
					grace = st.TTL() - n.cfg.Heartbeat
					if grace <= 0 {
						grace = st.TTL() / 2
					}
				}
				kv = b
			}
			data, err := json.Marshal(Announcement{Name: n.cfg.Name, Role: n.cfg.Role, Time: n.cfg.Now(), Synced: n.Synced()})
			if err != nil {
				return fmt.Errorf("encode announcement: %w", err)
			}
			if _, err := kv.Put(opCtx, n.cfg.Name, data); err != nil {
				kv = nil // the bucket may be gone with a restarted server
				return fmt.Errorf("announce in bucket %s: %w", NodesBucket, err)
			}
			return nil
		}()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			// The server stored the entry after sent: it lives until at
			// least sent+TTL.
			lapse.Reset(time.Until(sent.Add(grace)))
			if !n.announced.Load() {
				// Purges published before this announcement were not
				// waited for: sync again against the log as it is now.
				n.announced.Store(true)
				resync()
			}
		}
		switch {
		case err != nil && !failing:
			failing = true
			n.log.Warn("purge heartbeat failing", "err", err)
		case err == nil && failing:
			failing = false
			n.log.Info("purge heartbeat restored")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-lapse.C:
			n.announced.Store(false)
			n.epoch.Add(1)
			n.setSynced(false)
			n.log.Warn("purge announcement may have expired; cached content needs revalidation until caught up")
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// withdraw removes the node's announcement, so the API stops expecting
// its confirmations. A node that crashes drops out after the TTL instead.
func (n *Node) withdraw(js jetstream.JetStream) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, NodesBucket)
	if err == nil {
		err = kv.Delete(ctx, n.cfg.Name)
	}
	if err != nil {
		n.log.Warn("withdraw purge announcement; it expires with its TTL", "err", err)
	}
}
