package edge

import (
	"strings"
	"testing"

	"github.com/selfcdn/cdn/internal/browsertest"
)

// A headless browser loads the admin status page and builds the expected
// document from it: the node's name in the heading and the tables.
func TestStatusPageChromium(t *testing.T) {
	bin := browsertest.Chromium(t)
	o := startOrigin(t)
	e := adminQuickEdge(t, o, nil)
	url := "http://" + e.Addr("admin").String() + "/"
	dom := string(browsertest.Run(t, bin, "--dump-dom", url))
	for _, want := range []string{`<h1 id="node">edge-1</h1>`, `<dd id="role">edge</dd>`, "<table>", "<th>Upstream</th>", "Cache tiers", "Purge bus"} {
		if !strings.Contains(dom, want) {
			t.Errorf("browser DOM lacks %q:\n%s", want, dom)
		}
	}
	for name := range e.status().Upstreams {
		if !strings.Contains(dom, name) {
			t.Errorf("browser DOM lacks upstream %q", name)
		}
	}
}
