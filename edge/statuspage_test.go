package edge

import (
	"html"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func getPage(t *testing.T, url, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
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

// The admin "/" is an HTML status page naming the node and its upstreams;
// other unknown admin paths stay 404.
func TestStatusPage(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, nil)
	base := "http://" + e.Addr("admin").String()

	resp, body := getPage(t, base+"/", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	st := e.status()
	if len(st.Upstreams) == 0 {
		t.Fatal("the quick edge reports no upstreams")
	}
	for _, want := range []string{"edge-1", "Cache tiers", "memory", "Purge bus"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for name, bs := range st.Upstreams {
		if !strings.Contains(body, html.EscapeString(name)) {
			t.Errorf("page lacks upstream %q", name)
		}
		for _, b := range bs {
			if !strings.Contains(body, html.EscapeString(b.Name)) {
				t.Errorf("page lacks backend %q of %q", b.Name, name)
			}
		}
	}

	for _, p := range []string{"/nope", "/index.html", "/status/x"} {
		if resp, _ := getPage(t, base+p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

// The status page takes the same admin token as /status.
func TestStatusPageToken(t *testing.T) {
	o := startOrigin(t)
	e := adminQuickEdge(t, o, func(c *Config) { c.AdminToken = "s3cret" })
	base := "http://" + e.Addr("admin").String()
	if resp, _ := getPage(t, base+"/", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET / without the token: %d, want 401", resp.StatusCode)
	}
	resp, body := getPage(t, base+"/", "s3cret")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "edge-1") {
		t.Errorf("GET / with the token: %d, body %q", resp.StatusCode, body)
	}
	// A browser is asked for Basic credentials; the token is the password.
	resp, _ = getPage(t, base+"/", "")
	if !slices.ContainsFunc(resp.Header.Values("WWW-Authenticate"), func(v string) bool { return strings.HasPrefix(v, "Basic ") }) {
		t.Errorf("401 challenges %q, want a Basic challenge too", resp.Header.Values("WWW-Authenticate"))
	}
	for _, c := range []struct {
		user, pass string
		want       int
	}{{"admin", "s3cret", 200}, {"", "s3cret", 200}, {"admin", "wrong", 401}, {"s3cret", "", 401}} {
		req, _ := http.NewRequest(http.MethodGet, base+"/status", nil)
		req.SetBasicAuth(c.user, c.pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Basic %q:%q: %d, want %d", c.user, c.pass, resp.StatusCode, c.want)
		}
	}
}

// The profiler is off unless asked for, and then behind the admin token.
func TestPprofOnlyWhenEnabled(t *testing.T) {
	o := startOrigin(t)
	off := adminQuickEdge(t, o, nil)
	if resp, _ := getPage(t, "http://"+off.Addr("admin").String()+"/debug/pprof/", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("pprof off: %d, want 404", resp.StatusCode)
	}
	on := adminQuickEdge(t, o, func(c *Config) { c.Pprof, c.AdminToken = true, "s3cret" })
	base := "http://" + on.Addr("admin").String()
	if resp, _ := getPage(t, base+"/debug/pprof/", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("pprof without the token: %d, want 401", resp.StatusCode)
	}
	resp, body := getPage(t, base+"/debug/pprof/", "s3cret")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof with the token: %d", resp.StatusCode)
	}
}
