package loadtest

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// palette colours series in order; chosen to stay apart for common colour
// blindness and to print well.
var palette = []string{"#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#475569"}

const (
	colorErr = "#dc2626"
	colorHit = "#16a34a"
)

// WriteHTML writes a self-contained HTML page: summary figures, inline SVG
// charts (throughput, latency over time, latency by percentile, hit ratio)
// and tables. It references nothing outside itself.
func (r *Report) WriteHTML(w io.Writer) error {
	regions, pops := uniqueGroups(r.Regions), uniqueGroups(r.PoPs)
	data := htmlData{R: r, T: r.Total}
	data.Cards = r.cards()
	data.Rows = groupRows(regions, pops)
	data.Charts = r.charts(regions, data.Rows)
	if err := reportTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

type htmlData struct {
	R      *Report
	T      Group
	Cards  []card
	Charts []template.HTML
	Rows   []groupRow
}

type card struct {
	Label, Value, Note string
	Bad                bool
}

func (r *Report) cards() []card {
	t := r.Total
	cs := []card{
		{Label: "Throughput", Value: fmtFloat(t.Throughput) + " req/s", Note: fmt.Sprintf("%d requests in %.1fs", t.Requests, r.ElapsedSeconds)},
		{Label: "p50 latency", Value: fmtMs(t.Latency.P50), Note: "mean " + fmtMs(t.Latency.Mean)},
		{Label: "p99 latency", Value: fmtMs(t.Latency.P99), Note: "p90 " + fmtMs(t.Latency.P90)},
		{Label: "p99.9 latency", Value: fmtMs(t.Latency.P999), Note: "max " + fmtMs(t.Latency.Max)},
		{Label: "Errors", Value: fmt.Sprintf("%.2f%%", pct(t.Errors, t.Requests)), Note: fmt.Sprintf("%d of %d", t.Errors, t.Requests), Bad: t.Errors > 0},
	}
	if t.Cache.Responses > 0 {
		cs = append(cs, card{Label: "Hit ratio", Value: fmt.Sprintf("%.1f%%", 100*t.Cache.HitRatio), Note: fmt.Sprintf("%d hits, %d misses", t.Cache.Hits, t.Cache.Misses)})
	}
	if o := r.Offload; o != nil && o.Error == "" {
		cs = append(cs, card{Label: "Origin offload", Value: fmt.Sprintf("%.1f%%", 100*o.Ratio), Note: fmt.Sprintf("origin saw %d requests", o.OriginRequests)})
	}
	if r.Mode == string(ModeHTTP) {
		cs = append(cs, card{Label: "Received", Value: humanBytes(float64(t.BytesReceived)), Note: humanBytes(t.Bandwidth) + "/s"})
	}
	return cs
}

// charts draws the report's charts; regions are r.Regions without
// duplicates and rows the rows of the region and PoP table.
func (r *Report) charts(regions []Group, rows []groupRow) []template.HTML {
	const w = 560
	var out []template.HTML
	// The time axes end where the measured part did.
	dur := r.duration()
	if !(dur > 0) {
		dur = 1
	}
	xTicks := timeTicks(dur, 7)
	samples, note := plottedSamples(r.Series)
	xLabel := "time since warmup"
	if note != "" {
		xLabel += "; " + note
	}

	// Throughput over time.
	var reqs, errs []point
	maxRate := 0.0
	for _, s := range samples {
		x := float64(s.Second) + 0.5
		reqs = append(reqs, point{x, float64(s.Requests) / s.Span})
		errs = append(errs, point{x, float64(s.Errors) / s.Span})
		maxRate = math.Max(maxRate, float64(s.Requests)/s.Span)
	}
	maxRate = math.Max(maxRate, r.TargetRate)
	yTicks, top := niceTicks(maxRate*1.05, 5, func(v float64) string { return compact(v) })
	lines := []series{{name: "requests/s", color: palette[0], pts: reqs, area: true}}
	if r.Total.Errors > 0 {
		lines = append(lines, series{name: "errors/s", color: colorErr, pts: errs})
	}
	if r.TargetRate > 0 && len(r.Series) > 0 {
		lines = append(lines, series{name: "target", color: "#94a3b8", dash: true, width: 1.5,
			pts: []point{{0, r.TargetRate}, {dur, r.TargetRate}}})
	}
	out = append(out, template.HTML(chart{
		title: "Throughput over time", w: w, xLabel: xLabel, yLabel: "requests per second",
		xMax: dur, yMax: top, xTicks: xTicks, yTicks: yTicks, lines: lines,
	}.svg()))

	// Latency over time.
	var p50, p99 []point
	maxLat := 0.0
	for _, s := range samples {
		if s.Requests-s.Errors <= 0 && s.P99 == 0 {
			continue
		}
		p50 = append(p50, point{float64(s.Second) + 0.5, s.P50})
		p99 = append(p99, point{float64(s.Second) + 0.5, s.P99})
		maxLat = math.Max(maxLat, s.P99)
	}
	yTicks, top = niceTicks(maxLat*1.05, 5, tickMs)
	out = append(out, template.HTML(chart{
		title: "Latency over time", w: w, xLabel: xLabel, yLabel: "latency",
		xMax: dur, yMax: top, xTicks: xTicks, yTicks: yTicks,
		lines: []series{{name: "p50", color: palette[0], pts: p50}, {name: "p99", color: palette[1], pts: p99}},
	}.svg()))

	// Latency by percentile, on the customary 1/(1-p) log axis so the tail
	// gets the room it deserves.
	pctLines := []series{{name: "all", color: palette[0], pts: percentilePoints(r.Total.Latency), width: 2.5}}
	if len(regions) > 1 && len(regions) <= len(palette)-1 {
		for i, g := range regions {
			pctLines = append(pctLines, series{name: g.Name, color: palette[i+1], pts: percentilePoints(g.Latency), width: 1.5, dash: true})
		}
	}
	maxLat = 0
	for _, l := range pctLines {
		for _, p := range l.pts {
			maxLat = math.Max(maxLat, p.y)
		}
	}
	yTicks, top = niceTicks(maxLat*1.05, 5, tickMs)
	var pTicks []tick
	for i, l := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"} {
		pTicks = append(pTicks, tick{float64(i), l})
	}
	out = append(out, template.HTML(chart{
		title: "Latency by percentile", w: w, xLabel: "percentile", yLabel: "latency",
		xMax: 5, yMax: top, xTicks: pTicks, yTicks: yTicks, lines: pctLines,
	}.svg()))

	// Hit ratio per region and PoP, and over time.
	if r.Total.Cache.Responses > 0 {
		var bars []bar
		for _, row := range rows {
			if g := row.G; g.Cache.Responses > 0 {
				bars = append(bars, bar{row.Label, g.Cache.HitRatio, fmt.Sprintf("%.1f%%", 100*g.Cache.HitRatio)})
			}
		}
		bars = append(bars, bar{"all", r.Total.Cache.HitRatio, fmt.Sprintf("%.1f%%", 100*r.Total.Cache.HitRatio)})
		out = append(out, template.HTML(barChart("Hit ratio per region", w, bars, colorHit)))

		var hits []point
		for _, s := range samples {
			if s.CacheResponses > 0 {
				hits = append(hits, point{float64(s.Second) + 0.5, 100 * float64(s.Hits) / float64(s.CacheResponses)})
			}
		}
		yTicks, _ = niceTicks(100, 4, func(v float64) string { return fmt.Sprintf("%g%%", v) })
		out = append(out, template.HTML(chart{
			title: "Hit ratio over time", w: w, xLabel: xLabel, yLabel: "hit ratio",
			xMax: dur, yMax: 100, xTicks: xTicks, yTicks: yTicks,
			lines: []series{{name: "hit ratio", color: colorHit, pts: hits, area: true}},
		}.svg()))
	}
	return out
}

// duration is the measured part's length in seconds, where the time axes
// end. Reports that lack it (assembled by hand) end at their last sample.
func (r *Report) duration() float64 {
	if r.ElapsedSeconds > 0 {
		return r.ElapsedSeconds
	}
	d := 0.0
	for _, s := range r.Series {
		d = math.Max(d, float64(s.Second)+s.Span)
	}
	return d
}

// plottedSamples returns the samples the time charts draw, and a note on
// those left out. A sample is one second of the run by completion time,
// and only whole seconds are drawn as points: the last one is nearly
// always cut short by the end of the run (and a first one could be, in a
// report assembled elsewhere), and its few results would make the lines
// dip or jump though nothing happened. Trailing seconds with fewer than
// half the requests of the median whole second are left out too: they
// hold only the requests still in flight when sending stopped, the
// slowest of the run. Seconds in between are always drawn, whatever their
// count: a dip there is what the charts are for.
func plottedSamples(all []Sample) (kept []Sample, note string) {
	var counts []int64
	for _, s := range all {
		if whole(s) {
			counts = append(counts, s.Requests)
		}
	}
	slices.Sort(counts)
	median := 0.0
	if n := len(counts); n > 0 {
		median = float64(counts[(n-1)/2]+counts[n/2]) / 2
	}
	end := len(all)
	trailing := 0.0
	for end > 0 && (!whole(all[end-1]) || float64(all[end-1].Requests) < median/2) {
		end--
		trailing += all[end].Span
	}
	leading := 0.0
	for _, s := range all[:end] {
		if whole(s) {
			kept = append(kept, s)
		} else if len(kept) == 0 {
			leading += s.Span
		}
	}
	var parts []string
	if leading > 0 {
		parts = append(parts, "first "+fmtSpan(leading))
	}
	if trailing > 0 {
		parts = append(parts, "last "+fmtSpan(trailing))
	}
	if len(parts) > 0 {
		note = strings.Join(parts, ", ") + " not drawn: incomplete"
	}
	return kept, note
}

// whole says s covers a whole second of the measured part.
func whole(s Sample) bool { return s.Span >= 1-1e-6 }

func fmtSpan(s float64) string {
	if s >= 10 {
		return fmt.Sprintf("%.0f s", s)
	}
	return strconv.FormatFloat(s, 'g', 2, 64) + " s"
}

// percentilePoints maps a latency distribution onto the 1/(1-p) axis:
// x = log10(1/(1-p)), so 90% is 1, 99% is 2 and so on.
func percentilePoints(l Latency) []point {
	var pts []point
	for _, q := range l.Distribution {
		if q.Percentile >= 100 {
			continue
		}
		x := math.Log10(1 / (1 - q.Percentile/100))
		if x > 5 {
			x = 5
		}
		pts = append(pts, point{x, q.Ms})
	}
	return pts
}

// compact formats a count briefly, to about three significant digits:
// 950, 1.25k, 12.5k, 3.2M.
func compact(v float64) string {
	suffix := ""
	switch {
	case v >= 1e6:
		v, suffix = v/1e6, "M"
	case v >= 1e3:
		v, suffix = v/1e3, "k"
	}
	decimals := 0
	switch {
	case v < 10:
		decimals = 2
	case v < 100:
		decimals = 1
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + suffix
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":     fmtMs,
	"num":    fmtFloat,
	"pct":    func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	"bytes":  func(n int64) string { return humanBytes(float64(n)) },
	"counts": fmtCounts,
	"upper":  strings.ToUpper,
	"join":   strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Load test: {{join .R.Targets ", "}}</title>
<style>
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff; --bad:#dc2626; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-variant-numeric: tabular-nums; }
main { max-width: 1180px; margin: 0 auto; padding: 32px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 17px; margin: 36px 0 12px; }
.sub { color: var(--muted); margin: 0 0 4px; }
.cards { display:grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; margin-top: 24px; }
.card { background: var(--card); border:1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .06em; }
.card .value { font-size: 24px; font-weight: 650; margin: 2px 0; }
.card .note { color: var(--muted); font-size: 13px; }
.card.bad .value { color: var(--bad); }
.charts { display:grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
.panel { background: var(--card); border:1px solid var(--line); border-radius: 10px; padding: 12px 12px 4px; }
svg.chart { width: 100%; height: auto; display:block; font-family: inherit; }
svg .title { font-size: 14px; font-weight: 600; fill: var(--ink); }
svg .tick, svg .value { font-size: 11px; fill: var(--muted); }
svg .value { font-size: 13px; fill: var(--ink); font-weight: 600; }
svg .label, svg .legend { font-size: 11.5px; fill: var(--muted); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .grid.minor { stroke-dasharray: 2 4; }
svg .axis { stroke: #94a3b8; stroke-width: 1; }
table { border-collapse: collapse; width: 100%; background: var(--card); border:1px solid var(--line); border-radius: 10px; overflow: hidden; }
th, td { padding: 8px 12px; text-align: right; border-bottom: 1px solid var(--line); font-size: 14px; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; background: #f1f5f9; }
th:first-child, td:first-child { text-align: left; }
tr:last-child td { border-bottom: none; }
dl { display:grid; grid-template-columns: max-content 1fr; gap: 6px 18px; margin: 0; background: var(--card); border:1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-word; }
.warn { color: var(--bad); }
</style>
</head>
<body>
<main>
<h1>{{upper .R.Mode}}{{with .R.Proto}} {{.}}{{end}} load test</h1>
<p class="sub">{{join .R.Targets ", "}}</p>
<p class="sub">{{.R.Started.Format "2006-01-02 15:04:05 MST"}} · {{.R.Loop}} loop{{if .R.TargetRate}} at {{num .R.TargetRate}} req/s{{end}} · {{.R.Concurrency}} clients · {{printf "%.1f" .R.ElapsedSeconds}}s measured · {{.R.StopReason}}{{if .R.Interrupted}} <span class="warn">(partial)</span>{{end}}</p>

<div class="cards">
{{range .Cards}}<div class="card{{if .Bad}} bad{{end}}"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div><div class="note">{{.Note}}</div></div>
{{end}}</div>

<h2>Charts</h2>
<div class="charts">
{{range .Charts}}<div class="panel">{{.}}</div>
{{end}}</div>

{{if .Rows}}<h2>Regions and PoPs</h2>
<table>
<tr><th>group</th><th>requests</th><th>errors</th><th>req/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>hit ratio</th><th>received</th></tr>
{{range .Rows}}{{$g := .G}}<tr><td>{{.Label}}</td><td>{{$g.Requests}}</td><td>{{$g.Errors}}</td><td>{{num $g.Throughput}}</td><td>{{ms $g.Latency.P50}}</td><td>{{ms $g.Latency.P90}}</td><td>{{ms $g.Latency.P99}}</td><td>{{ms $g.Latency.P999}}</td><td>{{ms $g.Latency.Max}}</td><td>{{if $g.Cache.Responses}}{{pct $g.Cache.HitRatio}}{{else}}n/a{{end}}</td><td>{{bytes $g.BytesReceived}}</td></tr>
{{end}}</table>
{{end}}

<h2>Details</h2>
<dl>
<dt>Workload</dt><dd>{{.R.Workload}}</dd>
<dt>Requests</dt><dd>{{.T.Requests}} measured ({{.T.Responses}} responses, {{.T.Errors}} errors), {{.R.WarmupRequests}} in {{printf "%.1f" .R.WarmupSeconds}}s of warmup left out{{if .R.Cancelled}}, {{.R.Cancelled}} cancelled at the end{{end}}</dd>
<dt>Latency</dt><dd>min {{ms .T.Latency.Min}} · p50 {{ms .T.Latency.P50}} · p90 {{ms .T.Latency.P90}} · p99 {{ms .T.Latency.P99}} · p99.9 {{ms .T.Latency.P999}} · max {{ms .T.Latency.Max}} · mean {{ms .T.Latency.Mean}} ± {{ms .T.Latency.StdDev}}{{if eq .R.Loop "open"}} — measured from each request's scheduled send time{{end}}</dd>
{{with .T.Statuses}}<dt>Statuses</dt><dd>{{counts .}}</dd>{{end}}
{{with .T.Protocols}}<dt>Protocols</dt><dd>{{counts .}}</dd>{{end}}
{{with .T.ErrorsByKind}}<dt>Errors</dt><dd class="warn">{{counts .}}</dd>{{end}}
{{if .T.Cache.Responses}}<dt>Cache-Status</dt><dd>{{.T.Cache.Hits}} hits ({{.T.Cache.StaleHits}} stale), {{.T.Cache.Misses}} misses, {{.T.Cache.Revalidated}} revalidated, {{.T.Cache.Bypass}} bypassed, {{.T.Cache.Other}} other, {{.T.Cache.Collapsed}} collapsed{{if .T.Cache.Without}}; {{.T.Cache.Without}} responses without the field{{end}}</dd>{{end}}
{{with .R.Offload}}<dt>Origin offload</dt><dd>{{if .Error}}<span class="warn">n/a: {{.Error}}</span>{{else}}{{pct .Ratio}} — the origin counted {{.OriginRequests}} requests ({{.Before}} → {{.After}}) for {{.ClientRequests}} client requests{{end}}</dd>{{end}}
</dl>
</main>
</body>
</html>
`))
