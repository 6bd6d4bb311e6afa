package sim

import (
	"encoding/json"
	"github.com/selfcdn/cdn/config"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// eventMetrics are series the dashboard shows that exist only once their
// event happened (an upstream error, a reload); for those the test asks
// that the code registers the name instead.
var eventMetrics = map[string]string{
	"cdn_upstream_errors_total": "../edge/metrics.go",
	"cdn_config_reloads_total":  "../edge/reload.go",
}

// Every metric the Grafana dashboard in deploy/grafana queries is one the
// nodes of a running simulation export.
func TestGrafanaDashboardMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole simulation")
	}
	raw, err := os.ReadFile("../deploy/grafana/cdn.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/cdn.json: %v", err)
	}
	reg := prometheus.NewRegistry()
	// A disk tier too, so its series exist.
	disk := t.TempDir()
	s := startTestSim(t, func(o *Options) {
		o.Registerer = reg
		o.Cluster.Cache.Disk = config.Disk{Path: disk, Size: 64 << 20, MaxObject: 8 << 20}
	})
	ep := s.Endpoints()
	// Traffic for the labelled series: a miss and a hit through an edge,
	// a DNS answer.
	r := s.Regions()[0]
	edgeAddr := popEdges(ep, r.PoP)[0]
	for range 2 {
		fetchFrom(t, s, r.ClientAddr(), edgeAddr, "/gen/dash?size=1024&cc=public,max-age=600").Body.Close()
	}
	if _, err := queryFrom(t, s, r.ClientAddr(), netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	metricRE := regexp.MustCompile(`\b(?:cdn|geodns)_[a-z0-9_]+`)
	n := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range metricRE.FindAllString(tg.Expr, -1) {
				n++
				base := name
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suf); ok && exported[b] {
						base = b
					}
				}
				if exported[base] {
					continue
				}
				if src, ok := eventMetrics[base]; ok {
					if code, err := os.ReadFile(src); err == nil && strings.Contains(string(code), `"`+base+`"`) {
						continue
					}
				}
				t.Errorf("panel %q queries %s, which no node exports", p.Title, name)
			}
		}
	}
	if n < 15 {
		t.Errorf("the dashboard queries only %d metrics", n)
	}
}
