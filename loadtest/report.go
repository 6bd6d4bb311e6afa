package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything a run measured. Latencies are in milliseconds;
// ratios are between 0 and 1.
type Report struct {
	// Mode is "http" or "dns".
	Mode string `json:"mode"`
	// Proto is the HTTP protocol (HTTP mode only).
	Proto string `json:"proto,omitempty"`
	// Targets are the URLs, sites or DNS server the run sent to.
	Targets []string `json:"targets"`
	// Workload describes the requests sent.
	Workload string `json:"workload"`
	// Loop is "open" (fixed schedule) or "closed" (fixed concurrency).
	Loop string `json:"loop"`
	// TargetRate is the open loop's scheduled rate in requests/s.
	TargetRate float64 `json:"target_rate,omitempty"`
	// Concurrency is the number of clients.
	Concurrency int `json:"concurrency"`
	// Started is when the run began, warmup included.
	Started time.Time `json:"started"`
	// WarmupSeconds is the warmup excluded from statistics.
	WarmupSeconds float64 `json:"warmup_s"`
	// ElapsedSeconds is the measured part's length.
	ElapsedSeconds float64 `json:"elapsed_s"`
	// Interrupted says the run was stopped before its bounds (Ctrl-C or
	// the hard cap); StopReason says why it ended.
	Interrupted bool   `json:"interrupted"`
	StopReason  string `json:"stop_reason"`
	// WarmupRequests were sent during warmup and left out.
	WarmupRequests int64 `json:"warmup_requests"`
	// Cancelled requests were in flight when the run was stopped; they are
	// neither responses nor errors.
	Cancelled int64 `json:"cancelled"`
	// Total covers every measured request.
	Total Group `json:"total"`
	// Offload is the origin offload, when origin stats were read.
	Offload *Offload `json:"offload,omitempty"`
	// Regions groups requests by the client's region (endpoints mode).
	Regions []Group `json:"regions,omitempty"`
	// PoPs groups requests by the PoP whose edge served them (endpoints mode).
	PoPs []Group `json:"pops,omitempty"`
	// Series has one sample per second of the measured part, by completion time.
	Series []Sample `json:"series"`
}

// Group is the statistics of a set of requests.
type Group struct {
	// Name is the region or PoP; empty for the total.
	Name string `json:"name,omitempty"`
	// Requests is responses plus errors.
	Requests int64 `json:"requests"`
	// Responses counts requests answered (any status, any rcode).
	Responses int64 `json:"responses"`
	// Errors counts failed requests, including HTTP 4xx and 5xx and DNS
	// responses other than NOERROR and NXDOMAIN.
	Errors int64 `json:"errors"`
	// ErrorsByKind splits Errors: connect, dns, timeout, reset, eof,
	// body_short, tls, protocol, status_4xx, status_5xx, rcode, other.
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	// Statuses counts HTTP statuses ("200") or DNS rcodes ("NOERROR").
	Statuses map[string]int64 `json:"statuses,omitempty"`
	// Protocols counts responses by protocol ("HTTP/2.0").
	Protocols map[string]int64 `json:"protocols,omitempty"`
	// Throughput is requests per second over the measured part.
	Throughput float64 `json:"throughput_rps"`
	// BytesReceived counts response body bytes (DNS: message bytes).
	BytesReceived int64 `json:"bytes_received"`
	// Bandwidth is BytesReceived per second.
	Bandwidth float64 `json:"bandwidth_bps"`
	// Latency is of responses, from scheduled send time to last byte.
	Latency Latency `json:"latency"`
	// Cache summarises Cache-Status (HTTP mode).
	Cache Cache `json:"cache"`
}

// Latency summarises a latency distribution, in milliseconds.
type Latency struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min_ms"`
	Mean   float64 `json:"mean_ms"`
	StdDev float64 `json:"stddev_ms"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p99_9_ms"`
	Max    float64 `json:"max_ms"`
	// Distribution is the latency at a ladder of percentiles, for plots.
	Distribution []Quantile `json:"distribution,omitempty"`
}

// Quantile is the latency at one percentile.
type Quantile struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// Cache counts responses by what the cache nearest the client did, from
// the last member of Cache-Status (RFC 9211 §2).
type Cache struct {
	// Responses is the number of responses with a Cache-Status field.
	Responses int64 `json:"responses"`
	// Without counts responses with no Cache-Status field.
	Without int64 `json:"without"`
	// Hits counts members with the hit parameter, StaleHits those of them
	// with a negative ttl (served stale).
	Hits      int64 `json:"hits"`
	StaleHits int64 `json:"stale_hits"`
	// Misses: fwd=miss, uri-miss or vary-miss.
	Misses int64 `json:"misses"`
	// Revalidated: fwd=stale (the stored response was revalidated).
	Revalidated int64 `json:"revalidated"`
	// Bypass: fwd=bypass, method or request.
	Bypass int64 `json:"bypass"`
	// Other: any other member.
	Other int64 `json:"other"`
	// Collapsed counts members with the collapsed parameter.
	Collapsed int64 `json:"collapsed"`
	// Stored counts members with the stored parameter.
	Stored int64 `json:"stored"`
	// Fwd counts every fwd value seen.
	Fwd map[string]int64 `json:"fwd,omitempty"`
	// HitRatio is Hits / Responses (0 when Responses is 0).
	HitRatio float64 `json:"hit_ratio"`
}

// Offload compares the requests the origin received with those clients sent.
type Offload struct {
	// URL is the origin stats URL read.
	URL string `json:"url"`
	// Before and After are the origin's total at the start and end of the
	// measured part.
	Before int64 `json:"before"`
	After  int64 `json:"after"`
	// OriginRequests is After - Before.
	OriginRequests int64 `json:"origin_requests"`
	// ClientRequests is the measured requests.
	ClientRequests int64 `json:"client_requests"`
	// Ratio is 1 - OriginRequests/ClientRequests.
	Ratio float64 `json:"ratio"`
	// Error says why offload could not be computed; the other fields are
	// then partial.
	Error string `json:"error,omitempty"`
}

// Sample is one second of the measured part.
type Sample struct {
	// Second counts from the start of the measured part.
	Second int `json:"second"`
	// Span is the part of the second inside the measured part: 1, but
	// less for the last one. Divide counts by it for rates.
	Span     float64 `json:"span_s"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Bytes    int64   `json:"bytes"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	// CacheResponses and Hits give the second's hit ratio.
	CacheResponses int64   `json:"cache_responses"`
	Hits           int64   `json:"hits"`
	HitRatio       float64 `json:"hit_ratio"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// WriteText writes a human-readable summary.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	p := func(format string, args ...any) { fmt.Fprintf(ew, format, args...) }

	proto := ""
	if r.Proto != "" {
		proto = " " + r.Proto
	}
	p("%s%s load on %s\n", strings.ToUpper(r.Mode), proto, strings.Join(r.Targets, ", "))
	p("  workload    %s\n", r.Workload)
	if r.Loop == "open" {
		p("  schedule    open loop at %s req/s, %d clients (latency from scheduled send time)\n", fmtFloat(r.TargetRate), r.Concurrency)
	} else {
		p("  schedule    closed loop, %d clients\n", r.Concurrency)
	}
	p("  measured    %.2fs after %.2fs warmup (%d warmup requests left out); ended: %s\n",
		r.ElapsedSeconds, r.WarmupSeconds, r.WarmupRequests, r.StopReason)
	if r.Cancelled > 0 {
		p("  cancelled   %d requests in flight at the end\n", r.Cancelled)
	}
	p("\n")
	t := r.Total
	p("  requests    %d  (%d responses, %d errors, %.2f%%)\n", t.Requests, t.Responses, t.Errors, pct(t.Errors, t.Requests))
	p("  throughput  %s req/s", fmtFloat(t.Throughput))
	if r.TargetRate > 0 && t.Throughput < 0.95*r.TargetRate && !r.Interrupted {
		p("  (below the target %s req/s)", fmtFloat(r.TargetRate))
	}
	p("\n")
	p("  received    %s  (%s/s)\n", humanBytes(float64(t.BytesReceived)), humanBytes(t.Bandwidth))
	l := t.Latency
	p("  latency     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, sd %s)\n",
		fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.P999), fmtMs(l.Max), fmtMs(l.Mean), fmtMs(l.StdDev))
	if c := t.Cache; c.Responses > 0 {
		p("  cache       hit ratio %.2f%%  (hits %d, stale hits %d, misses %d, revalidated %d, bypass %d, other %d, collapsed %d)\n",
			100*c.HitRatio, c.Hits, c.StaleHits, c.Misses, c.Revalidated, c.Bypass, c.Other, c.Collapsed)
	} else if r.Mode == string(ModeHTTP) && t.Responses > 0 {
		p("  cache       n/a (no Cache-Status in responses)\n")
	}
	if o := r.Offload; o != nil {
		if o.Error != "" {
			p("  offload     n/a: %s\n", o.Error)
		} else {
			p("  offload     %.2f%%  (origin %d requests for %d client requests)\n", 100*o.Ratio, o.OriginRequests, o.ClientRequests)
		}
	}
	if len(t.Statuses) > 0 {
		p("  statuses    %s\n", fmtCounts(t.Statuses))
	}
	if len(t.Protocols) > 0 {
		p("  protocols   %s\n", fmtCounts(t.Protocols))
	}
	if len(t.ErrorsByKind) > 0 {
		p("  errors      %s\n", fmtCounts(t.ErrorsByKind))
	}
	for _, gs := range []struct {
		title  string
		groups []Group
	}{{"region", uniqueGroups(r.Regions)}, {"PoP", uniqueGroups(r.PoPs)}} {
		if len(gs.groups) == 0 {
			continue
		}
		p("\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  %s\trequests\terrors\treq/s\tp50\tp99\tp99.9\thit ratio\t\n", gs.title)
		for _, g := range gs.groups {
			hit := "n/a"
			if g.Cache.Responses > 0 {
				hit = fmt.Sprintf("%.2f%%", 100*g.Cache.HitRatio)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", g.Name, g.Requests, g.Errors,
				fmtFloat(g.Throughput), fmtMs(g.Latency.P50), fmtMs(g.Latency.P99), fmtMs(g.Latency.P999), hit)
		}
		tw.Flush()
	}
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	if err != nil {
		e.err = fmt.Errorf("write text report: %w", err)
	}
	return n, err
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func fmtFloat(f float64) string {
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	case f >= 10:
		return fmt.Sprintf("%.1f", f)
	}
	return fmt.Sprintf("%.2f", f)
}

func fmtMs(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1fs", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.0fµs", ms*1000)
}

func humanBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

// fmtCounts formats a count map largest first.
func fmtCounts(m map[string]int64) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// sortedKeys returns m's keys, largest count first, then by name.
func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// uniqueGroups returns gs with one group per name, in first-seen order.
// A group repeated with the same figures is the same group listed twice
// and is kept once; groups of one name with different figures are parts
// of one group and are merged.
func uniqueGroups(gs []Group) []Group {
	var out []Group
	at := map[string]int{}
	for _, g := range gs {
		i, seen := at[g.Name]
		switch {
		case !seen:
			at[g.Name] = len(out)
			out = append(out, g)
		case !sameFigures(out[i], g):
			out[i] = mergeGroups(out[i], g)
		}
	}
	return out
}

// sameFigures says a and b hold the same statistics, whatever their names.
func sameFigures(a, b Group) bool {
	a.Name, b.Name = "", ""
	return reflect.DeepEqual(a, b)
}

// groupRow is a row of the region and PoP table.
type groupRow struct {
	Label string
	G     Group
}

// groupRows lists regions, then PoPs, one row each. Clients of a region
// are usually served by the PoP of the same name; when that PoP served
// exactly them, the region and the PoP have the same figures and share one
// row.
func groupRows(regions, pops []Group) []groupRow {
	var rows []groupRow
	region := map[string]int{}
	for _, g := range regions {
		region[g.Name] = len(rows)
		rows = append(rows, groupRow{"region " + g.Name, g})
	}
	for _, g := range pops {
		if i, ok := region[g.Name]; ok && sameFigures(rows[i].G, g) {
			rows[i].Label = "region & PoP " + g.Name
			continue
		}
		rows = append(rows, groupRow{"PoP " + g.Name, g})
	}
	return rows
}

// mergeGroups combines two parts of one group measured over the same run.
// Counts add up; percentiles are those of the mixture of both
// distributions, read from their percentile ladders.
func mergeGroups(a, b Group) Group {
	g := Group{
		Name:          a.Name,
		Requests:      a.Requests + b.Requests,
		Responses:     a.Responses + b.Responses,
		Errors:        a.Errors + b.Errors,
		ErrorsByKind:  addCounts(a.ErrorsByKind, b.ErrorsByKind),
		Statuses:      addCounts(a.Statuses, b.Statuses),
		Protocols:     addCounts(a.Protocols, b.Protocols),
		Throughput:    a.Throughput + b.Throughput,
		BytesReceived: a.BytesReceived + b.BytesReceived,
		Bandwidth:     a.Bandwidth + b.Bandwidth,
		Latency:       mergeLatency(a.Latency, b.Latency),
	}
	c, ac, bc := &g.Cache, a.Cache, b.Cache
	c.Responses = ac.Responses + bc.Responses
	c.Without = ac.Without + bc.Without
	c.Hits = ac.Hits + bc.Hits
	c.StaleHits = ac.StaleHits + bc.StaleHits
	c.Misses = ac.Misses + bc.Misses
	c.Revalidated = ac.Revalidated + bc.Revalidated
	c.Bypass = ac.Bypass + bc.Bypass
	c.Other = ac.Other + bc.Other
	c.Collapsed = ac.Collapsed + bc.Collapsed
	c.Stored = ac.Stored + bc.Stored
	c.Fwd = addCounts(ac.Fwd, bc.Fwd)
	if c.Responses > 0 {
		c.HitRatio = float64(c.Hits) / float64(c.Responses)
	}
	return g
}

func addCounts(a, b map[string]int64) map[string]int64 {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(map[string]int64, len(a)+len(b))
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// mergeLatency combines two latency summaries by count. Without both
// percentile ladders, the percentiles are count-weighted means of the two,
// an approximation.
func mergeLatency(a, b Latency) Latency {
	switch {
	case a.Count == 0:
		return b
	case b.Count == 0:
		return a
	}
	n := a.Count + b.Count
	wa := float64(a.Count) / float64(n)
	wb := 1 - wa
	l := Latency{Count: n, Min: math.Min(a.Min, b.Min), Max: math.Max(a.Max, b.Max), Mean: wa*a.Mean + wb*b.Mean}
	square := wa*(a.StdDev*a.StdDev+a.Mean*a.Mean) + wb*(b.StdDev*b.StdDev+b.Mean*b.Mean)
	l.StdDev = math.Sqrt(math.Max(0, square-l.Mean*l.Mean))
	ladders := len(a.Distribution) > 0 && len(b.Distribution) > 0
	at := func(p, va, vb float64) float64 {
		if !ladders {
			return wa*va + wb*vb
		}
		return mixtureQuantile(p, wa, a, b, l.Min, l.Max)
	}
	l.P50 = at(50, a.P50, b.P50)
	l.P90 = at(90, a.P90, b.P90)
	l.P99 = at(99, a.P99, b.P99)
	l.P999 = at(99.9, a.P999, b.P999)
	if ladders {
		for _, q := range a.Distribution {
			l.Distribution = append(l.Distribution, Quantile{Percentile: q.Percentile, Ms: at(q.Percentile, 0, 0)})
		}
	}
	return l
}

// mixtureQuantile is the latency at percentile p of the mixture of a
// (weight wa) and b (weight 1-wa), between lo and hi.
func mixtureQuantile(p, wa float64, a, b Latency, lo, hi float64) float64 {
	switch {
	case p <= 0:
		return lo
	case p >= 100:
		return hi
	}
	below := func(x float64) float64 {
		return wa*percentBelow(a.Distribution, x) + (1-wa)*percentBelow(b.Distribution, x)
	}
	for i := 0; i < 64 && hi-lo > 1e-9*hi; i++ {
		mid := (lo + hi) / 2
		if below(mid) >= p {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// percentBelow reads from a percentile ladder the percentage of values at
// most x, interpolating linearly between rungs.
func percentBelow(d []Quantile, x float64) float64 {
	if x < d[0].Ms {
		return 0
	}
	if x >= d[len(d)-1].Ms {
		return 100
	}
	k := sort.Search(len(d), func(i int) bool { return d[i].Ms > x }) - 1
	f := (x - d[k].Ms) / (d[k+1].Ms - d[k].Ms)
	return d[k].Percentile + f*(d[k+1].Percentile-d[k].Percentile)
}
