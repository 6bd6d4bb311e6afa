package fwdproxy

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// allowAll allows every destination and port but names no private
// ranges, so only the address check stands between clients and loopback.
var allowAll = Rule{Action: "allow", Ports: []string{"1-65535"}}

func TestSSRFByAddressNameRebindingAndRedirect(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) })
	h := startProxy(t, Config{Rules: []Rule{allowAll}})
	h.res.set("localhost", "127.0.0.1")
	h.res.set("127.0.0.1.nip.io", "127.0.0.1")
	h.res.set("v6.test", "::1")
	h.res.set("mapped.test", "::ffff:127.0.0.1")
	h.res.set("mixed.test", "198.51.100.20,127.0.0.1")
	h.res.set("rebind.test", "198.51.100.10", "127.0.0.1")
	c := h.client(t, "", "")
	port := o.port

	for _, host := range []string{
		"127.0.0.1", "127.1.2.3", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0", "[::]",
		"10.0.0.1", "192.168.1.1", "169.254.169.254", "[fe80::1]", "224.0.0.1", "[64:ff9b::7f00:1]", "[2002:7f00:1::]",
		"localhost", "127.0.0.1.nip.io", "v6.test", "mapped.test", "mixed.test", "LOCALHOST.",
	} {
		u := fmt.Sprintf("http://%s:%d/", host, port)
		st, _, body := get(t, c, u)
		if st != http.StatusForbidden {
			t.Errorf("GET %s: %d %q, want 403", u, st, body)
		}
		_, _, st = connect(t, h.addr, fmt.Sprintf("%s:%d", host, port))
		if st != http.StatusForbidden {
			t.Errorf("CONNECT %s: %d, want 403", host, st)
		}
	}
	// Rebinding: the first lookup answers a public address (the test
	// dialer refuses it, so nothing leaves the machine), the next one
	// loopback; the proxy checks each answer it dials.
	st, _, _ := get(t, c, fmt.Sprintf("http://rebind.test:%d/", port))
	if st != http.StatusBadGateway {
		t.Errorf("rebind first lookup: %d, want 502 from the refused public dial", st)
	}
	st, _, body := get(t, c, fmt.Sprintf("http://rebind.test:%d/", port))
	if st != http.StatusForbidden || !strings.Contains(body, "loopback") {
		t.Errorf("rebind second lookup: %d %q, want 403 loopback", st, body)
	}
	if n := o.n.Load(); n != 0 {
		t.Fatalf("the loopback origin was reached %d times", n)
	}
	h.dial.mu.Lock()
	dialled, refused := h.dial.dialled, h.dial.refused
	h.dial.mu.Unlock()
	if len(dialled) != 0 || len(refused) != 1 || refused[0] != netip.MustParseAddrPort(fmt.Sprintf("198.51.100.10:%d", port)) {
		t.Errorf("dials: %v, refused %v", dialled, refused)
	}
}

func TestRedirectToPrivateIsNotFollowed(t *testing.T) {
	secret := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) })
	// public.test is allowed explicitly (its rule names its one address);
	// it redirects to another internal address.
	pub := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fmt.Sprintf("http://127.0.0.1:%d/admin", secret.port), http.StatusFound)
	})
	h := startProxy(t, Config{Rules: []Rule{
		{Action: "allow", Hosts: []string{"public.test"}, Private: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Ports: []string{fmt.Sprint(pub.port)}},
		allowAll,
	}})
	h.res.set("public.test", "127.0.0.1")
	c := h.client(t, "", "")
	st, hdr, _ := get(t, c, fmt.Sprintf("http://public.test:%d/", pub.port))
	if st != http.StatusFound || !strings.Contains(hdr.Get("Location"), "/admin") {
		t.Fatalf("redirect was not passed to the client: %d %v", st, hdr)
	}
	// A client that follows it makes a new request, checked like any other.
	follow := &http.Client{Transport: c.Transport}
	resp, err := follow.Get(fmt.Sprintf("http://public.test:%d/", pub.port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("followed redirect to a private address: %d, want 403", resp.StatusCode)
	}
	if n := secret.n.Load(); n != 0 {
		t.Errorf("the internal origin was reached %d times", n)
	}
}

func TestDeniedDestinationsAndPorts(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) })
	h := startProxy(t, Config{Rules: []Rule{
		{Action: "deny", Hosts: []string{".blocked.test"}, Reason: "blocked by policy"},
		{Action: "allow", Hosts: []string{"origin.test", "~tun[0-9]+\\.test"}, Private: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	}})
	h.res.set("origin.test", "127.0.0.1")
	h.res.set("a.blocked.test", "127.0.0.1")
	h.res.set("tun7.test", "127.0.0.1")
	c := h.client(t, "", "")
	if st, _, body := get(t, c, fmt.Sprintf("http://origin.test:%d/", o.port)); st != 200 || body != "x" {
		t.Errorf("allowed: %d %q", st, body)
	}
	st, _, body := get(t, c, fmt.Sprintf("http://a.blocked.test:%d/", o.port))
	if st != 403 || !strings.Contains(body, "blocked by policy") {
		t.Errorf("deny rule: %d %q", st, body)
	}
	if st, _, _ := get(t, c, fmt.Sprintf("http://other.test:%d/", o.port)); st != 403 {
		t.Errorf("unlisted host: %d", st)
	}
	// The allow rule names no ports: CONNECT is allowed to 443 only.
	if _, _, st := connect(t, h.addr, fmt.Sprintf("tun7.test:%d", o.port)); st != 403 {
		t.Errorf("CONNECT to port %d: %d, want 403", o.port, st)
	}
	if _, _, st := connect(t, h.addr, "origin.test:25"); st != 403 {
		t.Errorf("CONNECT to port 25: %d, want 403", st)
	}
	if !strings.Contains(h.log.String(), `"reason":"blocked by policy"`) {
		t.Errorf("denial not in the access log:\n%s", h.log.String())
	}
}

func TestLoopsAreRefused(t *testing.T) {
	h := startProxy(t, Config{Rules: []Rule{{Action: "allow", Ports: []string{"1-65535"}, Private: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}})
	c := h.client(t, "", "")
	st, _, _ := get(t, c, "http://"+h.addr+"/proxy.pac")
	if st != http.StatusLoopDetected {
		t.Errorf("request to the proxy itself: %d, want 508", st)
	}
	if _, _, st := connect(t, h.addr, h.addr); st != http.StatusLoopDetected {
		t.Errorf("CONNECT to the proxy itself: %d, want 508", st)
	}
	st, _, _ = get(t, c, "http://127.0.0.1:1/", "Via", "1.1 other, 1.1 fwdproxy")
	if st != http.StatusLoopDetected {
		t.Errorf("request carrying our Via: %d, want 508", st)
	}
}

// The default dialer's Control hook refuses a special address even when
// called directly, past resolve: the last line of defence.
func TestDefaultDialerRefusesSpecialAddresses(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {})
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), o.port)
	if c, err := p.cfg.Dial(t.Context(), addr); err == nil {
		c.Close()
		t.Fatal("the default dialer connected to loopback without a rule")
	} else if !strings.Contains(err.Error(), "loopback address refused") {
		t.Errorf("err = %v", err)
	}
	// With a rule naming the range, it connects.
	r := &compiledRule{Rule: Rule{Private: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	c, err := p.dial(t.Context(), []netip.AddrPort{addr}, r)
	if err != nil {
		t.Fatalf("dial with an allowing rule: %v", err)
	}
	c.Close()
}
