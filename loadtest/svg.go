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
// outside the element.
type chart struct {
	title          string
	w, h           int
	xLabel, yLabel string
	xMin, xMax     float64
	yMin, yMax     float64
	xTicks, yTicks []tick
	lines          []series
}

const (
	padLeft   = 70
	padRight  = 24
	padTop    = 34
	padBottom = 44
)

func (c chart) svg() string {
	var b strings.Builder
	pw := float64(c.w - padLeft - padRight)
	ph := float64(c.h - padTop - padBottom)
	if c.xMax <= c.xMin {
		c.xMax = c.xMin + 1
	}
	if c.yMax <= c.yMin {
		c.yMax = c.yMin + 1
	}
	sx := func(x float64) float64 { return padLeft + (x-c.xMin)/(c.xMax-c.xMin)*pw }
	sy := func(y float64) float64 { return padTop + ph - (y-c.yMin)/(c.yMax-c.yMin)*ph }

	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, c.w, c.h, esc(c.title))
	fmt.Fprintf(&b, `<text class="title" x="%d" y="18">%s</text>`, padLeft, esc(c.title))
	// Grid and y ticks.
	for _, t := range c.yTicks {
		y := sy(t.v)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%.1f" y1="%.1f" y2="%.1f"/>`, padLeft, padLeft+pw, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-8, y+4, esc(t.label))
	}
	for i, t := range c.xTicks {
		x := sx(t.v)
		anchor := "middle"
		if i == len(c.xTicks)-1 && len(t.label) > 4 && t.v >= c.xMax {
			anchor = "end" // keep a long last label inside the picture
		}
		fmt.Fprintf(&b, `<line class="grid minor" x1="%.1f" x2="%.1f" y1="%d" y2="%.1f"/>`, x, x, padTop, padTop+ph)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x, padTop+ph+16, anchor, esc(t.label))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%.1f" y1="%.1f" y2="%.1f"/>`, padLeft, padLeft+pw, padTop+ph, padTop+ph)
	if c.xLabel != "" {
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%d" text-anchor="middle">%s</text>`, padLeft+pw/2, c.h-6, esc(c.xLabel))
	}
	if c.yLabel != "" {
		fmt.Fprintf(&b, `<text class="label" transform="translate(13 %.1f) rotate(-90)" text-anchor="middle">%s</text>`, padTop+ph/2, esc(c.yLabel))
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
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, sx(clamp(p.x, c.xMin, c.xMax)), sy(clamp(p.y, c.yMin, c.yMax)))
		}
		d := strings.TrimSpace(path.String())
		if s.area {
			fmt.Fprintf(&b, `<path d="%s L%.1f %.1f L%.1f %.1f Z" fill="%s" fill-opacity="0.12" stroke="none"/>`,
				d, sx(clamp(s.pts[len(s.pts)-1].x, c.xMin, c.xMax)), sy(c.yMin), sx(clamp(s.pts[0].x, c.xMin, c.xMax)), sy(c.yMin), s.color)
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
	// Legend, right-aligned above the plot.
	x := float64(c.w - padRight)
	for i := len(c.lines) - 1; i >= 0; i-- {
		s := c.lines[i]
		if s.name == "" {
			continue
		}
		x -= float64(len([]rune(s.name)))*6.6 + 30
		fmt.Fprintf(&b, `<rect x="%.1f" y="10" width="12" height="4" rx="2" fill="%s"/>`, x, s.color)
		fmt.Fprintf(&b, `<text class="legend" x="%.1f" y="16">%s</text>`, x+17, esc(s.name))
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

// barChart renders horizontal bars of ratios between 0 and 1.
func barChart(title string, w int, bars []bar, color string) string {
	const rowH, labelW, top = 30, 130, 34
	h := top + rowH*len(bars) + 12
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h, esc(title))
	fmt.Fprintf(&b, `<text class="title" x="%d" y="18">%s</text>`, 0, esc(title))
	bw := float64(w - labelW - 150)
	for i, br := range bars {
		y := float64(top + i*rowH)
		v := clamp(br.value, 0, 1)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, labelW-10, y+15, esc(br.label))
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="20" rx="3" fill="#eef1f5"/>`, labelW, y+2, bw)
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="20" rx="3" fill="%s"/>`, labelW, y+2, bw*v, color)
		fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f">%s</text>`, float64(labelW)+bw+10, y+16, esc(br.note))
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
