package sim

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSimulationForwardProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole CDN; skipped with -short")
	}
	s := startTestSim(t, nil)
	addr := s.ProxyAddr()
	if addr == "" {
		t.Fatal("no forward proxy in the simulation")
	}
	var guide strings.Builder
	if err := s.WriteSummary(&guide, "cdn"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(guide.String(), "-x http://"+addr) {
		t.Errorf("guide has no curl -x example:\n%s", guide.String())
	}
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr})}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Cache-Status")
	}
	u := s.fwd.origins[0] + "/gen/proxied?size=100&cc=max-age%3D60"
	if st, cs := get(u); st != 200 || !strings.Contains(cs, "stored") {
		t.Fatalf("through the proxy to the origin: %d %q", st, cs)
	}
	s.fwd.mem.Wait()
	if st, cs := get(u); st != 200 || !strings.Contains(cs, "sim-proxy; hit") {
		t.Errorf("second request: %d %q, want a hit", st, cs)
	}
	// Another loopback destination (an edge's admin port) is refused.
	if st, _ := get("http://" + s.Endpoints().Admin.URL[len("http://"):] + "/status"); st != http.StatusForbidden {
		t.Errorf("proxy to an edge's admin API: %d, want 403", st)
	}
}
