package purge

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// API defaults.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultMaxItems   = 1000
	DefaultMaxResults = 1000
	// MaxBodyBytes bounds a POST /purge body.
	MaxBodyBytes = 4 << 20
)

// APIConfig configures the admin purge API.
type APIConfig struct {
	// Token is the bearer token every request must carry. Empty refuses
	// every request with 503: the API is never open.
	Token string
	// URLs are the NATS servers. Required.
	URLs []string
	// Stream is the purge stream. Empty means DefaultStream.
	Stream string
	// Timeout is how long POST /purge waits for confirmations. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// ValidURL rejects a URL (or prefix) that belongs to no configured
	// site; it gets the URL normalised as a primary cache key. Its error
	// is shown to the client. If nil, every URL is accepted.
	ValidURL func(u string) error
	// ValidSite rejects a host that is no configured site. Its error is
	// shown to the client. If nil, every host is accepted.
	ValidSite func(host string) error
	// MaxItems bounds the URLs, prefixes, tags and sites of one request
	// together. Zero means DefaultMaxItems.
	MaxItems int
	// MaxResults bounds the purges GET /purge/{id} remembers. Zero means
	// DefaultMaxResults.
	MaxResults int
	// Name labels the API's metrics (node=Name) and its NATS connection.
	// Optional.
	Name string
	// Logger receives the API's log lines. The token is never logged. If
	// nil, they are discarded.
	Logger *slog.Logger
	// Registerer receives the API's metrics. If nil, they are not
	// registered.
	Registerer prometheus.Registerer
	// Now is the clock giving purge times and latencies. If nil, time.Now
	// is used.
	Now func() time.Time
}

// Validate returns every problem with the configuration, naming each field.
// An empty Token is not a problem here: the API then refuses requests.
func (c *APIConfig) Validate() error {
	var errs []error
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
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %s is negative", c.Timeout))
	}
	if c.MaxItems < 0 {
		errs = append(errs, fmt.Errorf("max_items: %d is negative", c.MaxItems))
	}
	if c.MaxResults < 0 {
		errs = append(errs, fmt.Errorf("max_results: %d is negative", c.MaxResults))
	}
	return errors.Join(errs...)
}

func (c *APIConfig) applyDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxItems == 0 {
		c.MaxItems = DefaultMaxItems
	}
	if c.MaxResults == 0 {
		c.MaxResults = DefaultMaxResults
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// API is the admin purge API: an http.Handler serving POST /purge and
// GET /purge/{id}. It publishes each purge on the bus with a JetStream
// acknowledgement, then waits for every announced node to confirm.
type API struct {
	cfg     APIConfig
	log     *slog.Logger
	metrics *apiMetrics
	nc      *nats.Conn
	js      jetstream.JetStream
	sub     *nats.Subscription
	results *results
	check   checker
	mux     *http.ServeMux

	mu       sync.Mutex // guards kv and streamOK
	kv       jetstream.KeyValue
	streamOK bool
}

var _ http.Handler = (*API)(nil)

// NewAPI checks cfg, connects to NATS and returns the API. It does not
// fail when NATS is unreachable: requests then answer 503 until the
// connection is up.
func NewAPI(cfg APIConfig) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("purge API config: %w", err)
	}
	cfg.applyDefaults()
	var labels prometheus.Labels
	if cfg.Name != "" {
		labels = prometheus.Labels{"node": cfg.Name}
	}
	m, err := newAPIMetrics(cfg.Registerer, labels)
	if err != nil {
		return nil, err
	}
	a := &API{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: m,
		results: newResults(cfg.MaxResults),
		check:   checker{maxItems: cfg.MaxItems, validURL: cfg.ValidURL, validSite: cfg.ValidSite},
	}
	if cfg.Name != "" {
		a.log = a.log.With("node", cfg.Name)
	}
	name := "cdn purge api"
	if cfg.Name != "" {
		name += " " + cfg.Name
	}
	a.nc, err = connect(cfg.URLs, name, a.log,
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err == nil && nc.IsClosed() {
				return // our own Close at shutdown, not an outage
			}
			a.log.Warn("purge bus disconnected; purge requests answer 503 until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			a.log.Info("purge bus reconnected", "server", nc.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("purge API: %w", err)
	}
	a.js, err = jetstream.New(a.nc)
	if err != nil {
		a.nc.Close()
		return nil, fmt.Errorf("purge API: JetStream: %w", err)
	}
	// One subscription for every confirmation: cheap, and it records
	// confirmations that arrive after the POST has been answered.
	a.sub, err = a.nc.Subscribe(SubjectConfirmPrefix+"*", a.onConfirmation)
	if err != nil {
		a.nc.Close()
		return nil, fmt.Errorf("purge API: subscribe to %s*: %w", SubjectConfirmPrefix, err)
	}
	a.mux = http.NewServeMux()
	a.mux.HandleFunc("POST /purge", a.handlePost)
	a.mux.HandleFunc("GET /purge/{id}", a.handleGet)
	return a, nil
}

// Close disconnects from NATS. Requests after Close answer 503.
func (a *API) Close() {
	_ = a.sub.Unsubscribe()
	a.nc.Close()
}

// ServeHTTP authenticates the request and serves the purge API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	defer func() { a.metrics.requests.WithLabelValues(strconv.Itoa(rec.status())).Inc() }()
	if a.cfg.Token == "" {
		writeError(rec, http.StatusServiceUnavailable, "no admin token configured: set purge.token or the variable named by purge.token_env")
		return
	}
	if !a.authorized(r) {
		a.log.Warn("purge API request refused: missing or wrong bearer token", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		rec.Header().Set("WWW-Authenticate", `Bearer realm="cdn admin"`)
		writeError(rec, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	a.mux.ServeHTTP(rec, r)
}

// authorized compares the bearer token in constant time.
func (a *API) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := strings.TrimSpace(h[len(prefix):])
	return subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.Token)) == 1
}

func (a *API) handlePost(w http.ResponseWriter, r *http.Request) {
	req, err := DecodeRequest(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ev, err := a.check.event(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !a.nc.IsConnected() {
		writeError(w, http.StatusServiceUnavailable, "purge bus (NATS) unreachable: the purge was not accepted, try again")
		return
	}
	ev.ID = newID()
	ev.Time = a.cfg.Now()
	ctx, cancel := context.WithTimeout(r.Context(), min(a.cfg.Timeout, 5*time.Second))
	defer cancel()
	expected, err := a.announced(ctx)
	if err != nil {
		a.log.Error("list announced nodes", "err", err)
		writeError(w, http.StatusServiceUnavailable, "purge bus (NATS) unreachable: cannot list nodes: "+err.Error())
		return
	}
	t := a.results.add(ev, a.cfg.Now(), expected)
	if err := a.publish(ctx, ev); err != nil {
		a.results.remove(ev.ID)
		a.log.Error("publish purge", "id", ev.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "purge bus (NATS) did not store the purge, so it was not accepted: "+err.Error())
		return
	}
	a.log.Info("purge published", "id", ev.ID, "urls", len(ev.URLs), "prefixes", len(ev.Prefixes),
		"tags", len(ev.Tags), "sites", len(ev.Sites), "soft", ev.Soft, "nodes", len(expected))

	timer := time.NewTimer(a.cfg.Timeout)
	defer timer.Stop()
	for {
		answered, changed := a.results.state(t)
		if answered {
			break
		}
		select {
		case <-changed:
			continue
		case <-timer.C:
		case <-r.Context().Done():
			return // the client left; GET /purge/{id} still knows
		}
		break
	}
	res := a.results.snapshot(t, a.cfg.Now(), a.cfg.Timeout)
	a.metrics.missing.Add(float64(len(res.Missing)))
	if res.Status != StatusConfirmed {
		a.log.Warn("purge not confirmed everywhere", "id", ev.ID, "status", res.Status, "missing", res.Missing, "failed", len(res.Failed))
	}
	writeJSON(w, statusCode(res.Status), res)
}

// statusCode maps a result status to the POST answer's code: 200 when
// every node confirmed, 202 when some did not answer in time, 502 when a
// node reported that it could not apply the purge.
func statusCode(status string) int {
	switch status {
	case StatusConfirmed:
		return http.StatusOK
	case StatusPartial:
		return http.StatusAccepted
	default:
		return http.StatusBadGateway
	}
}

func (a *API) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t := a.results.get(id)
	if t == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown purge id %q: this node keeps the last %d purges it accepted", id, a.cfg.MaxResults))
		return
	}
	writeJSON(w, http.StatusOK, a.results.snapshot(t, a.cfg.Now(), a.cfg.Timeout))
}

// publish stores ev in the stream and waits for JetStream's
// acknowledgement. The event ID is the deduplication ID, so a retried
// publish stores it once.
func (a *API) publish(ctx context.Context, ev Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode purge %s: %w", ev.ID, err)
	}
	if len(data) > MaxEventBytes {
		return fmt.Errorf("purge %s encodes to %d bytes; at most %d", ev.ID, len(data), MaxEventBytes)
	}
	if err := a.ensureStream(ctx); err != nil {
		return err
	}
	_, err = a.js.Publish(ctx, SubjectEvents, data, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(a.cfg.Stream))
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		// The stream may have gone with a restarted memory-only server.
		a.mu.Lock()
		a.streamOK = false
		a.mu.Unlock()
		if err = a.ensureStream(ctx); err == nil {
			_, err = a.js.Publish(ctx, SubjectEvents, data, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(a.cfg.Stream))
		}
	}
	if err != nil {
		return fmt.Errorf("publish purge %s to %s: %w", ev.ID, SubjectEvents, err)
	}
	return nil
}

func (a *API) ensureStream(ctx context.Context) error {
	a.mu.Lock()
	ok := a.streamOK
	a.mu.Unlock()
	if ok {
		return nil
	}
	if _, err := ensureStream(ctx, a.js, a.cfg.Stream, true); err != nil {
		return err
	}
	a.mu.Lock()
	a.streamOK = true
	a.mu.Unlock()
	return nil
}

// announced lists the nodes whose announcement has not expired.
func (a *API) announced(ctx context.Context) ([]string, error) {
	a.mu.Lock()
	kv := a.kv
	a.mu.Unlock()
	if kv == nil {
		b, err := a.js.KeyValue(ctx, NodesBucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, nil // no node has ever announced itself
		}
		if err != nil {
			return nil, fmt.Errorf("look up bucket %s: %w", NodesBucket, err)
		}
		a.mu.Lock()
		a.kv = b
		a.mu.Unlock()
		kv = b
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrStreamNotFound) {
			a.mu.Lock()
			a.kv = nil
			a.mu.Unlock()
			return nil, nil
		}
		return nil, fmt.Errorf("list bucket %s: %w", NodesBucket, err)
	}
	defer func() { _ = lister.Stop() }()
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	return names, nil
}

// onConfirmation records a node's confirmation.
func (a *API) onConfirmation(msg *nats.Msg) {
	id := strings.TrimPrefix(msg.Subject, SubjectConfirmPrefix)
	var c Confirmation
	if err := json.Unmarshal(msg.Data, &c); err != nil || !validToken(c.Node) {
		a.log.Warn("undecodable purge confirmation ignored", "subject", msg.Subject, "err", err)
		return
	}
	res := a.results.record(id, c, a.cfg.Now())
	if c.OK {
		a.metrics.confirmations.WithLabelValues("ok").Inc()
	} else {
		a.metrics.confirmations.WithLabelValues("failed").Inc()
	}
	if !res.known {
		return
	}
	if res.first {
		a.metrics.propagation.Observe(res.latency.Seconds())
	}
	if res.completed {
		a.metrics.completion.Observe(res.completion.Seconds())
	}
	if !c.OK {
		a.log.Warn("node could not apply purge", "id", id, "peer", c.Node, "err", c.Error)
	}
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, data = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}

// statusRecorder remembers the status code for the requests metric.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
