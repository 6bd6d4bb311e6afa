package geodns

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/selfcdn/cdn/statuspage"
)

// AdminHandler serves a GeoDNS node's /metrics (from g), /healthz,
// /status (the health of every edge it probes, as JSON) and, at exactly
// "/", the same as an HTML status page.
func AdminHandler(srv *Server, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(srv.HealthStatus())
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		statuspage.Serve(w, srv.statusPage())
	})
	return mux
}

// statusPage is the status page's data: the PoPs, then every edge with its
// health.
func (s *Server) statusPage() statuspage.Page {
	sn := s.snap.Load()
	name := s.name
	if name == "" {
		name = sn.cfg.Zone
	}
	health := s.HealthStatus()
	pops := statuspage.Section{Title: "PoPs", Columns: []string{"PoP", "Edges", "Healthy"}, Empty: "no PoPs"}
	for _, p := range sn.cfg.PoPs {
		up := 0
		for _, h := range health {
			if h.PoP == p.Name && h.Healthy {
				up++
			}
		}
		pops.Rows = append(pops.Rows, statuspage.Row{Bad: up == 0, Cells: []string{
			p.Name, strconv.Itoa(len(p.Edges)), strconv.Itoa(up),
		}})
	}
	edges := statuspage.Section{
		Title:   "Edges",
		Columns: []string{"PoP", "Edge", "Probe", "Healthy", "Probed", "Successes", "Failures", "Last check", "Last error"},
		Empty:   "no edges",
	}
	for _, h := range health {
		last := "-"
		if !h.LastCheck.IsZero() {
			last = h.LastCheck.UTC().Format(time.RFC3339)
		}
		probe := h.URL
		if probe == "" {
			probe = "-"
		}
		edges.Rows = append(edges.Rows, statuspage.Row{Bad: !h.Healthy, Cells: []string{
			h.PoP, h.Edge, probe, statuspage.YesNo(h.Healthy), statuspage.YesNo(h.Probed),
			strconv.Itoa(h.Successes), strconv.Itoa(h.Failures), last, h.LastError,
		}})
	}
	return statuspage.Page{
		Role:     "geodns",
		Node:     name,
		Version:  statuspage.Version(),
		Uptime:   statuspage.ProcessUptime(),
		Sections: []statuspage.Section{pops, edges},
	}
}
