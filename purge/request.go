package purge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/selfcdn/cdn/cache"
)

// Request is the JSON body of POST /purge.
type Request struct {
	// URLs are objects to purge, as absolute http or https URLs.
	URLs []string `json:"urls,omitempty"`
	// Prefixes purge every object whose URL starts with one of them.
	Prefixes []string `json:"prefixes,omitempty"`
	// Tags purge every object carrying one of these surrogate keys.
	Tags []string `json:"tags,omitempty"`
	// All purges everything of these site hosts; a single string is
	// accepted too.
	All StringList `json:"all,omitempty"`
	// Soft marks content stale instead of removing it.
	Soft bool `json:"soft,omitempty"`
}

// StringList is a list of strings that also decodes from one JSON string.
type StringList []string

// UnmarshalJSON accepts "x" as well as ["x", ...].
func (l *StringList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*l = StringList{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(data, &ss); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*l = ss
	return nil
}

// maxTagBytes bounds one tag; Surrogate-Key values are short words.
const maxTagBytes = 256

// maxProblems bounds the problems listed in one error message.
const maxProblems = 10

// DecodeRequest parses a POST /purge body strictly: one JSON object,
// no unknown fields, nothing after it.
func DecodeRequest(r io.Reader) (Request, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var req Request
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return Request{}, errors.New("empty body: want a JSON object such as {\"urls\": [\"https://site/path\"]}")
		}
		return Request{}, fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return Request{}, errors.New("invalid JSON body: data after the object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, errors.New("invalid JSON body: data after the object")
	}
	return req, nil
}

// checker validates a request's items against the API's limits and the
// cluster's sites.
type checker struct {
	maxItems  int
	validURL  func(string) error
	validSite func(string) error
}

// event turns a decoded request into an event without ID and time, with
// URLs normalised as cache keys are and duplicates removed. The error
// lists every problem (up to maxProblems), each with its field path.
func (c checker) event(req Request) (Event, error) {
	n := len(req.URLs) + len(req.Prefixes) + len(req.Tags) + len(req.All)
	if n == 0 {
		return Event{}, errors.New("nothing to purge: give at least one of urls, prefixes, tags, all")
	}
	if n > c.maxItems {
		return Event{}, fmt.Errorf("too many items: %d (urls %d, prefixes %d, tags %d, all %d); at most %d per request",
			n, len(req.URLs), len(req.Prefixes), len(req.Tags), len(req.All), c.maxItems)
	}
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	ev := Event{Soft: req.Soft}
	for i, u := range req.URLs {
		key, err := c.url(u)
		if err != nil {
			add("urls[%d]: %v", i, err)
			continue
		}
		ev.URLs = append(ev.URLs, key)
	}
	for i, p := range req.Prefixes {
		key, err := c.url(p)
		if err != nil {
			add("prefixes[%d]: %v", i, err)
			continue
		}
		ev.Prefixes = append(ev.Prefixes, key)
	}
	for i, t := range req.Tags {
		if err := checkTag(t); err != nil {
			add("tags[%d]: %v", i, err)
			continue
		}
		ev.Tags = append(ev.Tags, t)
	}
	for i, s := range req.All {
		host, err := c.site(s)
		if err != nil {
			add("all[%d]: %v", i, err)
			continue
		}
		ev.Sites = append(ev.Sites, host)
	}
	if len(problems) > 0 {
		more := ""
		if len(problems) > maxProblems {
			more = fmt.Sprintf("; and %d more", len(problems)-maxProblems)
			problems = problems[:maxProblems]
		}
		return Event{}, errors.New(strings.Join(problems, "; ") + more)
	}
	ev.URLs, ev.Prefixes, ev.Tags, ev.Sites = dedupe(ev.URLs), dedupe(ev.Prefixes), dedupe(ev.Tags), dedupe(ev.Sites)
	return ev, nil
}

// url checks an absolute http(s) URL and returns it as a primary cache
// key (cache.PrimaryKey: scheme and host lower-cased, default port
// dropped, query kept as given, fragment dropped).
func (c checker) url(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("%q is not an absolute http or https URL", raw)
	}
	if u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("%q has no plain host", raw)
	}
	key := cache.PrimaryKey(scheme, u.Host, u.EscapedPath(), u.RawQuery, cache.KeyOptions{})
	if c.validURL != nil {
		if err := c.validURL(key); err != nil {
			return "", fmt.Errorf("%q: %w", raw, err)
		}
	}
	return key, nil
}

// site checks a site host and returns it lower-cased without a final dot.
func (c checker) site(raw string) (string, error) {
	host := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(raw), "."))
	if host == "" {
		return "", errors.New("empty site host")
	}
	if strings.ContainsAny(host, "/:@?#* \t") {
		return "", fmt.Errorf("%q is not a site host such as assets.example.com", raw)
	}
	if c.validSite != nil {
		if err := c.validSite(host); err != nil {
			return "", fmt.Errorf("%q: %w", raw, err)
		}
	}
	return host, nil
}

// checkTag accepts a surrogate key: 1-256 bytes of printable UTF-8 without
// spaces (Surrogate-Key separates keys by spaces).
func checkTag(t string) error {
	if t == "" {
		return errors.New("empty tag")
	}
	if len(t) > maxTagBytes {
		return fmt.Errorf("tag of %d bytes; at most %d", len(t), maxTagBytes)
	}
	if !utf8.ValidString(t) {
		return fmt.Errorf("tag %q is not UTF-8", t)
	}
	for _, r := range t {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("tag %q holds a space or control character", t)
		}
	}
	return nil
}

func dedupe(in []string) []string {
	if len(in) < 2 {
		return in
	}
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
