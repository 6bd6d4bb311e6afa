package purge

import (
	"context"
	"net/http"
	"strings"
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
