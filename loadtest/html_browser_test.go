package loadtest

import (
	"bytes"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/selfcdn/cdn/internal/browsertest"
)

// chromium runs headless Chromium on file with the given extra flags and
// returns what it wrote on stdout.
func chromium(t *testing.T, bin, file string, flags ...string) string {
	t.Helper()
	return string(browsertest.Run(t, bin, append(flags, "file://"+file)...))
}

// layoutProbe, added to a copy of the report, measures in the browser
// every part of every chart that must not overlap, and writes the boxes
// into the page as JSON. The report itself has no script.
const layoutProbe = `<script>
(function () {
  var out = [];
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var s = svg.getBoundingClientRect();
    var parts = [];
    var add = function (what, b) { parts.push({what: what, x0: b.left, y0: b.top, x1: b.right, y1: b.bottom}); };
    svg.querySelectorAll("text.title, g.key, text.tick, text.label, text.value, rect.track").forEach(function (e) {
      add(e.getAttribute("class") + " " + e.textContent, e.getBoundingClientRect());
    });
    var lines = svg.querySelectorAll("line.grid, line.axis");
    if (lines.length > 0) {
      var p = {left: 1e9, top: 1e9, right: -1e9, bottom: -1e9};
      lines.forEach(function (l) {
        var b = l.getBoundingClientRect();
        p.left = Math.min(p.left, b.left); p.top = Math.min(p.top, b.top);
        p.right = Math.max(p.right, b.right); p.bottom = Math.max(p.bottom, b.bottom);
      });
      add("plot", p);
    }
    out.push({title: svg.getAttribute("aria-label"), x0: s.left, y0: s.top, x1: s.right, y1: s.bottom, parts: parts});
  });
  var pre = document.createElement("pre");
  pre.id = "layout";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
`

type probedBox struct {
	What           string
	X0, Y0, X1, Y1 float64
}

type probedChart struct {
	Title          string
	X0, Y0, X1, Y1 float64
	Parts          []probedBox
}

// A headless browser renders a report: the screenshot shows something,
// the DOM holds every chart, and in the browser's own text metrics no
// chart's title, legend, labels and plot area overlap or leave the chart.
// LOADTEST_SCREENSHOT=FILE keeps the screenshot.
func TestReportChromiumScreenshot(t *testing.T) {
	bin := browsertest.Chromium(t)
	rep := withRegions(syntheticReport(), "eu-west", "eu-central", "us-east", "us-west", "ap-southeast")
	rep.TargetRate = 1000
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("screenshot", func(t *testing.T) {
		shot := filepath.Join(dir, "report.png")
		chromium(t, bin, page, "--screenshot="+shot, "--window-size=1280,2400")
		browsertest.CheckScreenshot(t, shot, 1280, 2400, 16)
		if keep := os.Getenv("LOADTEST_SCREENSHOT"); keep != "" {
			data, err := os.ReadFile(shot)
			if err == nil {
				err = os.WriteFile(keep, data, 0o644)
			}
			if err != nil {
				t.Errorf("keep the screenshot: %v", err)
			}
		}
	})

	t.Run("dom", func(t *testing.T) {
		dom := chromium(t, bin, page, "--dump-dom")
		if n := strings.Count(dom, `<svg class="chart"`); n != 5 {
			t.Errorf("%d charts in the DOM, want 5", n)
		}
		for _, title := range []string{"Throughput over time", "Latency over time", "Latency by percentile", "Hit ratio per region", "Hit ratio over time"} {
			if !strings.Contains(dom, `aria-label="`+title+`"`) {
				t.Errorf("no chart %q in the DOM", title)
			}
		}
		if !regexp.MustCompile(`<path d="M[0-9.]+ [0-9.]+ L`).MatchString(dom) {
			t.Error("no line drawn in the DOM")
		}
		if !strings.Contains(dom, "region &amp; PoP eu-west") {
			t.Error("no row for region and PoP eu-west in the DOM")
		}
	})

	t.Run("layout", func(t *testing.T) {
		probe := filepath.Join(dir, "probe.html")
		src := strings.Replace(buf.String(), "</body>", layoutProbe+"</body>", 1)
		if err := os.WriteFile(probe, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		dom := chromium(t, bin, probe, "--window-size=1280,2400", "--dump-dom")
		m := regexp.MustCompile(`(?s)<pre id="layout">(.*?)</pre>`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("the probe wrote nothing:\n%s", dom)
		}
		var charts []probedChart
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &charts); err != nil {
			t.Fatalf("probe output: %v\n%s", err, m[1])
		}
		if len(charts) != 5 {
			t.Fatalf("the probe measured %d charts, want 5", len(charts))
		}
		const slack = 0.5 // CSS px
		for _, c := range charts {
			if len(c.Parts) < 10 {
				t.Errorf("%s: only %d parts measured", c.Title, len(c.Parts))
			}
			for i, a := range c.Parts {
				if a.X0 < c.X0-slack || a.Y0 < c.Y0-slack || a.X1 > c.X1+slack || a.Y1 > c.Y1+slack {
					t.Errorf("%s: %q %+v leaves the chart %+v", c.Title, a.What, a, c)
				}
				for _, b := range c.Parts[i+1:] {
					if a.X0 < b.X1-slack && b.X0 < a.X1-slack && a.Y0 < b.Y1-slack && b.Y0 < a.Y1-slack {
						t.Errorf("%s: %q %+v overlaps %q %+v", c.Title, a.What, a, b.What, b)
					}
				}
			}
		}
	})
}
