package edge

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A headless browser loads the admin status page and builds the expected
// document from it: the node's name in the heading and the tables.
func TestStatusPageChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not in PATH")
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	o := startOrigin(t)
	e := adminQuickEdge(t, o, nil)
	url := "http://" + e.Addr("admin").String() + "/"

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-extensions", "--user-data-dir="+t.TempDir(), "--dump-dom", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
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
