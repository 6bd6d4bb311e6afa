package loadtest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// syntheticReport is what Run reports for a 30-second open-loop run at
// 1000 req/s: 30 whole seconds with a hit ratio near 90% and a steady p50,
// then the 0.05 s in which the last requests completed, 12 slow misses.
func syntheticReport() *Report {
	rep := &Report{
		Mode: "http", Proto: "h1", Targets: []string{"http://cdn.test"},
		Workload: "Zipf(s=1) over 10000 objects", Loop: "open", TargetRate: 1000, Concurrency: 64,
		Started: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), ElapsedSeconds: 30.05,
		StopReason: "duration 30s reached",
	}
	for i := range 30 {
		s := Sample{Second: i, Span: 1, Requests: 1000 + int64(i%3)*10, Errors: int64(i % 2),
			P50: 10 + float64(i%4)*0.25, P99: 40 + float64(i%5), Max: 80, CacheResponses: 1000, Hits: 900 + int64(i%3)*5}
		rep.Series = append(rep.Series, s)
	}
	rep.Series = append(rep.Series, Sample{Second: 30, Span: 0.05, Requests: 12, P50: 480, P99: 900, Max: 950, CacheResponses: 12})
	finishSeries(rep)
	rep.Total = syntheticGroup("", rep.Series, rep.ElapsedSeconds, 1, 1)
	rep.Offload = &Offload{URL: "http://origin.test/_origin/stats", Before: 100, After: 3100,
		OriginRequests: 3000, ClientRequests: rep.Total.Requests, Ratio: 1 - 3000/float64(rep.Total.Requests)}
	return rep
}

// finishSeries fills in what follows from the counts: bytes, hit ratios.
func finishSeries(rep *Report) {
	for i := range rep.Series {
		s := &rep.Series[i]
		s.Bytes = (s.Requests - s.Errors) * 1024
		if s.CacheResponses > 0 {
			s.HitRatio = float64(s.Hits) / float64(s.CacheResponses)
		}
	}
}

// syntheticGroup sums a share of the samples into a group whose latency
// distribution is scaled by slow.
func syntheticGroup(name string, series []Sample, elapsed, share, slow float64) Group {
	g := Group{Name: name, Statuses: map[string]int64{}, Protocols: map[string]int64{}}
	for _, s := range series {
		g.Requests += s.Requests
		g.Errors += s.Errors
		g.Cache.Responses += s.CacheResponses
		g.Cache.Hits += s.Hits
	}
	g.Requests = int64(float64(g.Requests) * share)
	g.Errors = int64(float64(g.Errors) * share)
	g.Cache.Responses = int64(float64(g.Cache.Responses) * share)
	g.Cache.Hits = int64(float64(g.Cache.Hits) * share)
	g.Cache.Misses = g.Cache.Responses - g.Cache.Hits
	g.Cache.HitRatio = float64(g.Cache.Hits) / float64(g.Cache.Responses)
	g.Responses = g.Requests
	g.Statuses["200"] = g.Requests - g.Errors
	g.Statuses["503"] = g.Errors
	g.Protocols["HTTP/1.1"] = g.Requests
	if g.Errors > 0 {
		g.ErrorsByKind = map[string]int64{"status_5xx": g.Errors}
	}
	g.BytesReceived = (g.Requests - g.Errors) * 1024
	g.Throughput = float64(g.Requests) / elapsed
	g.Bandwidth = float64(g.BytesReceived) / elapsed
	g.Latency = syntheticLatency(g.Responses, slow)
	return g
}

// syntheticLatency is a heavy-tailed distribution: the latency at
// percentile p is about 10 ms × (1/(1-p))^0.35, times slow.
func syntheticLatency(count int64, slow float64) Latency {
	at := func(p float64) float64 {
		if p >= 100 {
			return 800 * slow
		}
		return math.Round(10*slow*math.Pow(1/(1-p/100), 0.35)*1000) / 1000
	}
	l := Latency{Count: count, Min: at(0), Max: at(100), Mean: 14 * slow, StdDev: 9 * slow,
		P50: at(50), P90: at(90), P99: at(99), P999: at(99.9)}
	for _, p := range percentileLadder {
		l.Distribution = append(l.Distribution, Quantile{Percentile: p, Ms: at(p)})
	}
	return l
}

// withRegions adds one region per name and a PoP of the same name that
// served exactly its clients.
func withRegions(rep *Report, names ...string) *Report {
	for i, n := range names {
		g := syntheticGroup(n, rep.Series, rep.ElapsedSeconds, 1/float64(len(names)), 0.8+0.15*float64(i))
		rep.Regions = append(rep.Regions, g)
		rep.PoPs = append(rep.PoPs, g)
	}
	return rep
}

func renderHTML(t *testing.T, rep *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// svgEl is an element of a chart, in document order.
type svgEl struct {
	name  string
	attr  map[string]string
	text  string
	after *svgEl // the grid line a tick label follows
}

func (e *svgEl) f(name string) float64 {
	v, err := strconv.ParseFloat(e.attr[name], 64)
	if err != nil {
		panic(fmt.Sprintf("<%s %s=%q>: %v", e.name, name, e.attr[name], err))
	}
	return v
}

// svgChart is one parsed chart.
type svgChart struct {
	title string
	w, h  float64
	els   []*svgEl
}

var svgRE = regexp.MustCompile(`(?s)<svg class="chart".*?</svg>`)

// parseCharts parses the charts of a page.
func parseCharts(t *testing.T, page string) map[string]*svgChart {
	t.Helper()
	charts := map[string]*svgChart{}
	for _, src := range svgRE.FindAllString(page, -1) {
		c := &svgChart{}
		dec := xml.NewDecoder(strings.NewReader(src))
		dec.Strict = false
		var open *svgEl
		var lastLine *svgEl
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart does not parse: %v\n%s", err, src)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				e := &svgEl{name: tok.Name.Local, attr: map[string]string{}}
				for _, a := range tok.Attr {
					e.attr[a.Name.Local] = a.Value
				}
				switch e.name {
				case "svg":
					vb := strings.Fields(e.attr["viewBox"])
					c.w, _ = strconv.ParseFloat(vb[2], 64)
					c.h, _ = strconv.ParseFloat(vb[3], 64)
					c.title = e.attr["aria-label"]
					continue
				case "line":
					lastLine = e
				case "text":
					e.after = lastLine
					lastLine = nil
				}
				c.els = append(c.els, e)
				open = e
			case xml.CharData:
				if open != nil && open.name == "text" {
					open.text += string(tok)
				}
			case xml.EndElement:
				open = nil
			}
		}
		charts[c.title] = c
	}
	return charts
}

func chartNamed(t *testing.T, charts map[string]*svgChart, title string) *svgChart {
	t.Helper()
	c := charts[title]
	if c == nil {
		t.Fatalf("no chart %q", title)
	}
	return c
}

func (c *svgChart) find(name, class string) []*svgEl {
	var out []*svgEl
	for _, e := range c.els {
		if e.name == name && (class == "" || e.attr["class"] == class) {
			out = append(out, e)
		}
	}
	return out
}

// axis is the x axis line; a bar chart has none.
func (c *svgChart) axis() *svgEl {
	if a := c.find("line", "axis"); len(a) > 0 {
		return a[0]
	}
	return nil
}

// ticks returns the labels that follow grid lines of the class ("grid"
// for y ticks, "grid minor" for x ticks), with the lines.
func (c *svgChart) ticks(class string) []*svgEl {
	var out []*svgEl
	for _, e := range c.find("text", "tick") {
		if e.after != nil && e.after.attr["class"] == class {
			out = append(out, e)
		}
	}
	return out
}

// A rough estimate of text extents, on the narrow side of common UI fonts:
// boxes that overlap here overlap on screen too. (The browser test checks
// the real extents.)
func estWidth(s string, size float64, bold bool) float64 {
	w := 0.55 * size * float64(len([]rune(s)))
	if bold {
		w *= 1.1
	}
	return w
}

type rect struct {
	what           string
	x0, y0, x1, y1 float64
}

func (a rect) String() string {
	return fmt.Sprintf("%s [%.1f,%.1f – %.1f,%.1f]", a.what, a.x0, a.y0, a.x1, a.y1)
}

func textRect(what, s string, x, baseline float64, anchor string, size float64, bold bool) rect {
	w := estWidth(s, size, bold)
	switch anchor {
	case "middle":
		x -= w / 2
	case "end":
		x -= w
	}
	return rect{what, x, baseline - 0.8*size, x + w, baseline + 0.2*size}
}

// parts lists the boxes of everything in a chart that must not overlap:
// the title, the legend keys, tick and axis labels, bars and the plot area.
func (c *svgChart) parts() []rect {
	var out []rect
	for _, e := range c.els {
		x, y := 0.0, 0.0
		if e.name == "text" && e.attr["transform"] == "" {
			x, y = e.f("x"), e.f("y")
		}
		switch {
		case e.name == "text" && e.attr["class"] == "title":
			out = append(out, textRect("title "+e.text, e.text, x, y, "start", 14, true))
		case e.name == "text" && e.attr["class"] == "legend":
			// The colour bar sits 17 units left of the name.
			r := textRect("legend "+e.text, e.text, x, y, "start", 11.5, false)
			r.x0 -= 17
			out = append(out, r)
		case e.name == "text" && e.attr["class"] == "tick":
			out = append(out, textRect("tick "+e.text, e.text, x, y, e.attr["text-anchor"], 11, false))
		case e.name == "text" && e.attr["class"] == "value":
			out = append(out, textRect("value "+e.text, e.text, x, y, "start", 13, true))
		case e.name == "text" && e.attr["class"] == "label" && e.attr["transform"] != "":
			var tx, ty float64
			if _, err := fmt.Sscanf(e.attr["transform"], "translate(%g %g)", &tx, &ty); err != nil {
				panic(err)
			}
			w := estWidth(e.text, 11.5, false)
			out = append(out, rect{"y label " + e.text, tx - 0.8*11.5, ty - w/2, tx + 0.2*11.5, ty + w/2})
		case e.name == "text" && e.attr["class"] == "label":
			out = append(out, textRect("x label "+e.text, e.text, x, y, e.attr["text-anchor"], 11.5, false))
		case e.name == "rect" && e.attr["fill"] == "#eef1f5":
			out = append(out, rect{"bar", e.f("x"), e.f("y"), e.f("x") + e.f("width"), e.f("y") + e.f("height")})
		}
	}
	if a := c.axis(); a != nil {
		top := a.f("y1")
		for _, g := range c.find("line", "grid") {
			top = math.Min(top, g.f("y1"))
		}
		out = append(out, rect{"plot", a.f("x1"), top, a.f("x2"), a.f("y1")})
	}
	return out
}

// checkLayout fails unless every part of every chart lies inside its
// picture and no two parts overlap.
func checkLayout(t *testing.T, charts map[string]*svgChart) {
	t.Helper()
	for _, c := range charts {
		ps := c.parts()
		for i, a := range ps {
			if a.x0 < -0.01 || a.y0 < -0.01 || a.x1 > c.w+0.01 || a.y1 > c.h+0.01 {
				t.Errorf("%s: %v is outside the %gx%g picture", c.title, a, c.w, c.h)
			}
			for _, b := range ps[i+1:] {
				if a.x0 < b.x1-0.01 && b.x0 < a.x1-0.01 && a.y0 < b.y1-0.01 && b.y0 < a.y1-0.01 {
					t.Errorf("%s: %v overlaps %v", c.title, a, b)
				}
			}
		}
	}
}

// Defect: the percentile chart's title overlapped its legend, which ran
// off the left edge with many regions. No chart's title, legend, labels
// and plot area may overlap.
func TestHTMLChartLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *Report
	}{
		{"one-region", syntheticReport()},
		{"two-regions", withRegions(syntheticReport(), "eu", "us")},
		{"many-regions", withRegions(syntheticReport(), "eu-west", "eu-central", "us-east", "us-west", "ap-southeast", "sa-east", "af-south")},
		{"long-names", withRegions(syntheticReport(), "frankfurt-am-main-1", "north-virginia-ashburn", "singapore-jurong-west")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			charts := parseCharts(t, renderHTML(t, tc.rep))
			if len(charts) < 5 {
				t.Fatalf("%d charts", len(charts))
			}
			checkLayout(t, charts)
			if t.Failed() {
				return
			}
			// Every region has its line and its legend key.
			want := 1
			if len(tc.rep.Regions) > 1 {
				want += len(tc.rep.Regions)
			}
			if got := len(chartNamed(t, charts, "Latency by percentile").find("text", "legend")); got != want {
				t.Errorf("percentile legend has %d keys, want %d", got, want)
			}
		})
	}
}

// xScale returns the x ticks' values and the picture x of value v,
// interpolated from the first and last tick.
func xScale(t *testing.T, c *svgChart, parse func(string) (float64, error)) (vals []float64, at func(float64) float64) {
	t.Helper()
	ts := c.ticks("grid minor")
	if len(ts) < 2 {
		t.Fatalf("%s: %d x ticks", c.title, len(ts))
	}
	for _, e := range ts {
		v, err := parse(e.text)
		if err != nil {
			t.Fatalf("%s: x tick %q: %v", c.title, e.text, err)
		}
		vals = append(vals, v)
	}
	x0, x1 := ts[0].after.f("x1"), ts[len(ts)-1].after.f("x1")
	v0, v1 := vals[0], vals[len(vals)-1]
	return vals, func(v float64) float64 { return x0 + (v-v0)/(v1-v0)*(x1-x0) }
}

func parseSeconds(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	return d.Seconds(), err
}

// Defect: a 30 s run's time axes ran to 40 s. They end at the run's
// duration; no tick lies beyond it.
func TestHTMLTimeAxisEndsAtDuration(t *testing.T) {
	for _, d := range []float64{30.05, 1.2, 7.3, 59.9, 95, 3725.5} {
		t.Run(strconv.FormatFloat(d, 'g', -1, 64), func(t *testing.T) {
			rep := syntheticReport()
			rep.ElapsedSeconds = d
			var series []Sample
			for i := 0; float64(i) < d; i++ {
				s := rep.Series[i%30]
				s.Second, s.Span = i, math.Min(1, d-float64(i))
				series = append(series, s)
			}
			rep.Series = series
			charts := parseCharts(t, renderHTML(t, rep))
			for _, title := range []string{"Throughput over time", "Latency over time", "Hit ratio over time"} {
				c := chartNamed(t, charts, title)
				vals, at := xScale(t, c, parseSeconds)
				if last := vals[len(vals)-1]; last > d+1e-9 {
					t.Errorf("%s: tick %gs beyond the %gs run (ticks %v)", title, last, d, vals)
				}
				if len(vals) < 3 || len(vals) > 9 {
					t.Errorf("%s: %d ticks %v", title, len(vals), vals)
				}
				if end := c.axis().f("x2"); math.Abs(at(d)-end) > 0.6 {
					t.Errorf("%s: the axis ends at x=%.1f, the run's end (%gs) is at x=%.1f (ticks %v)", title, end, d, at(d), vals)
				}
			}
			// The target rate is drawn over the whole run, no further.
			c := chartNamed(t, charts, "Throughput over time")
			for _, p := range c.find("path", "") {
				if p.attr["stroke"] == "#94a3b8" {
					pts := pathPoints(t, p.attr["d"])
					if end := c.axis().f("x2"); math.Abs(pts[len(pts)-1][0]-end) > 0.6 {
						t.Errorf("the target line ends at x=%.1f, the axis at %.1f", pts[len(pts)-1][0], end)
					}
				}
			}
		})
	}
}

func pathPoints(t *testing.T, d string) [][2]float64 {
	t.Helper()
	f := strings.Fields(strings.NewReplacer("M", " ", "L", " ", "Z", " ").Replace(d))
	if len(f)%2 != 0 {
		t.Fatalf("path %q has an odd number of coordinates", d)
	}
	var pts [][2]float64
	for i := 0; i < len(f); i += 2 {
		x, errX := strconv.ParseFloat(f[i], 64)
		y, errY := strconv.ParseFloat(f[i+1], 64)
		if errX != nil || errY != nil {
			t.Fatalf("path %q: %v %v", d, errX, errY)
		}
		pts = append(pts, [2]float64{x, y})
	}
	return pts
}

// Tick labels of counts keep three digits: 1250 is 1.25k, not 1.2k.
func TestCompactLabels(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 7: "7", 2.5: "2.5", 950: "950", 1000: "1k", 1250: "1.25k",
		12500: "12.5k", 125000: "125k", 3.2e6: "3.2M"} {
		if got := compact(v); got != want {
			t.Errorf("compact(%g) = %q, want %q", v, got, want)
		}
	}
}

// parseTick reads back a y tick label: 0, 250 µs, 12 ms, 1.5 s, 75%, 1.2k.
func parseTick(s string) (float64, error) {
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{" µs", 0.001}, {" ms", 1}, {" s", 1000}, {"%", 1}, {"k", 1e3}, {"M", 1e6}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	return v * mult, err
}

// lineValues returns the data values (y) of the line drawn in colour.
func lineValues(t *testing.T, c *svgChart, color string) []float64 {
	t.Helper()
	ts := c.ticks("grid")
	if len(ts) < 2 {
		t.Fatalf("%s: %d y ticks", c.title, len(ts))
	}
	v0, err0 := parseTick(ts[0].text)
	v1, err1 := parseTick(ts[len(ts)-1].text)
	if err0 != nil || err1 != nil {
		t.Fatalf("%s: y ticks %q, %q", c.title, ts[0].text, ts[len(ts)-1].text)
	}
	y0, y1 := ts[0].after.f("y1"), ts[len(ts)-1].after.f("y1")
	var vals []float64
	for _, p := range c.find("path", "") {
		if p.attr["stroke"] == color && p.attr["fill"] == "none" {
			for _, pt := range pathPoints(t, p.attr["d"]) {
				vals = append(vals, v0+(pt[1]-y0)/(y1-y0)*(v1-v0))
			}
		}
	}
	if len(vals) == 0 {
		t.Fatalf("%s: no line in %s", c.title, color)
	}
	return vals
}

// checkRange fails unless every value is within [lo, hi].
func checkRange(t *testing.T, what string, vals []float64, lo, hi float64) {
	t.Helper()
	for _, v := range vals {
		if v < lo || v > hi {
			t.Errorf("%s: %.4g drawn, outside %g..%g (all: %.4g)", what, v, lo, hi, vals)
			return
		}
	}
}

// Defect: the last second, cut short by the end of the run, made the hit
// ratio dip and the p50 jump. Incomplete seconds at either end are not
// drawn; a dip in the middle of the run still is.
func TestHTMLIncompleteSecondsNotDrawn(t *testing.T) {
	check := func(t *testing.T, rep *Report, points int) {
		t.Helper()
		charts := parseCharts(t, renderHTML(t, rep))
		hits := lineValues(t, chartNamed(t, charts, "Hit ratio over time"), colorHit)
		checkRange(t, "hit ratio", hits, 89, 92)
		lat := chartNamed(t, charts, "Latency over time")
		checkRange(t, "p50", lineValues(t, lat, palette[0]), 9.5, 11.5)
		checkRange(t, "p99", lineValues(t, lat, palette[1]), 39, 45)
		thr := chartNamed(t, charts, "Throughput over time")
		checkRange(t, "requests/s", lineValues(t, thr, palette[0]), 990, 1030)
		if len(hits) != points {
			t.Errorf("%d hit ratio points, want %d", len(hits), points)
		}
	}
	t.Run("last-second-cut-short", func(t *testing.T) {
		check(t, syntheticReport(), 30)
	})
	t.Run("drain-longer-than-a-second", func(t *testing.T) {
		// Slow requests still in flight at the end took two more whole
		// seconds, then 0.4 s, to complete.
		rep := syntheticReport()
		rep.Series = rep.Series[:30]
		for i, n := range []int64{20, 9, 3} {
			rep.Series = append(rep.Series, Sample{Second: 30 + i, Span: 1, Requests: n, P50: 2000, P99: 4000, Max: 4100, CacheResponses: n})
		}
		rep.Series[len(rep.Series)-1].Span = 0.4
		rep.ElapsedSeconds = 32.4
		finishSeries(rep)
		check(t, rep, 30)
	})
	t.Run("first-second-incomplete", func(t *testing.T) {
		rep := syntheticReport()
		rep.Series[0] = Sample{Second: 0, Span: 0.3, Requests: 40, P50: 300, P99: 700, Max: 700, CacheResponses: 40, Hits: 4}
		finishSeries(rep)
		check(t, rep, 29)
	})
	t.Run("dip-in-the-middle-is-drawn", func(t *testing.T) {
		rep := syntheticReport()
		rep.Series[15] = Sample{Second: 15, Span: 1, Requests: 100, P50: 10, P99: 41, Max: 50, CacheResponses: 100, Hits: 50}
		finishSeries(rep)
		charts := parseCharts(t, renderHTML(t, rep))
		hits := lineValues(t, chartNamed(t, charts, "Hit ratio over time"), colorHit)
		if len(hits) != 30 || math.Abs(hits[15]-50) > 1 {
			t.Errorf("the second with a 50%% hit ratio is not drawn: %.3g", hits)
		}
	})
}

var rowRE = regexp.MustCompile(`<tr><td>([^<]*)</td>((?:<td>[^<]*</td>)*)</tr>`)

// tableRows returns the region and PoP table's rows: label and cells.
func tableRows(page string) (labels []string, cells [][]string) {
	for _, m := range rowRE.FindAllStringSubmatch(page, -1) {
		labels = append(labels, strings.ReplaceAll(m[1], "&amp;", "&"))
		cells = append(cells, strings.Split(strings.TrimSuffix(strings.TrimPrefix(m[2], "<td>"), "</td>"), "</td><td>"))
	}
	return labels, cells
}

// flatLatency is a distribution where every response took ms.
func flatLatency(count int64, ms float64) Latency {
	l := Latency{Count: count, Min: ms, Mean: ms, P50: ms, P90: ms, P99: ms, P999: ms, Max: ms}
	for _, p := range percentileLadder {
		l.Distribution = append(l.Distribution, Quantile{Percentile: p, Ms: ms})
	}
	return l
}

// Defect: identical region and PoP rows repeated in the tables. Each row
// is unique: a region and the PoP that served exactly its clients share
// one, a group listed twice is shown once, and parts of one group are
// merged.
func TestHTMLGroupRowsUnique(t *testing.T) {
	rep := syntheticReport()
	eu := syntheticGroup("eu", rep.Series, rep.ElapsedSeconds, 0.5, 1)
	us := syntheticGroup("us", rep.Series, rep.ElapsedSeconds, 0.3, 1.2)
	usPoP := syntheticGroup("us", rep.Series, rep.ElapsedSeconds, 0.2, 1.1)
	ap1 := Group{Name: "ap", Requests: 150, Responses: 150, Throughput: 5, Latency: flatLatency(150, 10),
		Statuses: map[string]int64{"200": 150}, Cache: Cache{Responses: 150, Hits: 150, HitRatio: 1}}
	ap2 := Group{Name: "ap", Requests: 50, Responses: 50, Throughput: 50 / 30.05, Latency: flatLatency(50, 20),
		Statuses: map[string]int64{"200": 50}, Cache: Cache{Responses: 50, Misses: 50}}
	rep.Regions = []Group{eu, us, eu, ap1, ap2}
	rep.PoPs = []Group{eu, usPoP, usPoP}
	page := renderHTML(t, rep)

	labels, cells := tableRows(page)
	seen := map[string]bool{}
	byName := map[string][]string{}
	for i, l := range labels {
		if seen[l] {
			t.Errorf("row %q appears twice: %q", l, labels)
		}
		seen[l] = true
		f := strings.Fields(l)
		name := f[len(f)-1]
		key := strings.Join(cells[i], "|")
		for _, other := range byName[name] {
			if other == key {
				t.Errorf("two rows for %s with the same figures %v: %q", name, cells[i], labels)
			}
		}
		byName[name] = append(byName[name], key)
	}
	if t.Failed() {
		return
	}
	want := []string{"region & PoP eu", "region us", "region ap", "PoP us"}
	if strings.Join(labels, ",") != strings.Join(want, ",") {
		t.Errorf("rows %q, want %q", labels, want)
	}
	// The two parts of region ap are merged: 200 requests, p50 10 ms
	// (three quarters took 10 ms), p90 20 ms, hit ratio 75%.
	for i, l := range labels {
		if l != "region ap" {
			continue
		}
		c := cells[i]
		if c[0] != "200" || c[3] != "10.00ms" || c[4] != "20.00ms" || c[8] != "75.00%" {
			t.Errorf("merged region ap: %q", c)
		}
	}

	// The bars and the percentile legend have one entry per row too.
	charts := parseCharts(t, page)
	var bars []string
	for _, e := range chartNamed(t, charts, "Hit ratio per region").find("text", "tick") {
		bars = append(bars, e.text)
	}
	if want := append(want, "all"); strings.Join(bars, ",") != strings.Join(want, ",") {
		t.Errorf("bars %q, want %q", bars, want)
	}
	var keys []string
	for _, e := range chartNamed(t, charts, "Latency by percentile").find("text", "legend") {
		keys = append(keys, e.text)
	}
	if strings.Join(keys, ",") != "all,eu,us,ap" {
		t.Errorf("percentile legend %q, want all, eu, us, ap", keys)
	}

	// The text report's tables too.
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(buf.String(), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && (f[0] == "region" || f[0] == "PoP") && f[1] == "requests" {
			names = append(names, "|"+f[0])
		} else if len(names) > 0 && len(f) > 1 {
			if _, err := strconv.Atoi(f[1]); err == nil {
				names = append(names, f[0])
			}
		}
	}
	if got := strings.Join(names, ","); got != "|region,eu,us,ap,|PoP,eu,us" {
		t.Errorf("text tables list %s, want |region,eu,us,ap,|PoP,eu,us\n%s", got, buf.String())
	}
}
