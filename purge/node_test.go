package purge

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/selfcdn/cdn/cache"
)

func TestRestartedNodeAppliesMissedPurgesBeforeSynced(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.startNode("edge-a")
	h.startNode("edge-b")
	c := h.startNode("edge-c")

	code, first := h.purge(`{"urls": ["https://assets.example.com/first.js"]}`)
	if code != http.StatusOK || !slices.Contains(first.Confirmed, "edge-c") {
		t.Fatalf("first purge: %d %+v", code, first)
	}

	// A graceful stop withdraws the announcement: the API stops waiting
	// for the node, which applies what it missed when it comes back.
	h.stop(c)
	if c.node.Synced() {
		t.Error("stopped node still reports Synced")
	}
	h.waitAnnounced("edge-c", false)
	code, missed := h.purge(`{"tags": ["missed"], "soft": true}`)
	if code != http.StatusOK || !slices.Equal(missed.Confirmed, []string{"edge-a", "edge-b"}) || len(missed.Missing) != 0 {
		t.Fatalf("purge while edge-c is down: %d %+v, want 200 confirmed by edge-a and edge-b", code, missed)
	}

	// Same durable name, new process state.
	c2 := h.newNode("edge-c")
	if c2.node.Synced() {
		t.Fatal("new node reports Synced before Run")
	}
	h.run(c2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c2.node.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	// WaitSynced returned: the missed purge must already be in force.
	if got := c2.inv.Check("https://assets.example.com/x", "assets.example.com", []string{"missed"}, missed.Time); got != cache.Stale {
		t.Errorf("after WaitSynced, content tagged by the missed soft purge: %v, want Stale", got)
	}
	evs := c2.applied()
	if len(evs) != 1 || evs[0].ID != missed.ID {
		ids := []string{}
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		t.Errorf("restarted node applied %v, want only the missed purge %s (the durable consumer resumes after %s)", ids, missed.ID, first.ID)
	}
	// And it confirms the purge it caught up on, late.
	h.waitAnnounced("edge-c", true)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, data := h.do(http.MethodGet, "/purge/"+missed.ID, "")
		var r Result
		_ = json.Unmarshal(data, &r)
		if slices.Contains(r.Confirmed, "edge-c") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("late confirmation of edge-c not recorded: %s", data)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
}

func TestCrashedNodeIsMissingUntilItsAnnouncementExpires(t *testing.T) {
	h := newHarness(t, harnessOptions{timeout: 300 * time.Millisecond, heartbeat: 100 * time.Millisecond})
	h.startNode("edge-a") // creates the bucket with a 300ms TTL

	// A node that crashed leaves its last heartbeat behind.
	nc, err := nats.Connect(h.url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, NodesBucket)
	if err != nil {
		t.Fatal(err)
	}
	ghost, _ := json.Marshal(Announcement{Name: "edge-crashed", Role: "edge", Time: time.Now()})
	if _, err := kv.Put(ctx, "edge-crashed", ghost); err != nil {
		t.Fatal(err)
	}

	code, res := h.purge(`{"urls": ["https://assets.example.com/app.js"]}`)
	if code != http.StatusAccepted || res.Status != StatusPartial {
		t.Fatalf("purge with a crashed node announced: %d %q, want 202 partial", code, res.Status)
	}
	if !slices.Equal(res.Missing, []string{"edge-crashed"}) || !slices.Equal(res.Confirmed, []string{"edge-a"}) {
		t.Errorf("missing %v confirmed %v, want [edge-crashed] and [edge-a]", res.Missing, res.Confirmed)
	}
	if !strings.Contains(res.Message, "did not confirm") {
		t.Errorf("message %q does not say nodes did not confirm", res.Message)
	}

	// Without heartbeats the announcement expires and the API stops
	// expecting the node.
	h.waitAnnounced("edge-crashed", false)
	code, res = h.purge(`{"urls": ["https://assets.example.com/app.js"]}`)
	if code != http.StatusOK || len(res.Missing) != 0 {
		t.Errorf("purge after the crashed node expired: %d %+v, want 200 with nothing missing", code, res)
	}
}

func TestFailingApplyIsReportedAndRetried(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.startNode("edge-a")
	b := h.startNode("edge-b")
	msg := "disk tier read-only: /var/cache/cdn"
	b.fail.Store(&msg)

	code, res := h.purge(`{"prefixes": ["https://assets.example.com/v2/"]}`)
	if code != http.StatusBadGateway || res.Status != StatusFailed {
		t.Fatalf("purge with a failing node: %d %q, want 502 failed", code, res.Status)
	}
	want := []NodeError{{Node: "edge-b", Error: msg}}
	if !slices.Equal(res.Failed, want) || !slices.Equal(res.Confirmed, []string{"edge-a"}) {
		t.Errorf("failed %v confirmed %v, want %v and [edge-a]", res.Failed, res.Confirmed, want)
	}
	if b.node.Synced() {
		t.Error("a node that could not apply a purge still reports Synced")
	}
	if !strings.Contains(h.logs.String(), msg) {
		t.Error("the node did not log its failure")
	}

	// Once the cause is fixed the retry applies it, the node is synced
	// again, and GET /purge/{id} shows the late confirmation.
	b.fail.Store(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.node.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.inv.Check("https://assets.example.com/v2/app.js", "assets.example.com", nil, res.Time); got != cache.Purged {
		t.Errorf("after the retry: verdict %v, want Purged", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, data := h.do(http.MethodGet, "/purge/"+res.ID, "")
		var r Result
		_ = json.Unmarshal(data, &r)
		if r.Status == StatusConfirmed && slices.Equal(r.Confirmed, []string{"edge-a", "edge-b"}) && len(r.Failed) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET after the retry: %s, want confirmed by both", data)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
}

func TestNodeUnsyncedWhileBusDown(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the NATS server")
	}
	dir := t.TempDir()
	h := newHarness(t, harnessOptions{storeDir: dir})
	a := h.startNode("edge-a")

	listen := strings.TrimPrefix(h.url, "nats://")
	h.srv.Shutdown()
	waitFor(t, "node unsynced after the bus went down", func() bool { return !a.node.Synced() })

	// Same address and store: the log survives, the node reconnects and
	// catches up.
	srv, err := StartEmbedded(EmbeddedConfig{Listen: listen, StoreDir: dir, Logger: h.log})
	if err != nil {
		t.Skipf("restart NATS on %s: %v", listen, err) // the port was taken meanwhile
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.node.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "API reconnected", h.api.nc.IsConnected)
	code, res := h.purge(`{"tags": ["after-outage"]}`)
	if code != http.StatusOK || !slices.Equal(res.Confirmed, []string{"edge-a"}) {
		t.Errorf("purge after the outage: %d %+v", code, res)
	}
}

func TestNodeConfigValidate(t *testing.T) {
	apply := func(Event) error { return nil }
	tests := []struct {
		name string
		cfg  NodeConfig
		want []string
	}{
		{"ok", NodeConfig{Name: "edge-1", URLs: []string{"nats://127.0.0.1:4222"}, Apply: apply}, nil},
		{"empty", NodeConfig{}, []string{"name:", "urls:", "apply:"}},
		{"dotted-name", NodeConfig{Name: "edge.1", URLs: []string{"nats://x"}, Apply: apply}, []string{"name:"}},
		{"bad-url", NodeConfig{Name: "e", URLs: []string{""}, Apply: apply}, []string{"urls[0]:"}},
		{"bad-stream", NodeConfig{Name: "e", URLs: []string{"nats://x"}, Stream: "A.B", Apply: apply}, []string{"stream:"}},
		{"negative", NodeConfig{Name: "e", URLs: []string{"nats://x"}, Apply: apply, Heartbeat: -1, AckWait: -1}, []string{"heartbeat:", "ack_wait:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (tt.want == nil) {
				t.Fatalf("Validate() = %v, want problems %v", err, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, lacks %q", err, w)
				}
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		delivered uint64
		want      time.Duration
	}{
		{0, 250 * time.Millisecond}, {1, 250 * time.Millisecond}, {2, 500 * time.Millisecond},
		{3, time.Second}, {7, 10 * time.Second}, {1000, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := retryDelay(tt.delivered); got != tt.want {
			t.Errorf("retryDelay(%d) = %s, want %s", tt.delivered, got, tt.want)
		}
	}
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
}
