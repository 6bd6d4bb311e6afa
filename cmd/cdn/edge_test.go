package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEdgeQuickModeCommand runs `cdn edge` in quick mode with HTTPS from a
// development CA, a protected admin listener and its own purge API, as
// the README shows it, and uses every listener.
func TestEdgeQuickModeCommand(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("hello " + r.URL.Path))
	}))
	defer origin.Close()
	t.Setenv("CDN_TEST_QUICK_TOKEN", "s3cret")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- cmdEdge(ctx, []string{"--listen", "127.0.0.1:0", "--origin", origin.URL, "--admin", "127.0.0.1:0",
			"--tls-listen", "127.0.0.1:0", "--self-signed", "--tls-dir", filepath.Join(dir, "tls"), "--no-http3",
			"--admin-token-env", "CDN_TEST_QUICK_TOKEN", "--protect-admin", "--name", "quick-1", "--disk", filepath.Join(dir, "disk")}, &stdout, &stderr)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("cdn edge: %v", err)
			}
		case <-time.After(40 * time.Second):
			t.Errorf("cdn edge did not stop")
		}
	}
	defer stop()
	waitForString(t, &stdout, "quick-1 admin listening on ")
	addrs := map[string]string{}
	for _, m := range regexp.MustCompile(`quick-1 (\w+) listening on (\S+)`).FindAllStringSubmatch(stdout.String(), -1) {
		addrs[m[1]] = m[2]
	}
	ca := regexp.MustCompile(`development CA: (\S+)`).FindStringSubmatch(stdout.String())
	if ca == nil || addrs["http"] == "" || addrs["https"] == "" || addrs["admin"] == "" {
		t.Fatalf("output:\n%s", stdout.String())
	}
	get := func(c *http.Client, url, token string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	plain := &http.Client{Timeout: 20 * time.Second}
	if code, body, h := get(plain, "http://"+addrs["http"]+"/a", ""); code != 200 || body != "hello /a" || !strings.Contains(h.Get("Cache-Status"), "quick-1; fwd=miss; stored") {
		t.Errorf("miss: %d %q %q", code, body, h.Get("Cache-Status"))
	}
	pem, err := os.ReadFile(ca[1])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	secure := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	// A key of its own (the scheme is part of it). Until the node is in
	// sync with its purge bus, stored objects are revalidated: a hit
	// comes once it is.
	var code int
	var body string
	var h http.Header
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if code, body, h = get(secure, "https://"+addrs["https"]+"/a", ""); strings.Contains(h.Get("Cache-Status"), "quick-1; hit") {
			break
		}
	}
	if code != 200 || body != "hello /a" || !strings.Contains(h.Get("Cache-Status"), "quick-1; hit") || h.Get("Via") == "" {
		t.Errorf("https hit: %d %q %q", code, body, h.Get("Cache-Status"))
	}
	admin := "http://" + addrs["admin"]
	if code, _, _ := get(plain, admin+"/status", ""); code != 401 {
		t.Errorf("/status without the token: %d", code)
	}
	if code, body, _ := get(plain, admin+"/status", "s3cret"); code != 200 || !strings.Contains(body, `"name":"quick-1"`) {
		t.Errorf("/status: %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", admin+"/purge", strings.NewReader(`{"urls":["http://`+addrs["http"]+`/a"]}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("purge: %d %s", resp.StatusCode, pb)
	}
	if code, _, h := get(plain, "http://"+addrs["http"]+"/a", ""); code != 200 || strings.Contains(h.Get("Cache-Status"), "hit") {
		t.Errorf("after the purge: %d %q", code, h.Get("Cache-Status"))
	}
	stop()
	if strings.Contains(stderr.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", stderr.String())
	}
}

// TestEdgeQuickModeTLSUsage: impossible TLS combinations are usage errors
// naming the flags.
func TestEdgeQuickModeTLSUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--self-signed"}, "--self-signed needs --tls-listen"},
		{[]string{"--tls-listen", "127.0.0.1:0"}, "--tls-listen needs --tls-cert and --tls-key, or --self-signed"},
		{[]string{"--tls-listen", "127.0.0.1:0", "--self-signed", "--tls-cert", "c.pem"}, "--self-signed and --tls-cert/--tls-key are exclusive"},
		{[]string{"--acme-hosts", "a.example"}, "--acme-hosts needs --tls-listen"},
		{[]string{"--protect-admin", "--admin-token-env", "CDN_TEST_UNSET_TOKEN"}, "--protect-admin needs a token in $CDN_TEST_UNSET_TOKEN"},
	} {
		var out, errb strings.Builder
		args := append([]string{"edge", "--listen", "127.0.0.1:0", "--origin", "http://127.0.0.1:1", "--tls-dir", t.TempDir()}, tc.args...)
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}
