package loadtest

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// point is one datum of a series.
type point struct{ x, y float64 }

// series is one line of a chart.
type series struct {
	name  string
	color string
	pts   []point
	area  bool // shade the area under the line
	dash  bool
	width float64
}

// tick is an axis mark and its label.
type tick struct {
	v     float64
	label string
}

// chart is a line chart rendered as inline SVG, with no script or style
// outside the element. Its height follows from its content: w is given,
// the plot area is plotHeight high, and the title, legend and axis labels
// get the room they need around it.
type chart struct {
	title          string
	w              int
	xLabel, yLabel string
	xMin, xMax     float64
	yMin, yMax     float64
	xTicks, yTicks []tick
	lines          []series
}

// Text metrics, matching the page's style sheet. The page asks for the
// platform's UI font, so the exact widths are unknown here: textWidth errs
// on the wide side (DejaVu Sans, the usual fallback on Linux, is among the
// widest), so that a box computed for a text contains it in any font.
const (
	titleSize  = 14.0 // .title, bold
	legendSize = 11.5 // .legend and .label
	tickSize   = 11.0 // .tick
	valueSize  = 13.0 // .value, bold
	ascent     = 0.95 // of the font size, above the baseline
	descent    = 0.25 // below it
)

// Layout, in SVG user units.
const (
	margin     = 10.0  // between the picture's edge and anything in it
	gap        = 8.0   // between neighbouring blocks
	plotHeight = 200.0 // of a line chart's plot area
	plotRight  = 24.0  // room right of the plot for a last tick label
	swatchW    = 12.0  // legend colour bar
	swatchGap  = 5.0   // between a legend bar and its name
	keyGap     = 16.0  // between legend entries
)

// textWidth estimates the advance of s at size px.
func textWidth(s string, size float64, bold bool) float64 {
	em := 0.0
	for _, r := range s {
		switch {
		case strings.ContainsRune("iljI.,:;'!|", r):
			em += 0.32
		case r == ' ':
			em += 0.34
		case strings.ContainsRune("mwMW%@", r):
			em += 1.0
		case r >= 'A' && r <= 'Z':
			em += 0.78
		case r >= '0' && r <= '9':
			em += 0.66
		default:
			em += 0.64
		}
	}
	if bold {
		em *= 1.12
	}
	return em * size
}

// box is a rectangle: x0 <= x1, y0 <= y1.
type box struct{ x0, y0, x1, y1 float64 }

// textBox is the box of s drawn at (x, baseline) with the given
// text-anchor.
func textBox(s string, x, baseline float64, anchor string, size float64, bold bool) box {
	w := textWidth(s, size, bold)
	x0 := x
	switch anchor {
	case "middle":
		x0 = x - w/2
	case "end":
		x0 = x - w
	}
	return box{x0, baseline - ascent*size, x0 + w, baseline + descent*size}
}

// centreBaseline is the baseline that centres a line of text of the given
// size on y.
func centreBaseline(y, size float64) float64 { return y + (ascent-descent)/2*size }

// legendKey is one legend entry: a colour bar and the series' name.
type legendKey struct {
	line            int // index in chart.lines
	swatch          box
	textX, baseline float64
	box             box // swatch and name
}

// placedTick is a tick label and where it is drawn.
type placedTick struct {
	tick
	pos             float64 // x of an x tick, y of a y tick
	textX, baseline float64
	anchor          string
	box             box
}

// chartLayout places every part of a chart; no two of title, legend keys,
// tick labels, axis labels and plot area overlap, and all lie inside the
// picture (w × h).
type chartLayout struct {
	w, h      float64
	title     box
	titleBase float64
	keys      []legendKey
	plot      box
	xTicks    []placedTick
	yTicks    []placedTick
	// The rotated y label's baseline is the vertical line x = yLabelX.
	yLabelX, yLabelY float64
	yLabelBox        box
	xLabelX, xLabelY float64
	xLabelBox        box
}

func (c chart) layout() chartLayout {
	l := chartLayout{w: float64(c.w)}
	// Title, then the legend in rows under it, wrapping at the right edge.
	l.titleBase = margin + ascent*titleSize
	l.title = textBox(c.title, margin, l.titleBase, "start", titleSize, true)
	bottom := l.title.y1
	x, rowTop := margin, bottom+gap/2
	rowH := (ascent + descent) * legendSize
	for i, s := range c.lines {
		if s.name == "" {
			continue
		}
		w := swatchW + swatchGap + textWidth(s.name, legendSize, false)
		if x > margin && x+w > l.w-margin {
			x, rowTop = margin, rowTop+rowH+gap/2
		}
		base := rowTop + ascent*legendSize
		mid := rowTop + rowH/2
		k := legendKey{line: i, textX: x + swatchW + swatchGap, baseline: base,
			swatch: box{x, mid - 2, x + swatchW, mid + 2}}
		k.box = box{x, rowTop, x + w, rowTop + rowH}
		l.keys = append(l.keys, k)
		bottom = math.Max(bottom, k.box.y1)
		x += w + keyGap
	}

	// Left of the plot: the rotated y label, then the y tick labels.
	left := margin
	if c.yLabel != "" {
		l.yLabelX = margin + ascent*legendSize
		left = l.yLabelX + descent*legendSize
	}
	tickW := 0.0
	for _, t := range c.yTicks {
		tickW = math.Max(tickW, textWidth(t.label, tickSize, false))
	}
	// A y tick label is centred on its grid line, so the top one reaches
	// half a line above the plot.
	halfTick := (ascent + descent) / 2 * tickSize
	l.plot = box{x0: left + gap + tickW + gap, y0: bottom + gap + halfTick, x1: l.w - plotRight}
	l.plot.y1 = l.plot.y0 + plotHeight
	if l.plot.x1 < l.plot.x0+10 {
		l.plot.x1 = l.plot.x0 + 10
	}

	sx, sy := c.scales(l.plot)
	for _, t := range c.yTicks {
		y := sy(t.v)
		base := centreBaseline(y, tickSize)
		l.yTicks = append(l.yTicks, placedTick{tick: t, pos: y, textX: l.plot.x0 - gap, baseline: base, anchor: "end",
			box: textBox(t.label, l.plot.x0-gap, base, "end", tickSize, false)})
	}
	// x tick labels go below the lowest y tick label.
	tickTop := l.plot.y1 + halfTick + 2
	base := tickTop + ascent*tickSize
	for _, t := range c.xTicks {
		x := sx(t.v)
		pt := placedTick{tick: t, pos: x, textX: x, baseline: base, anchor: "middle"}
		pt.box = textBox(t.label, x, base, "middle", tickSize, false)
		if pt.box.x1 > l.w-margin {
			pt.anchor = "end" // keep a long last label inside the picture
			pt.box = textBox(t.label, x, base, "end", tickSize, false)
		}
		l.xTicks = append(l.xTicks, pt)
	}
	bottom = base + descent*tickSize
	if c.xLabel != "" {
		l.xLabelX = (l.plot.x0 + l.plot.x1) / 2
		l.xLabelY = bottom + gap/2 + ascent*legendSize
		// Centred under the plot, but inside the picture.
		hw := textWidth(c.xLabel, legendSize, false) / 2
		l.xLabelX = math.Max(math.Min(l.xLabelX, l.w-margin-hw), margin+hw)
		l.xLabelBox = textBox(c.xLabel, l.xLabelX, l.xLabelY, "middle", legendSize, false)
		bottom = l.xLabelBox.y1
	}
	if c.yLabel != "" {
		l.yLabelY = (l.plot.y0 + l.plot.y1) / 2
		w := textWidth(c.yLabel, legendSize, false)
		l.yLabelBox = box{l.yLabelX - ascent*legendSize, l.yLabelY - w/2, l.yLabelX + descent*legendSize, l.yLabelY + w/2}
	}
	l.h = math.Ceil(bottom + margin)
	return l
}

// scales map data to picture coordinates inside plot.
func (c chart) scales(plot box) (sx, sy func(float64) float64) {
	xMin, xMax, yMin, yMax := c.xMin, c.xMax, c.yMin, c.yMax
	if !(xMax > xMin) {
		xMax = xMin + 1
	}
	if !(yMax > yMin) {
		yMax = yMin + 1
	}
	sx = func(x float64) float64 {
		return plot.x0 + (clamp(x, xMin, xMax)-xMin)/(xMax-xMin)*(plot.x1-plot.x0)
	}
	sy = func(y float64) float64 {
		return plot.y1 - (clamp(y, yMin, yMax)-yMin)/(yMax-yMin)*(plot.y1-plot.y0)
	}
	return sx, sy
}

func (c chart) svg() string {
	l := c.layout()
	sx, sy := c.scales(l.plot)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, l.w, l.h, esc(c.title))
	fmt.Fprintf(&b, `<text class="title" x="%.1f" y="%.1f">%s</text>`, l.title.x0, l.titleBase, esc(c.title))
	for _, k := range l.keys {
		s := c.lines[k.line]
		fmt.Fprintf(&b, `<g class="key"><rect x="%.1f" y="%.1f" width="%g" height="%.1f" rx="2" fill="%s"/>`,
			k.swatch.x0, k.swatch.y0, swatchW, k.swatch.y1-k.swatch.y0, s.color)
		fmt.Fprintf(&b, `<text class="legend" x="%.1f" y="%.1f">%s</text></g>`, k.textX, k.baseline, esc(s.name))
	}
	// Grid and ticks: each label follows its grid line.
	for _, t := range l.yTicks {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, l.plot.x0, l.plot.x1, t.pos, t.pos)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, t.textX, t.baseline, esc(t.label))
	}
	for _, t := range l.xTicks {
		fmt.Fprintf(&b, `<line class="grid minor" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, t.pos, t.pos, l.plot.y0, l.plot.y1)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, t.textX, t.baseline, t.anchor, esc(t.label))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, l.plot.x0, l.plot.x1, l.plot.y1, l.plot.y1)
	if c.xLabel != "" {
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, l.xLabelX, l.xLabelY, esc(c.xLabel))
	}
	if c.yLabel != "" {
		fmt.Fprintf(&b, `<text class="label" transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle">%s</text>`, l.yLabelX, l.yLabelY, esc(c.yLabel))
	}
	for _, s := range c.lines {
		if len(s.pts) == 0 {
			continue
		}
		var path strings.Builder
		for i, p := range s.pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, sx(p.x), sy(p.y))
		}
		d := strings.TrimSpace(path.String())
		if s.area {
			fmt.Fprintf(&b, `<path d="%s L%.1f %.1f L%.1f %.1f Z" fill="%s" fill-opacity="0.12" stroke="none"/>`,
				d, sx(s.pts[len(s.pts)-1].x), l.plot.y1, sx(s.pts[0].x), l.plot.y1, s.color)
		}
		w := s.width
		if w == 0 {
			w = 2
		}
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="5 4"`
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.1f" stroke-linejoin="round" stroke-linecap="round"%s/>`, d, s.color, w, dash)
		if len(s.pts) == 1 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, sx(s.pts[0].x), sy(s.pts[0].y), s.color)
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// bar is one bar of a bar chart.
type bar struct {
	label string
	value float64 // 0..1
	note  string
}

// barLayout places a bar chart: title, then one row per bar with its
// label right-aligned in a column wide enough for the longest, the bar,
// and its value.
type barLayout struct {
	w, h      float64
	title     box
	titleBase float64
	rows      []barRow
}

type barRow struct {
	label            string // shortened to fit its column if need be
	labelX, baseline float64
	labelBox         box
	track            box // the bar's full length (value 1)
	valueX, valueY   float64
	valueBox         box
}

const (
	barRowH    = 30.0
	barH       = 20.0
	barLabelsW = 0.4 // at most, of the chart's width
)

func barChartLayout(title string, w int, bars []bar) barLayout {
	l := barLayout{w: float64(w)}
	l.titleBase = margin + ascent*titleSize
	l.title = textBox(title, margin, l.titleBase, "start", titleSize, true)
	labelW, valueW := 0.0, 0.0
	for _, br := range bars {
		labelW = math.Max(labelW, textWidth(br.label, tickSize, false))
		valueW = math.Max(valueW, textWidth(br.note, valueSize, true))
	}
	labelW = math.Min(labelW, barLabelsW*l.w)
	labelRight := margin + labelW
	trackX0 := labelRight + gap
	trackX1 := math.Max(trackX0+20, l.w-margin-valueW-gap)
	top := l.title.y1 + gap
	for i, br := range bars {
		y := top + float64(i)*barRowH
		mid := y + barRowH/2
		r := barRow{label: fitText(br.label, labelW, tickSize), labelX: labelRight, baseline: centreBaseline(mid, tickSize)}
		r.labelBox = textBox(r.label, r.labelX, r.baseline, "end", tickSize, false)
		r.track = box{trackX0, mid - barH/2, trackX1, mid + barH/2}
		r.valueX, r.valueY = trackX1+gap, centreBaseline(mid, valueSize)
		r.valueBox = textBox(br.note, r.valueX, r.valueY, "start", valueSize, true)
		l.rows = append(l.rows, r)
	}
	l.h = math.Ceil(top + float64(len(bars))*barRowH + margin)
	return l
}

// fitText shortens s with an ellipsis until it is at most w wide.
func fitText(s string, w, size float64) string {
	if textWidth(s, size, false) <= w {
		return s
	}
	rs := []rune(s)
	for len(rs) > 1 && textWidth(string(rs)+"…", size, false) > w {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

// barChart renders horizontal bars of ratios between 0 and 1.
func barChart(title string, w int, bars []bar, color string) string {
	l := barChartLayout(title, w, bars)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, l.w, l.h, esc(title))
	fmt.Fprintf(&b, `<text class="title" x="%.1f" y="%.1f">%s</text>`, l.title.x0, l.titleBase, esc(title))
	for i, r := range l.rows {
		br := bars[i]
		tw := r.track.x1 - r.track.x0
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, r.labelX, r.baseline, esc(r.label))
		fmt.Fprintf(&b, `<rect class="track" x="%.1f" y="%.1f" width="%.1f" height="%g" rx="3" fill="#eef1f5"/>`, r.track.x0, r.track.y0, tw, barH)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%g" rx="3" fill="%s"/>`, r.track.x0, r.track.y0, tw*clamp(br.value, 0, 1), barH, color)
		fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f">%s</text>`, r.valueX, r.valueY, esc(br.note))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

func clamp(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, v))
}

// niceTicks returns about n round tick values covering [0, max].
func niceTicks(max float64, n int, format func(float64) string) (ticks []tick, top float64) {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		max = 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	steps := int(math.Ceil(max/step - 1e-9))
	top = float64(steps) * step
	for i := 0; i <= steps; i++ {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(i)*step, 'g', 10, 64), 64)
		ticks = append(ticks, tick{v: v, label: format(v)})
	}
	return ticks, top
}

// timeSteps are the tick steps of a time axis, in seconds.
var timeSteps = []float64{0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600}

// timeTicks returns ticks at a round step for an axis from 0 to d
// seconds, at most n intervals and none beyond d: the axis ends at d, not
// at the next round number.
func timeTicks(d float64, n int) []tick {
	if !(d > 0) || math.IsInf(d, 0) {
		d = 1
	}
	step := math.Ceil(d/float64(n)/3600) * 3600
	for _, s := range timeSteps {
		if d/s <= float64(n) {
			step = s
			break
		}
	}
	var ticks []tick
	for i := 0; float64(i)*step <= d*(1+1e-9); i++ {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(i)*step, 'g', 10, 64), 64)
		ticks = append(ticks, tick{v: v, label: fmtSeconds(v)})
	}
	return ticks
}

// fmtSeconds labels a time axis: 0s, 0.5s, 30s, 2m, 1m30s, 1h, 1h30m.
func fmtSeconds(v float64) string {
	if v < 60 || v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'g', 4, 64) + "s"
	}
	n := int64(v)
	h, m, s := n/3600, n/60%60, n%60
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// tickMs labels a latency axis: 0, 250 µs, 20 ms, 1.5 s.
func tickMs(v float64) string {
	g := func(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return g(v/1000) + " s"
	case v >= 1:
		return g(v) + " ms"
	}
	return g(v*1000) + " µs"
}
