package fwdproxy

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func writeHtpasswd(t *testing.T, path string, users ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test users\n")
	for i := 0; i+1 < len(users); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(users[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", users[i], h)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestProxyAuthentication(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeHtpasswd(t, path, "alice", "wonder", "bob", "builder")
	staff := allowLoopback()
	staff.Groups = []string{"staff"}
	h := startProxy(t, Config{Htpasswd: path, Groups: map[string][]string{"staff": {"alice"}}, Rules: []Rule{staff}, AuthFailures: 3})
	u := fmt.Sprintf("http://127.0.0.1:%d/", o.port)

	st, hdr, _ := get(t, h.client(t, "", ""), u)
	if st != http.StatusProxyAuthRequired || !strings.HasPrefix(hdr.Get("Proxy-Authenticate"), `Basic realm="proxy"`) {
		t.Errorf("no credentials: %d %q", st, hdr.Get("Proxy-Authenticate"))
	}
	if st, _, _ := get(t, h.client(t, "alice", "wrong"), u); st != http.StatusProxyAuthRequired {
		t.Errorf("wrong password: %d", st)
	}
	if st, _, body := get(t, h.client(t, "alice", "wonder"), u); st != 200 || body != "ok" {
		t.Errorf("alice: %d %q", st, body)
	}
	if !strings.Contains(h.log.String(), `"user":"alice"`) || !strings.Contains(h.log.String(), `"duration_ms":`) {
		t.Errorf("access log lacks the user or duration:\n%s", h.log.String())
	}
	if up := o.header(); up.Get("Proxy-Authorization") != "" {
		t.Error("Proxy-Authorization was sent upstream")
	}
	// bob authenticates but is not in the group the rule asks for.
	if st, _, _ := get(t, h.client(t, "bob", "builder"), u); st != http.StatusForbidden {
		t.Errorf("bob: %d, want 403", st)
	}
	// CONNECT is checked too.
	if _, _, st := connect(t, h.addr, "127.0.0.1:443"); st != http.StatusProxyAuthRequired {
		t.Errorf("CONNECT without credentials: %d", st)
	}

	// The file is reloaded when it changes: carol appears, alice goes.
	writeHtpasswd(t, path, "carol", "singer-with-a-longer-password")
	if err := h.p.ReloadUsers(); err != nil {
		t.Fatal(err)
	}
	h.p.Reload([]Rule{allowLoopback()}, nil)
	if st, _, _ := get(t, h.client(t, "carol", "singer-with-a-longer-password"), u); st != 200 {
		t.Errorf("carol after reload: %d", st)
	}
	if st, _, _ := get(t, h.client(t, "alice", "wonder"), u); st != http.StatusProxyAuthRequired {
		t.Errorf("alice after removal: %d", st)
	}
}

func TestHtpasswdReloadsOnChange(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeHtpasswd(t, path, "alice", "wonder")
	h := startProxy(t, Config{Htpasswd: path, Rules: []Rule{allowLoopback()}})
	h.p.auth.check = 0 // stat on every request
	u := fmt.Sprintf("http://127.0.0.1:%d/", o.port)
	writeHtpasswd(t, path, "alice", "wonder", "dave", "diver")
	if st, _, _ := get(t, h.client(t, "dave", "diver"), u); st != 200 {
		t.Errorf("dave after the file changed: %d", st)
	}
	if h.p.auth.loads.Load() < 2 {
		t.Error("file was not reloaded")
	}
}

func TestFailedAuthLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	writeHtpasswd(t, path, "alice", "wonder")
	h := startProxy(t, Config{Htpasswd: path, Rules: []Rule{allowLoopback()}, AuthFailures: 3})
	u := "http://127.0.0.1:1/"
	for i := range 3 {
		if st, _, _ := get(t, h.client(t, "nobody", fmt.Sprint(i)), u); st != http.StatusProxyAuthRequired {
			t.Fatalf("attempt %d: %d", i, st)
		}
	}
	// Now even the right password is refused for this client address.
	if st, _, _ := get(t, h.client(t, "alice", "wonder"), u); st != http.StatusTooManyRequests {
		t.Errorf("after 3 failures: %d, want 429", st)
	}
}

func TestParseBasic(t *testing.T) {
	for _, tc := range []struct {
		in         string
		user, pass string
		ok         bool
	}{
		{"Basic YWxpY2U6d29uZGVy", "alice", "wonder", true},
		{"basic   YWxpY2U6d29uZGVy ", "alice", "wonder", true},
		{"Basic YWxpY2U6d29u:ZGVy", "", "", false},
		{"Bearer abc", "", "", false},
		{"Basic bm9jb2xvbg==", "", "", false},
		{"", "", "", false},
	} {
		u, p, ok := parseBasic(tc.in)
		if u != tc.user || p != tc.pass || ok != tc.ok {
			t.Errorf("parseBasic(%q) = %q %q %v", tc.in, u, p, ok)
		}
	}
}
