package edge

import (
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/selfcdn/cdn/statuspage"
)

// statusPage serves the admin "/" page: what /status reports, plus the
// tiers and the purge bus, as HTML.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	statuspage.Serve(w, s.statusPageData())
}

func (s *Server) statusPageData() statuspage.Page {
	st := s.status()
	tiers := statuspage.Section{
		Title:   "Cache tiers",
		Columns: []string{"Tier", "Size", "Capacity", "Objects", "Hit ratio"},
		Rows:    []statuspage.Row{{Cells: []string{"memory", statuspage.Bytes(st.MemoryBytes), statuspage.Bytes(s.cfg.Memory), "-", "-"}}},
	}
	if s.disk != nil {
		ds := s.disk.Stats()
		tiers.Rows = append(tiers.Rows, statuspage.Row{Cells: []string{
			"disk", statuspage.Bytes(s.disk.Used()), statuspage.Bytes(s.cfg.DiskSize),
			strconv.Itoa(s.disk.Len()), statuspage.Ratio(ds.Hits, ds.Hits+ds.Misses),
		}})
	}
	ups := statuspage.Section{
		Title:   "Upstreams",
		Columns: []string{"Upstream", "Backend", "Address", "Available", "Healthy", "Ejected", "Ejections", "In flight", "Last probe error"},
		Empty:   "no upstreams",
	}
	for _, name := range slices.Sorted(maps.Keys(st.Upstreams)) {
		for _, b := range st.Upstreams[name] {
			ups.Rows = append(ups.Rows, statuspage.Row{Bad: !b.Available, Cells: []string{
				name, b.Name, b.Addr, statuspage.YesNo(b.Available), statuspage.YesNo(b.Healthy),
				statuspage.YesNo(b.Ejected), strconv.FormatInt(b.Ejections, 10),
				strconv.FormatInt(b.Inflight, 10), b.LastProbeError,
			}})
		}
	}
	synced := s.Synced()
	bus := statuspage.Section{
		Title:   "Purge bus",
		Columns: []string{"In sync"},
		Rows:    []statuspage.Row{{Bad: !synced, Cells: []string{statuspage.YesNo(synced)}}},
	}
	return statuspage.Page{
		Role:     string(st.Role),
		Node:     st.Name,
		Version:  statuspage.Version(),
		Uptime:   statuspage.ProcessUptime(),
		Sections: []statuspage.Section{tiers, ups, bus},
	}
}
