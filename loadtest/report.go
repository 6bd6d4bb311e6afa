package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
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
	}{{"region", r.Regions}, {"PoP", r.PoPs}} {
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
