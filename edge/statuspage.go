package edge

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/selfcdn/cdn/purge"

	"github.com/selfcdn/cdn/statuspage"
)

// statusPage serves the admin "/" page: what /status reports, plus the
// tiers and the purge bus, as HTML.
func (n *Node) statusPage(w http.ResponseWriter, r *http.Request) {
	statuspage.Serve(w, n.statusPageData())
}

func (n *Node) statusPageData() statuspage.Page {
	st := n.status()
	tiers := statuspage.Section{
		Title:   "Cache tiers",
		Columns: []string{"Tier", "Size", "Capacity", "Objects", "Hit ratio"},
	}
	hits, misses := n.p.mem.Lookups()
	tiers.Rows = append(tiers.Rows, statuspage.Row{Cells: []string{
		"memory", statuspage.Bytes(st.MemoryBytes), statuspage.Bytes(n.cfg.Memory),
		strconv.FormatInt(n.p.mem.Len(), 10), statuspage.Ratio(int64(hits), int64(hits+misses)),
	}})
	if n.p.disk != nil {
		ds := n.p.disk.Stats()
		tiers.Rows = append(tiers.Rows, statuspage.Row{Cells: []string{
			"disk", statuspage.Bytes(n.p.disk.Used()), statuspage.Bytes(n.cfg.DiskSize),
			strconv.Itoa(n.p.disk.Len()), statuspage.Ratio(ds.Hits, ds.Hits+ds.Misses),
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
	synced := n.Synced()
	bus := statuspage.Section{
		Title:   "Purge bus",
		Columns: []string{"In sync"},
		Rows:    []statuspage.Row{{Bad: !synced, Cells: []string{statuspage.YesNo(synced)}}},
	}
	last := statuspage.Section{
		Title:   "Last purges",
		Columns: []string{"Applied", "ID", "Purge time", "Kind", "Targets", "Result"},
		Empty:   "no purge applied since start",
	}
	for _, p := range n.p.purges.list() {
		result := "applied"
		if p.err != "" {
			result = p.err
		}
		last.Rows = append(last.Rows, statuspage.Row{Bad: p.err != "", Cells: []string{
			p.applied.UTC().Format(time.RFC3339), p.ev.ID, p.ev.Time.UTC().Format(time.RFC3339Nano),
			purgeKind(p.ev), purgeTargets(p.ev), result,
		}})
	}
	return statuspage.Page{
		Role:     string(st.Role),
		Node:     st.Name,
		Version:  statuspage.Version(),
		Uptime:   statuspage.ProcessUptime(),
		Sections: []statuspage.Section{tiers, ups, bus, last},
	}
}

// recentPurges keeps the last purges a node applied, newest first.
type recentPurges struct {
	mu   sync.Mutex
	ring []appliedPurge
}

type appliedPurge struct {
	ev      purge.Event
	applied time.Time
	err     string
}

const recentPurgesKept = 10

func (r *recentPurges) add(ev purge.Event, at time.Time, err error) {
	p := appliedPurge{ev: ev, applied: at}
	if err != nil {
		p.err = err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring = append([]appliedPurge{p}, r.ring[:min(len(r.ring), recentPurgesKept-1)]...)
}

func (r *recentPurges) list() []appliedPurge {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ring)
}

// purgeKind says what a purge event names and whether it is soft.
func purgeKind(ev purge.Event) string {
	var kinds []string
	for _, k := range []struct {
		name string
		n    int
	}{{"url", len(ev.URLs)}, {"prefix", len(ev.Prefixes)}, {"tag", len(ev.Tags)}, {"site", len(ev.Sites)}} {
		if k.n > 0 {
			kinds = append(kinds, k.name)
		}
	}
	k := strings.Join(kinds, "+")
	if ev.Soft {
		return k + " (soft)"
	}
	return k
}

// purgeTargets lists an event's targets, shortened past a few.
func purgeTargets(ev purge.Event) string {
	all := slices.Concat(ev.URLs, ev.Prefixes, ev.Tags, ev.Sites)
	const shown = 3
	if len(all) > shown {
		return strings.Join(all[:shown], " ") + " … (" + strconv.Itoa(len(all)) + ")"
	}
	return strings.Join(all, " ")
}
