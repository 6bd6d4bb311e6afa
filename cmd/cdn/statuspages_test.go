package main

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/selfcdn/cdn/fwdproxy"
	"github.com/selfcdn/cdn/l4"
)

func page(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status page: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	return rec.Body.String()
}

// Balancers and forward proxies have an admin status page like every
// other node.
func TestL4AndProxyStatusPages(t *testing.T) {
	b, err := l4.New(l4.Config{
		Listeners: []l4.ListenerConfig{{Network: "tcp", Addr: "127.0.0.1:0", Service: "web"}},
		Backends:  []l4.BackendConfig{{Name: "edge-a", Addr: "127.0.0.1:1"}, {Name: "edge-b", Addr: "127.0.0.1:2"}},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := page(t, l4StatusPage("l4-x", b))
	for _, want := range []string{`<h1 id="node">l4-x</h1>`, "Backends", "edge-a", "edge-b", "127.0.0.1:2"} {
		if !strings.Contains(body, want) {
			t.Errorf("l4 page lacks %q", want)
		}
	}
	p, err := fwdproxy.New(fwdproxy.Config{Rules: []fwdproxy.Rule{
		{Action: "allow", Clients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Hosts: []string{".example.com"}},
		{Action: "deny", Hosts: []string{"~.*"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	body = page(t, proxyStatusPage("proxy-1", p))
	for _, want := range []string{`<h1 id="node">proxy-1</h1>`, "Access rules", "10.0.0.0/8", ".example.com", "deny", "Tunnels"} {
		if !strings.Contains(body, want) {
			t.Errorf("proxy page lacks %q", want)
		}
	}
}
