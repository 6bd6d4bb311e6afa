package origin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestSeedChangesContent(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, ts := startServer(t, Config{Now: clock.now})
	u := ts.URL + "/gen/s?size=100"
	r0, b0 := get(t, u)
	other0, _ := get(t, ts.URL+"/gen/t?size=100")

	clock.t = clock.t.Add(time.Hour)
	res, body := fetch(t, http.MethodPost, ts.URL+"/_origin/seed?value=7")
	var sj seedJSON
	if err := json.Unmarshal(body, &sj); res.StatusCode != 200 || err != nil || sj.Value != 7 {
		t.Fatalf("POST seed: status %d body %q (%v)", res.StatusCode, body, err)
	}
	r1, b1 := get(t, u)
	if bytes.Equal(b0, b1) || r0.Header.Get("ETag") == r1.Header.Get("ETag") {
		t.Error("global seed did not change body and ETag")
	}
	if r0.Header.Get("Repr-Digest") == r1.Header.Get("Repr-Digest") {
		t.Error("global seed did not change Repr-Digest")
	}
	// Last-Modified moves to when the seed was set, so a revalidation with
	// If-Modified-Since alone sees the change too.
	if got, want := r1.Header.Get("Last-Modified"), clock.t.Format(http.TimeFormat); got != want {
		t.Errorf("Last-Modified after seed %q, want %q", got, want)
	}
	res, _ = get(t, u, "If-None-Match", r0.Header.Get("ETag"))
	if res.StatusCode != 200 {
		t.Errorf("revalidation with the old ETag: status %d, want 200", res.StatusCode)
	}
	res, _ = get(t, u, "If-Modified-Since", r0.Header.Get("Last-Modified"))
	if res.StatusCode != 200 {
		t.Errorf("revalidation with the old Last-Modified: status %d, want 200", res.StatusCode)
	}

	// Back to 0: the original content again.
	fetch(t, http.MethodPost, ts.URL+"/_origin/seed?value=0")
	r2, b2 := get(t, u)
	if !bytes.Equal(b0, b2) || r0.Header.Get("ETag") != r2.Header.Get("ETag") {
		t.Error("seed 0 did not restore the original content")
	}

	// Per-path override: only that object changes.
	fetch(t, http.MethodPost, ts.URL+"/_origin/seed?path=/gen/s&value=99")
	r3, _ := get(t, u)
	other3, _ := get(t, ts.URL+"/gen/t?size=100")
	if r3.Header.Get("ETag") == r0.Header.Get("ETag") {
		t.Error("per-path seed did not change its object")
	}
	if other3.Header.Get("ETag") != other0.Header.Get("ETag") {
		t.Error("per-path seed changed another object")
	}
	_, body = get(t, ts.URL+"/_origin/seed")
	sj = seedJSON{}
	if err := json.Unmarshal(body, &sj); err != nil || sj.Paths["/gen/s"] != 99 {
		t.Errorf("GET seed: %q (%v)", body, err)
	}
	_, body = get(t, ts.URL+"/_origin/seed?path=/gen/s")
	sj = seedJSON{}
	if err := json.Unmarshal(body, &sj); err != nil || sj.Value != 99 || sj.Path != "/gen/s" {
		t.Errorf("GET seed?path: %q (%v)", body, err)
	}

	// DELETE with path drops the override.
	fetch(t, http.MethodDelete, ts.URL+"/_origin/seed?path=/gen/s")
	r4, _ := get(t, u)
	if r4.Header.Get("ETag") != r0.Header.Get("ETag") {
		t.Error("DELETE seed?path did not restore the global seed")
	}
}

func TestSeedAPIErrors(t *testing.T) {
	_, ts := startServer(t, Config{})
	for _, tc := range []struct {
		method, query string
		want          int
	}{
		{http.MethodPost, "", 400},
		{http.MethodPost, "?value=-1", 400},
		{http.MethodPost, "?value=x", 400},
		{http.MethodPost, "?path=/other&value=1", 400},
		{http.MethodPut, "?value=1", 405},
	} {
		res, _ := fetch(t, tc.method, ts.URL+"/_origin/seed"+tc.query)
		if res.StatusCode != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.query, res.StatusCode, tc.want)
		}
	}
}

func TestSeedMethods(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetSeed(5)
	if err := s.SetPathSeed("/gen/x", 6); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPathSeed("/x", 6); err == nil {
		t.Error("SetPathSeed outside /gen/: no error")
	}
	if s.Seed("") != 5 || s.Seed("/gen/x") != 6 || s.Seed("/gen/y") != 5 {
		t.Errorf("Seed: global %d, /gen/x %d, /gen/y %d", s.Seed(""), s.Seed("/gen/x"), s.Seed("/gen/y"))
	}
}
