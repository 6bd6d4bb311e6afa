package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sampleReport runs a short open-loop load with hits and misses and origin
// stats, then copies the total into two region groups and a PoP group so
// the group sections render.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	f := &fakeCDN{seen: map[string]bool{}}
	edge := newServer(t, f.edge)
	origin := newServer(t, f.stats)
	cfg := baseConfig(edge)
	cfg.Rate = 300
	cfg.Requests = 0
	cfg.Duration = 1200 * time.Millisecond
	cfg.OriginStats = origin + "/_origin/stats"
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, b := rep.Total, rep.Total
	a.Name, b.Name = "eu", "us"
	rep.Regions = []Group{a, b}
	rep.PoPs = []Group{a}
	return rep
}

// TestReportWriters renders one run as JSON, HTML and text.
func TestReportWriters(t *testing.T) {
	rep := sampleReport(t)
	t.Run("json-round-trip", func(t *testing.T) { testJSONRoundTrip(t, rep) })
	t.Run("html", func(t *testing.T) { testHTMLReport(t, rep) })
	t.Run("text", func(t *testing.T) { testTextReport(t, rep) })
}

func testJSONRoundTrip(t *testing.T, rep *Report) {
	var first bytes.Buffer
	if err := rep.WriteJSON(&first); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(first.Bytes(), &back); err != nil {
		t.Fatalf("the JSON report does not parse: %v", err)
	}
	var second bytes.Buffer
	if err := back.WriteJSON(&second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("JSON changed through a round trip:\n%s\n---\n%s", first.String(), second.String())
	}
	if back.Total.Requests != rep.Total.Requests || len(back.Series) == 0 || back.Offload == nil ||
		back.Total.Latency.P99 != rep.Total.Latency.P99 || len(back.Total.Latency.Distribution) == 0 {
		t.Errorf("round trip lost data: %+v", back.Total)
	}
	for _, key := range []string{`"p99_9_ms"`, `"hit_ratio"`, `"throughput_rps"`, `"series"`, `"offload"`, `"regions"`, `"pops"`} {
		if !strings.Contains(first.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func testHTMLReport(t *testing.T, rep *Report) {
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if n := strings.Count(page, "<svg"); n < 5 {
		t.Errorf("%d charts, want throughput, latency over time, percentiles, hit ratio bars and hit ratio over time", n)
	}
	for _, title := range []string{"Throughput over time", "Latency over time", "Latency by percentile", "Hit ratio per region", "Hit ratio over time"} {
		if !strings.Contains(page, title) {
			t.Errorf("no chart %q", title)
		}
	}
	// Self-contained: nothing is fetched from anywhere.
	for _, ref := range []string{"<script", "<link", "src=", "href=", "@import", "url(", "xlink:"} {
		if strings.Contains(strings.ToLower(page), ref) {
			t.Errorf("page contains %q", ref)
		}
	}
	if !regexp.MustCompile(`<path d="M[0-9.]+ [0-9.]+ L`).MatchString(page) {
		t.Error("no plotted line in the charts")
	}
	// Region eu and PoP eu have the same figures: they share a row.
	if !strings.Contains(page, "<td>region &amp; PoP eu</td>") || !strings.Contains(page, "<td>region us</td>") {
		t.Error("no per-region and per-PoP rows")
	}
	if strings.Contains(page, "NaN") || strings.Contains(page, "Inf") {
		t.Error("NaN or Inf in the page")
	}
}

func TestHTMLReportEmptyRun(t *testing.T) {
	// A run with no response at all still renders.
	rep := &Report{Mode: "http", Targets: []string{"http://127.0.0.1:1"}, Loop: "closed", Series: []Sample{}}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "NaN") {
		t.Error("NaN in the page of an empty run")
	}
}

func testTextReport(t *testing.T, rep *Report) {
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"open loop at 300 req/s", "latency", "p99.9", "hit ratio", "offload", "region", "PoP", "eu", "us"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}
