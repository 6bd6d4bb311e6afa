package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium runs headless Chromium on file with the given extra flags and
// returns what it wrote on stdout.
func chromium(t *testing.T, bin, file string, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-extensions", "--user-data-dir=" + t.TempDir()}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+file)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(flags, " "), err, stderr.String())
	}
	return stdout.String()
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
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not in PATH")
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
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
		chromium(t, bin, page, "--screenshot="+shot, "--window-size=1280,2400", "--hide-scrollbars")
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("the screenshot is no PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2400 {
			t.Errorf("screenshot is %v, want 1280x2400", b)
		}
		colours := map[[4]uint32]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y && len(colours) < 16; y += 3 {
			for x := b.Min.X; x < b.Max.X; x += 3 {
				r, g, bl, a := img.At(x, y).RGBA()
				colours[[4]uint32{r, g, bl, a}] = true
			}
		}
		if len(colours) < 16 {
			t.Errorf("the screenshot has %d colours: nothing was drawn", len(colours))
		}
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
