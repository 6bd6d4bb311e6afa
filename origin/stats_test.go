package origin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func readStats(t *testing.T, base string) Stats {
	t.Helper()
	res, body := get(t, base+"/_origin/stats")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("stats: status %d Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var st Stats
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("stats JSON %q: %v", body, err)
	}
	return st
}

func TestStatsCountAndReset(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, ts := startServer(t, Config{Registerer: reg})
	get(t, ts.URL+"/gen/a?size=10")
	get(t, ts.URL+"/gen/a?size=20")
	first, _ := get(t, ts.URL+"/gen/b?size=5")
	get(t, ts.URL+"/gen/b?size=5", "If-None-Match", first.Header.Get("ETag"))
	get(t, ts.URL+"/style.css")
	// Not counted: health and admin.
	get(t, ts.URL+"/healthz")
	get(t, ts.URL+"/_origin/seed")

	st := readStats(t, ts.URL)
	want := map[string]int64{"/gen/a": 2, "/gen/b": 2, "/style.css": 1}
	if st.Total != 5 || st.Conditional != 1 || st.NotModified != 1 {
		t.Errorf("total %d conditional %d not_modified %d; want 5 1 1", st.Total, st.Conditional, st.NotModified)
	}
	if len(st.Paths) != len(want) {
		t.Errorf("paths %v, want %v", st.Paths, want)
	}
	for p, n := range want {
		if st.Paths[p] != n {
			t.Errorf("paths[%s] = %d, want %d", p, st.Paths[p], n)
		}
	}
	// Status metrics are recorded when a response ends, which the client
	// may see a moment before the handler returns: poll briefly.
	var n304 float64
	for i := 0; i < 1000; i++ {
		if n304 = counterValue(t, reg, "origin_requests_total", "304"); n304 == 1 {
			break
		}
		waitABit()
	}
	if n304 != 1 {
		t.Errorf(`origin_requests_total{code="304"} = %v, want 1`, n304)
	}

	res, _ := fetch(t, http.MethodPost, ts.URL+"/_origin/stats/reset")
	if res.StatusCode != http.StatusNoContent {
		t.Errorf("reset: status %d", res.StatusCode)
	}
	st = readStats(t, ts.URL)
	if st.Total != 0 || len(st.Paths) != 0 || st.Conditional != 0 || st.Bytes != 0 {
		t.Errorf("after reset: %+v", st)
	}
	res, _ = get(t, ts.URL+"/_origin/stats/reset")
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET reset: status %d, want 405", res.StatusCode)
	}
}

func TestStatsBytes(t *testing.T) {
	s, ts := startServer(t, Config{})
	get(t, ts.URL+"/gen/x?size=1000")
	get(t, ts.URL+"/gen/x?size=1000", "Range", "bytes=0-99")
	// The handler adds the bytes after its last write; poll briefly.
	var got int64
	for i := 0; i < 1000; i++ {
		if got = s.Stats().Bytes; got == 1100 {
			break
		}
		waitABit()
	}
	if got != 1100 {
		t.Errorf("bytes = %d, want 1100", got)
	}
}

func TestStatsPathsBounded(t *testing.T) {
	c := counters{maxPaths: 100}
	for i := range 110 {
		c.countPath("/p" + strconv.Itoa(i))
	}
	c.countPath("/p1")
	st := c.snapshot()
	if len(st.Paths) != 101 || st.Paths[OtherPaths] != 10 || st.Paths["/p1"] != 2 {
		t.Errorf("%d paths, %d other, /p1 %d; want 101, 10, 2", len(st.Paths), st.Paths[OtherPaths], st.Paths["/p1"])
	}
}

func TestHealthz(t *testing.T) {
	_, ts := startServer(t, Config{})
	res, body := get(t, ts.URL+"/healthz")
	if res.StatusCode != 200 || string(body) != "ok" {
		t.Errorf("healthz: %d %q", res.StatusCode, body)
	}
}

func TestAdminNotFound(t *testing.T) {
	_, ts := startServer(t, Config{})
	res, _ := get(t, ts.URL+"/_origin/nope")
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("status %d", res.StatusCode)
	}
}

// counterValue reads one labelled counter from a registry; 0 if absent.
func counterValue(t *testing.T, reg *prometheus.Registry, name, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() == code {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Error("second server on one registry: no error")
	}
	reg2 := prometheus.NewRegistry()
	for _, name := range []string{"a", "b"} {
		if _, err := New(Config{Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"origin": name}, reg2)}); err != nil {
			t.Errorf("registerer wrapped with origin=%s: %v", name, err)
		}
	}
}
