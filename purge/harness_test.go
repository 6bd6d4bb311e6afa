package purge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfcdn/cdn/cache"
)

const testToken = "s3cret-admin-token-4f9a"

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harnessOptions shape a test bus.
type harnessOptions struct {
	token      string // "" means testToken; use noToken for none
	noToken    bool
	timeout    time.Duration
	maxItems   int
	heartbeat  time.Duration
	storeDir   string
	validURL   func(string) error
	validSite  func(string) error
	maxResults int
}

// harness is a real embedded NATS server, a purge API behind a real HTTP
// server on loopback, and the nodes a test starts.
type harness struct {
	t     *testing.T
	opts  harnessOptions
	srv   *EmbeddedServer
	url   string
	api   *API
	http  *httptest.Server
	logs  *syncBuffer
	log   *slog.Logger
	nodes map[string]*testNode
}

func newHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	if opts.storeDir == "" {
		opts.storeDir = t.TempDir()
	}
	if opts.timeout == 0 {
		opts.timeout = 5 * time.Second
	}
	if opts.heartbeat == 0 {
		opts.heartbeat = DefaultHeartbeat
	}
	token := testToken
	if opts.noToken {
		token = ""
	} else if opts.token != "" {
		token = opts.token
	}
	h := &harness{t: t, opts: opts, logs: &syncBuffer{}, nodes: map[string]*testNode{}}
	h.log = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := StartEmbedded(EmbeddedConfig{Listen: "127.0.0.1:0", StoreDir: opts.storeDir, Logger: h.log})
	if err != nil {
		t.Fatalf("start embedded NATS: %v", err)
	}
	h.srv = srv
	h.url = srv.ClientURL()
	t.Cleanup(srv.Shutdown)
	h.api, err = NewAPI(APIConfig{
		Token: token, URLs: []string{h.url}, Timeout: opts.timeout, MaxItems: opts.maxItems,
		ValidURL: opts.validURL, ValidSite: opts.validSite, MaxResults: opts.maxResults,
		Name: "api-1", Logger: h.log,
	})
	if err != nil {
		t.Fatalf("NewAPI: %v", err)
	}
	t.Cleanup(h.api.Close)
	h.http = httptest.NewServer(h.api)
	t.Cleanup(h.http.Close)
	return h
}

// testNode is a purge node applying events to its own Invalidations.
type testNode struct {
	node   *Node
	inv    *cache.Invalidations
	cancel context.CancelFunc
	done   chan error
	fail   atomic.Pointer[string] // Apply fails with this message when set

	stopOnce sync.Once

	mu     sync.Mutex
	events []Event
}

func (n *testNode) applied() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.events)
}

// applyToInvalidations is what the edge's Apply does: one rule per target.
func applyToInvalidations(inv *cache.Invalidations, ev Event) {
	r := cache.Rule{At: ev.Time, Soft: ev.Soft}
	for _, u := range ev.URLs {
		inv.PurgeKey(u, r)
	}
	for _, p := range ev.Prefixes {
		inv.PurgePrefix(p, r)
	}
	for _, tag := range ev.Tags {
		inv.PurgeTag(tag, r)
	}
	for _, s := range ev.Sites {
		inv.PurgeSite(s, r)
	}
}

// startNode starts a node, waits until it is synced and announced.
func (h *harness) startNode(name string) *testNode {
	h.t.Helper()
	tn := h.newNode(name)
	h.run(tn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tn.node.WaitSynced(ctx); err != nil {
		h.t.Fatalf("node %s: %v", name, err)
	}
	h.waitAnnounced(name, true)
	return tn
}

func (h *harness) newNode(name string) *testNode {
	h.t.Helper()
	tn := &testNode{inv: &cache.Invalidations{}, done: make(chan error, 1)}
	n, err := NewNode(NodeConfig{
		Name: name, Role: "edge", URLs: []string{h.url}, Heartbeat: h.opts.heartbeat, AckWait: 2 * time.Second,
		Logger: h.log,
		Apply: func(ev Event) error {
			if msg := tn.fail.Load(); msg != nil {
				return errors.New(*msg)
			}
			applyToInvalidations(tn.inv, ev)
			tn.mu.Lock()
			tn.events = append(tn.events, ev)
			tn.mu.Unlock()
			return nil
		},
	})
	if err != nil {
		h.t.Fatalf("NewNode %s: %v", name, err)
	}
	tn.node = n
	return tn
}

// run starts tn's Run; the test's cleanup stops it.
func (h *harness) run(tn *testNode) {
	ctx, cancel := context.WithCancel(context.Background())
	tn.cancel = cancel
	go func() { tn.done <- tn.node.Run(ctx) }()
	h.t.Cleanup(func() { h.stop(tn) })
}

// stop cancels tn's Run and waits for it to return; later calls do
// nothing.
func (h *harness) stop(tn *testNode) {
	tn.stopOnce.Do(func() {
		tn.cancel()
		select {
		case err := <-tn.done:
			if err != nil {
				h.t.Errorf("node Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			h.t.Errorf("node Run did not return within 10s of cancel")
		}
	})
}

// waitAnnounced polls the bucket until name is (or is not) announced.
func (h *harness) waitAnnounced(name string, want bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		names, err := h.api.announced(ctx)
		cancel()
		if err == nil && slices.Contains(names, name) == want {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not waiting for a server
	}
	h.t.Fatalf("node %s announced=%v not reached within 10s", name, want)
}

// do sends an authenticated request to the API.
func (h *harness) do(method, path, body string) (int, []byte) {
	h.t.Helper()
	return h.doToken(method, path, body, testToken)
}

func (h *harness) doToken(method, path, body, token string) (int, []byte) {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.http.URL+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// purge POSTs body and decodes the Result.
func (h *harness) purge(body string) (int, Result) {
	h.t.Helper()
	code, data := h.do(http.MethodPost, "/purge", body)
	var res Result
	if code < 400 || code == http.StatusBadGateway {
		if err := json.Unmarshal(data, &res); err != nil {
			h.t.Fatalf("decode result %q: %v", data, err)
		}
	}
	return code, res
}

// newTestServer serves h on a real loopback listener for the test.
func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
