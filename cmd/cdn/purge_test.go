package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/purge"
)

const cliToken = "cli-test-token-7d1e"

// purgeCluster is an embedded NATS server, a purge API on a loopback HTTP
// server and two nodes whose Apply the test steers.
type purgeCluster struct {
	admin   string
	fail    atomic.Pointer[string] // edge-b's Apply fails with this when set
	hold    chan struct{}          // edge-b's Apply waits on it when holding
	holding atomic.Bool
}

func startPurgeCluster(t *testing.T) *purgeCluster {
	t.Helper()
	srv, err := purge.StartEmbedded(purge.EmbeddedConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	api, err := purge.NewAPI(purge.APIConfig{Token: cliToken, URLs: []string{srv.ClientURL()}, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	c := &purgeCluster{admin: hs.URL, hold: make(chan struct{})}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		if c.holding.Load() {
			close(c.hold)
		}
		cancel()
		wg.Wait()
	})
	for _, name := range []string{"edge-a", "edge-b"} {
		apply := func(purge.Event) error { return nil }
		if name == "edge-b" {
			apply = func(purge.Event) error {
				if c.holding.Load() {
					<-c.hold
				}
				if msg := c.fail.Load(); msg != nil {
					return errors.New(*msg)
				}
				return nil
			}
		}
		n, err := purge.NewNode(purge.NodeConfig{Name: name, URLs: []string{srv.ClientURL()}, Apply: apply, Heartbeat: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Run(ctx); err != nil {
				t.Errorf("node %s: %v", name, err)
			}
		}()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		err = n.WaitSynced(wctx)
		wcancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Wait until both nodes are announced: a purge then reports both.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out, errOut bytes.Buffer
		code := run([]string{"purge", "--admin", c.admin, "--token", cliToken, "--tag", "warmup"}, &out, &errOut)
		if code == 0 && strings.Contains(out.String(), "2 of 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes not announced within 10s: %s%s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a condition
	}
	return c
}

func TestPurgeCommand(t *testing.T) {
	c := startPurgeCluster(t)

	t.Run("confirmed", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := run([]string{"purge", "--admin", c.admin, "--token", cliToken,
			"--url", "https://assets.example.com/a.js", "--tag", "t1", "--all", "www.example.com", "--prefix", "https://assets.example.com/img/"}, &out, &errOut)
		if code != 0 {
			t.Fatalf("exit %d, want 0; stderr: %s", code, errOut.String())
		}
		for _, re := range []string{`purge [0-9a-f]{32} \(hard\) at .*: confirmed, 2 of 2 node\(s\) confirmed`, `NODE\s+RESULT\s+DETAIL`, `edge-a\s+confirmed\s+[0-9.]+ ms`, `edge-b\s+confirmed`} {
			if !regexp.MustCompile(re).MatchString(out.String()) {
				t.Errorf("output lacks %s:\n%s", re, out.String())
			}
		}
		// The id from the table answers --status.
		id := regexp.MustCompile(`purge ([0-9a-f]{32})`).FindStringSubmatch(out.String())[1]
		out.Reset()
		if code := run([]string{"purge", "--admin", strings.TrimPrefix(c.admin, "http://"), "--token", cliToken, "--status", id}, &out, &errOut); code != 0 || !strings.Contains(out.String(), id) {
			t.Errorf("--status %s: exit %d\n%s%s", id, code, out.String(), errOut.String())
		}
	})

	t.Run("token-from-env-soft-json", func(t *testing.T) {
		t.Setenv(config.DefaultTokenEnv, cliToken)
		var out, errOut bytes.Buffer
		code := run([]string{"purge", "--admin", c.admin, "--tag", "t2", "--soft", "--json"}, &out, &errOut)
		if code != 0 || !strings.Contains(out.String(), `"status": "confirmed"`) {
			t.Errorf("exit %d\n%s%s", code, out.String(), errOut.String())
		}
	})

	t.Run("node-failed", func(t *testing.T) {
		msg := "disk tier read-only"
		c.fail.Store(&msg)
		defer c.fail.Store(nil)
		var out, errOut bytes.Buffer
		code := run([]string{"purge", "--admin", c.admin, "--token", cliToken, "--url", "https://assets.example.com/b.js"}, &out, &errOut)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if !regexp.MustCompile(`edge-b\s+failed\s+disk tier read-only`).MatchString(out.String()) {
			t.Errorf("table lacks the failure:\n%s", out.String())
		}
		if !strings.Contains(errOut.String(), "1 node(s) failed") {
			t.Errorf("stderr: %s", errOut.String())
		}
	})

	t.Run("node-missing", func(t *testing.T) {
		c.holding.Store(true)
		var out, errOut bytes.Buffer
		code := run([]string{"purge", "--admin", c.admin, "--token", cliToken, "--tag", "slow"}, &out, &errOut)
		c.holding.Store(false)
		close(c.hold)
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if !regexp.MustCompile(`edge-b\s+missing`).MatchString(out.String()) || !strings.Contains(errOut.String(), "1 missing") {
			t.Errorf("output:\n%s%s", out.String(), errOut.String())
		}
	})

	t.Run("refused", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := run([]string{"purge", "--admin", c.admin, "--token", "wrong", "--tag", "x"}, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "401") || !strings.Contains(errOut.String(), "bearer token") {
			t.Errorf("wrong token: exit %d, stderr %s", code, errOut.String())
		}
		out.Reset()
		errOut.Reset()
		code = run([]string{"purge", "--admin", c.admin, "--token", cliToken, "--url", "relative/path"}, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "400") || !strings.Contains(errOut.String(), "urls[0]") {
			t.Errorf("bad URL: exit %d, stderr %s", code, errOut.String())
		}
	})
}

func TestPurgeCommandUsage(t *testing.T) {
	t.Setenv(config.DefaultTokenEnv, "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no-admin", []string{"--tag", "x", "--token", "t"}, "--admin is required"},
		{"no-token", []string{"--admin", "http://127.0.0.1:1", "--tag", "x"}, "no token"},
		{"nothing", []string{"--admin", "http://127.0.0.1:1", "--token", "t"}, "nothing to purge"},
		{"bad-admin", []string{"--admin", "ftp://x", "--token", "t", "--tag", "x"}, "--admin"},
		{"status-and-purge", []string{"--admin", "http://127.0.0.1:1", "--token", "t", "--tag", "x", "--status", "abc"}, "--status"},
		{"bad-timeout", []string{"--admin", "http://127.0.0.1:1", "--token", "t", "--tag", "x", "--timeout", "0s"}, "--timeout"},
		{"stray", []string{"--admin", "http://127.0.0.1:1", "--token", "t", "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := cmdPurge(context.Background(), tt.args, &out, &errOut)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("cmdPurge(%q) = %v, want a usage error with %q", tt.args, err, tt.want)
			}
			if code := run(append([]string{"purge"}, tt.args...), &out, &errOut); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}

func TestPurgeCommandAPIDown(t *testing.T) {
	var out, errOut bytes.Buffer
	// Port 1 on loopback: nothing listens, the connection is refused.
	err := cmdPurge(context.Background(), []string{"--admin", "http://127.0.0.1:1", "--token", "t", "--tag", "x", "--timeout", "5s"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("admin API down: %v, want an error naming it", err)
	}
}
