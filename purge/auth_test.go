package purge

import (
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.startNode("edge-a")
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		header string // Authorization; "" sends none
		want   int
	}{
		{"post-no-token", http.MethodPost, "/purge", `{"tags":["a"]}`, "", http.StatusUnauthorized},
		{"post-wrong-token", http.MethodPost, "/purge", `{"tags":["a"]}`, "Bearer wrong", http.StatusUnauthorized},
		{"post-token-prefix", http.MethodPost, "/purge", `{"tags":["a"]}`, "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"post-basic-scheme", http.MethodPost, "/purge", `{"tags":["a"]}`, "Basic " + testToken, http.StatusUnauthorized},
		{"get-no-token", http.MethodGet, "/purge/abc", "", "", http.StatusUnauthorized},
		{"get-right-token", http.MethodGet, "/purge/abc", "", "Bearer " + testToken, http.StatusNotFound},
		{"post-right-token-lowercase-scheme", http.MethodPost, "/purge", `{"tags":["a"]}`, "bearer " + testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, h.http.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := h.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			// RFC 6750 §3: a 401 carries WWW-Authenticate: Bearer.
			if tt.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q, want Bearer", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if logs := h.logs.String(); strings.Contains(logs, testToken) || strings.Contains(logs, testToken[:5]) {
		t.Errorf("the token appears in the logs:\n%s", logs)
	}
	if !strings.Contains(h.logs.String(), "refused") {
		t.Error("refused requests are not logged")
	}
}

func TestEmptyTokenRefusesEverything(t *testing.T) {
	h := newHarness(t, harnessOptions{noToken: true})
	for _, header := range []string{"", "Bearer ", "Bearer anything"} {
		req, _ := http.NewRequest(http.MethodPost, h.http.URL+"/purge", strings.NewReader(`{"tags":["a"]}`))
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := h.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		body.Write(buf[:n])
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.String(), "no admin token configured") {
			t.Errorf("Authorization %q with no token configured: %d %s, want 503 no admin token configured", header, resp.StatusCode, body.String())
		}
	}
}
