package purge

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// sites is the cluster the bad-input tests run against.
var sites = map[string]bool{"assets.example.com": true, "www.example.com": true}

func validSite(host string) error {
	if !sites[host] {
		return fmt.Errorf("no configured site %s", host)
	}
	return nil
}

func validURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return err
	}
	return validSite(p.Hostname())
}

func TestBadInputIsRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{maxItems: 3, validURL: validURL, validSite: validSite})
	tests := []struct {
		name string
		body string
		want int
		msg  string
	}{
		{"invalid-json", `{"urls": [`, 400, "invalid JSON"},
		{"not-an-object", `["https://assets.example.com/"]`, 400, "invalid JSON"},
		{"unknown-field", `{"url": ["https://assets.example.com/"]}`, 400, `unknown field \"url\"`},
		{"trailing-data", `{"tags": ["a"]} {"tags": ["b"]}`, 400, "data after the object"},
		{"empty-body", ``, 400, "empty body"},
		{"empty-object", `{}`, 400, "nothing to purge"},
		{"empty-lists", `{"urls": [], "tags": [], "all": []}`, 400, "nothing to purge"},
		{"over-max-items", `{"tags": ["a", "b"], "urls": ["https://assets.example.com/1", "https://assets.example.com/2"]}`, 400, "at most 3"},
		{"url-of-no-site", `{"urls": ["https://evil.example.net/x"]}`, 400, "urls[0]"},
		{"relative-url", `{"urls": ["/img/logo.png"]}`, 400, "absolute http or https"},
		{"ftp-url", `{"urls": ["ftp://assets.example.com/x"]}`, 400, "absolute http or https"},
		{"prefix-of-no-site", `{"prefixes": ["https://other.example/"]}`, 400, "prefixes[0]"},
		{"site-unknown", `{"all": "nosuch.example.com"}`, 400, "no configured site"},
		{"site-with-scheme", `{"all": ["https://assets.example.com"]}`, 400, "not a site host"},
		{"tag-with-space", `{"tags": ["a b"]}`, 400, "space"},
		{"empty-tag", `{"tags": [""]}`, 400, "empty tag"},
		{"all-wrong-type", `{"all": 5}`, 400, "string or a list"},
		{"soft-wrong-type", `{"tags": ["a"], "soft": "yes"}`, 400, "invalid JSON"},
		{"every-problem-listed", `{"urls": ["x", "https://nosite/"], "tags": [" "]}`, 400, "urls[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, data := h.do(http.MethodPost, "/purge", tt.body)
			if code != tt.want || !strings.Contains(string(data), tt.msg) {
				t.Errorf("POST %s: %d %s, want %d with %q", tt.body, code, data, tt.want, tt.msg)
			}
		})
	}
	big := `{"tags": ["` + strings.Repeat("a", MaxBodyBytes) + `"]}`
	if code, _ := h.do(http.MethodPost, "/purge", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over %d bytes: %d, want 413", MaxBodyBytes, code)
	}
	if code, _ := h.do(http.MethodPut, "/purge", `{"tags":["a"]}`); code != http.StatusMethodNotAllowed {
		t.Errorf("PUT /purge: %d, want 405", code)
	}
}

func TestCheckerNormalises(t *testing.T) {
	c := checker{maxItems: 100, validURL: validURL, validSite: validSite}
	tests := []struct {
		name string
		req  Request
		want Event
	}{
		{
			// Cache keys lower-case scheme and host and drop the default
			// port (RFC 9110 §4.2.3 URI normalisation), as cache.PrimaryKey does.
			"url-normalised",
			Request{URLs: []string{"HTTPS://Assets.Example.COM:443/A/b.png?x=1#frag", "http://www.example.com:80"}},
			Event{URLs: []string{"https://assets.example.com/A/b.png?x=1", "http://www.example.com/"}},
		},
		{
			"duplicates-removed",
			Request{Tags: []string{"a", "b", "a"}, All: StringList{"WWW.example.com.", "www.example.com"}},
			Event{Tags: []string{"a", "b"}, Sites: []string{"www.example.com"}},
		},
		{
			"soft-kept",
			Request{Prefixes: []string{"https://assets.example.com/v1/"}, Soft: true},
			Event{Prefixes: []string{"https://assets.example.com/v1/"}, Soft: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.event(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.URLs, tt.want.URLs) || !slices.Equal(got.Prefixes, tt.want.Prefixes) ||
				!slices.Equal(got.Tags, tt.want.Tags) || !slices.Equal(got.Sites, tt.want.Sites) || got.Soft != tt.want.Soft {
				t.Errorf("event %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestManyProblemsAreCapped(t *testing.T) {
	c := checker{maxItems: 100}
	req := Request{Tags: slices.Repeat([]string{""}, 25)}
	_, err := c.event(req)
	if err == nil || !strings.Contains(err.Error(), "and 15 more") {
		t.Errorf("25 bad tags: %v, want the first %d and 'and 15 more'", err, maxProblems)
	}
}

func TestDecodeEventRejects(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"not-json", `nope`, "decode"},
		{"bad-id", `{"id":"a.b","time":"2025-01-01T00:00:00Z","tags":["x"]}`, "id:"},
		{"no-time", `{"id":"a","tags":["x"]}`, "time:"},
		{"no-targets", `{"id":"a","time":"2025-01-01T00:00:00Z"}`, "all empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeEvent(%s) = %v, want an error with %q", tt.data, err, tt.want)
			}
		})
	}
	if _, err := DecodeEvent([]byte(`{"id":"a","time":"2025-01-01T00:00:00Z","urls":["https://a/"]}`)); err != nil {
		t.Errorf("valid event: %v", err)
	}
}
