package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selfcdn/cdn/config"
	"github.com/selfcdn/cdn/internal/browsertest"
)

// The status pages of an edge, a shield and GeoDNS, opened in headless
// Chromium as an operator would (the admin token as the Basic password):
// the DOM names the node and its sections, and a screenshot is drawn.
// With CDN_SCREENSHOT_DIR set, the screenshots are kept there.
func TestStatusPagesInChromium(t *testing.T) {
	bin := browsertest.Chromium(t)
	s := startTestSim(t, nil)
	r := s.Regions()[0]
	// Some traffic and a purge, so the tables have content.
	edgeAddr := popEdges(s.Endpoints(), r.PoP)[0]
	for range 2 {
		fetchFrom(t, s, r.ClientAddr(), edgeAddr, "/gen/page?size=1024&cc=public,max-age=600").Body.Close()
	}
	pick := map[config.Role]NodeInfo{}
	for _, n := range s.Nodes() {
		if _, ok := pick[n.Role]; !ok {
			pick[n.Role] = n
		}
	}
	if err := purgeURL(s, "http://"+SiteHost+"/gen/page?size=1024&cc=public,max-age=600"); err != nil {
		t.Fatalf("purge: %v", err)
	}
	keep := os.Getenv("CDN_SCREENSHOT_DIR")
	for _, c := range []struct {
		role  config.Role
		want  []string
		token bool
	}{
		{config.RoleEdge, []string{"Cache tiers", "Upstreams", "Purge bus", "Last purges", "/gen/page"}, true},
		{config.RoleShield, []string{"Cache tiers", "Upstreams", "Purge bus", "Last purges"}, true},
		{config.RoleGeoDNS, []string{"PoPs", r.PoP}, false},
	} {
		n, ok := pick[c.role]
		if !ok {
			t.Fatalf("no %s node", c.role)
		}
		u := url.URL{Scheme: "http", Host: n.Listen["admin"], Path: "/"}
		if c.token {
			u.User = url.UserPassword("admin", s.Token())
		}
		dom := string(browsertest.Run(t, bin, "--dump-dom", u.String()))
		for _, want := range append([]string{`<h1 id="node">` + n.Name + `</h1>`}, c.want...) {
			if !strings.Contains(dom, want) {
				t.Errorf("%s: the browser's DOM lacks %q:\n%s", n.Name, want, dom)
			}
		}
		shot := filepath.Join(t.TempDir(), n.Name+".png")
		browsertest.Run(t, bin, "--screenshot="+shot, "--window-size=1280,1024", u.String())
		browsertest.CheckScreenshot(t, shot, 1280, 1024, 3)
		if keep != "" {
			if b, err := os.ReadFile(shot); err == nil {
				os.WriteFile(filepath.Join(keep, n.Name+".png"), b, 0o644)
			}
		}
	}
}

// purgeURL purges one URL through the first edge's admin API and waits
// for every node's confirmation.
func purgeURL(s *Sim, u string) error {
	ep := s.Endpoints()
	body, _ := json.Marshal(map[string]any{"urls": []string{u}})
	req, _ := http.NewRequest(http.MethodPost, ep.Admin.URL+"/purge", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ep.Admin.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return nil
}
