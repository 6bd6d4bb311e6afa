package geodns

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// startAdmin serves AdminHandler(s) on a loopback port until the test ends.
func startAdmin(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: AdminHandler(s, prometheus.NewRegistry()), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(ln)
	}()
	t.Cleanup(func() {
		hs.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

func adminGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// The admin "/" is an HTML status page naming the node, its PoPs and their
// edges; other unknown admin paths stay 404.
func TestStatusPage(t *testing.T) {
	cfg := testConfig()
	cfg.Health = HealthConfig{Disabled: true}
	s := startServer(t, cfg, Options{Name: "geodns-1"})
	base := startAdmin(t, s)

	resp, body := adminGet(t, base+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	for _, want := range []string{"geodns-1", "geodns", "PoPs", "london", "ashburn", "lon-1", "lon-2"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, p := range []string{"/nope", "/index.html"} {
		if resp, _ := adminGet(t, base+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// Without a node name the page shows the zone.
func TestStatusPageZone(t *testing.T) {
	cfg := testConfig()
	cfg.Health = HealthConfig{Disabled: true}
	s := startServer(t, cfg, Options{})
	_, body := adminGet(t, startAdmin(t, s)+"/")
	if !strings.Contains(body, testZone) {
		t.Errorf("page lacks the zone %q", testZone)
	}
}
