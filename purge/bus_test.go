package purge

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestPostWhileBusDownIsRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.startNode("edge-a")
	h.srv.Shutdown()
	waitFor(t, "API notices the bus is down", func() bool { return !h.api.nc.IsConnected() })
	code, data := h.do(http.MethodPost, "/purge", `{"urls": ["https://assets.example.com/a.css"]}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(data), "unreachable") {
		t.Errorf("POST with NATS down: %d %s, want 503 saying the bus is unreachable", code, data)
	}
	if strings.Contains(string(data), `"id"`) {
		t.Errorf("POST with NATS down reported a purge id: %s", data)
	}
}

func TestAPIStartsBeforeBus(t *testing.T) {
	// Nothing listens on this address: NewAPI still succeeds and requests
	// answer 503 rather than hanging or reporting success.
	api, err := NewAPI(APIConfig{Token: testToken, URLs: []string{"nats://127.0.0.1:1"}})
	if err != nil {
		t.Fatalf("NewAPI with NATS unreachable: %v", err)
	}
	defer api.Close()
	h := &harness{t: t}
	h.http = newTestServer(t, api)
	code, data := h.do(http.MethodPost, "/purge", `{"tags": ["a"]}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(data), "NATS") {
		t.Errorf("POST before the bus is up: %d %s, want 503 naming NATS", code, data)
	}
}

func TestEmbeddedFileStoreKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartEmbedded(EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	publishTestEvent(t, srv.ClientURL(), Event{ID: "ev1", Time: time.Now(), Tags: []string{"t"}})
	srv.Shutdown()
	srv.Shutdown() // idempotent

	srv, err = StartEmbedded(EmbeddedConfig{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 || info.Config.Storage != jetstream.FileStorage || info.Config.MaxAge != StreamMaxAge {
		t.Errorf("after restart: %d msgs, storage %v, max age %s; want 1, file, %s", info.State.Msgs, info.Config.Storage, info.Config.MaxAge, StreamMaxAge)
	}
}

func TestEmbeddedWithoutStoreDirUsesMemory(t *testing.T) {
	srv, err := StartEmbedded(EmbeddedConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Storage; got != jetstream.MemoryStorage {
		t.Errorf("storage %v, want memory", got)
	}
}

func TestStartEmbeddedBadListen(t *testing.T) {
	for _, l := range []string{"nonsense", "127.0.0.1:port", "127.0.0.1:70000"} {
		if srv, err := StartEmbedded(EmbeddedConfig{Listen: l}); err == nil {
			srv.Shutdown()
			t.Errorf("StartEmbedded(%q) succeeded, want an error", l)
		} else if !strings.Contains(err.Error(), l) {
			t.Errorf("StartEmbedded(%q): %v, want the address in the error", l, err)
		}
	}
}

// publishTestEvent stores ev on the bus as the API would.
func publishTestEvent(t *testing.T, url string, ev Event) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	data := []byte(`{"id":"` + ev.ID + `","time":"` + ev.Time.Format(time.RFC3339Nano) + `","tags":["` + ev.Tags[0] + `"]}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, SubjectEvents, data); err != nil {
		t.Fatal(err)
	}
}

// Two processes of the separate-processes recipe both start the embedded
// NATS: the second fails at once with EADDRINUSE (instead of waiting for
// a readiness that never comes), so it can join the first as a client.
func TestStartEmbeddedAddressInUse(t *testing.T) {
	first, err := StartEmbedded(EmbeddedConfig{Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Shutdown()
	u, err := url.Parse(first.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	second, err := StartEmbeddedContext(ctx, EmbeddedConfig{Listen: u.Host})
	if err == nil {
		second.Shutdown()
		t.Fatalf("a second embedded NATS on %s started", u.Host)
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), u.Host) {
		t.Fatalf("second embedded NATS on %s: %v, want EADDRINUSE naming the address", u.Host, err)
	}
}

// A start that the caller gives up on says which step was not finished.
func TestStartEmbeddedContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("caller gave up")
	cancel(cause)
	srv, err := StartEmbeddedContext(ctx, EmbeddedConfig{Listen: "127.0.0.1:0"})
	if err == nil {
		srv.Shutdown()
		t.Fatal("started under a cancelled context")
	}
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "not finished") {
		t.Fatalf("cancelled start: %v, want the step not finished and the cause", err)
	}
}

// A node or API closing its own connection at shutdown is not an outage:
// no "purge bus disconnected" warning (a Ctrl-C of the simulation printed
// one per node).
func TestShutdownLogsNoDisconnect(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tn := h.startNode("edge-a")
	h.stop(tn)
	h.api.Close()
	// The handlers run on each client's callback goroutine, after Close
	// returns: a second connection's close callback gives them time to
	// run (without the fix, this test fails every time).
	nc, err := nats.Connect(h.url)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	nc.Close()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("client close callback did not run within 10s")
	}
	if logs := h.logs.String(); strings.Contains(logs, "disconnected") {
		t.Fatalf("shutdown logged a disconnect:\n%s", logs)
	}
}
