package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/selfcdn/cdn/endpoints"
	"github.com/selfcdn/cdn/loadtest"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadtest", "[--url URL ... | --urls FILE | --endpoints FILE] [flags]", stderr)
	var urls, headers stringList
	fs.Var(&urls, "url", "target `URL`, repeatable: a base (no path) gets the workload's paths, a URL with a path is one object")
	urlsFile := fs.String("urls", "", "`FILE` of target URLs, one per line")
	endpointsFile := fs.String("endpoints", "", "simulation endpoints `FILE`: clients per PoP region, resolved through GeoDNS")
	sites := fs.String("sites", "", "comma-separated sites to request in endpoints mode (default every site)")
	mode := fs.String("mode", "http", "load kind: http or dns")
	proto := fs.String("proto", "h1", "HTTP protocol: h1, h2 (TLS), h2c (cleartext, prior knowledge) or h3 (QUIC)")
	insecure := fs.Bool("insecure", false, "skip TLS certificate verification")
	ca := fs.String("ca", "", "PEM `FILE` of certificate authorities to trust")
	fs.Var(&headers, "header", "request header \"Name: value\", repeatable")
	objects := fs.Int("objects", loadtest.DefaultObjects, "number of distinct objects of the Zipf workload")
	zipf := fs.Float64("zipf", loadtest.DefaultZipf, "Zipf popularity exponent (0 means uniform)")
	sizes := fs.String("sizes", loadtest.DefaultSizes, "object size distribution, size:weight pairs")
	pathTemplate := fs.String("path-template", loadtest.DefaultPathTemplate, "object path; {i} rank, {size} bytes, {cc} cache-control")
	cacheControl := fs.String("cache-control", loadtest.DefaultCacheControl, "value substituted for {cc}")
	traceFile := fs.String("trace", "", "replay `FILE`: one request a line, \"[METHOD] URL-or-path\"")
	traceLoop := fs.Bool("trace-loop", false, "replay the trace again when it ends (default: the run ends with it)")
	rate := fs.Float64("rate", 0, "open loop: requests per second on a fixed schedule (0: closed loop)")
	concurrency := fs.Int("concurrency", 0, "clients (default 16 closed loop, 64 open loop)")
	warmup := fs.Duration("warmup", 0, "warmup left out of the statistics")
	duration := fs.Duration("duration", loadtest.DefaultDuration, "measured duration (unbounded but for --max-duration when only --requests is given)")
	requests := fs.Int64("requests", 0, "stop after this many measured requests (0: no count bound)")
	maxDuration := fs.Duration("max-duration", loadtest.DefaultMaxDuration, "hard cap on the whole run")
	timeout := fs.Duration("timeout", loadtest.DefaultTimeout, "per-request timeout")
	seed := fs.Uint64("seed", 1, "random seed of the workload")
	originStats := fs.String("origin-stats", "", "origin stats `URL` (JSON {\"total\": N}) for origin offload (default: the endpoints file's origin)")
	dnsServer := fs.String("dns-server", "", "DNS mode: server ip:port (default: the endpoints file's dns)")
	dnsNames := fs.String("dns-names", "", "DNS mode: comma-separated names to query (default: the endpoints file's sites)")
	dnsType := fs.String("dns-type", "A", "DNS mode: query type")
	dnsNet := fs.String("dns-net", "udp", "DNS mode: udp or tcp")
	dnsSubnets := fs.String("dns-subnets", "", "DNS mode: comma-separated networks to draw ECS /24s from (default: the endpoints' client networks)")
	jsonFile := fs.String("json", "", "write the full report as JSON to `FILE`")
	htmlFile := fs.String("html", "", "write a self-contained HTML report to `FILE`")
	progress := fs.Bool("progress", false, "show the progress line even when stderr is not a terminal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := loadtest.Config{
		Mode: loadtest.Mode(*mode), Proto: loadtest.Proto(*proto), URLs: urls,
		TLS:  loadtest.TLSConfig{Insecure: *insecure, CAFile: *ca},
		Rate: *rate, Concurrency: *concurrency, Warmup: *warmup, Duration: *duration,
		Requests: *requests, MaxDuration: *maxDuration, Timeout: *timeout, Seed: *seed,
		OriginStats: *originStats,
		DNS:         loadtest.DNSConfig{Server: *dnsServer, Names: splitComma(*dnsNames), Type: *dnsType, Net: *dnsNet},
		Sites:       splitComma(*sites),
	}
	if *requests > 0 && !set["duration"] {
		cfg.Duration = 0
	}
	if *duration <= 0 && *requests <= 0 {
		return usageError{"--duration must be positive unless --requests is given"}
	}
	if *objects <= 0 {
		return usageError{fmt.Sprintf("--objects must be positive, got %d", *objects)}
	}
	cfg.Workload = loadtest.Workload{
		Objects: *objects, Zipf: *zipf, Uniform: *zipf == 0, PathTemplate: *pathTemplate,
		CacheControl: *cacheControl, TraceLoop: *traceLoop,
	}
	sw, err := loadtest.ParseSizes(*sizes)
	if err != nil {
		return usageError{"--sizes: " + err.Error()}
	}
	cfg.Workload.Sizes = sw
	if len(headers) > 0 {
		cfg.Header = http.Header{}
		for _, h := range headers {
			name, value, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return usageError{fmt.Sprintf("--header %q: want \"Name: value\"", h)}
			}
			cfg.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	for _, s := range splitComma(*dnsSubnets) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return usageError{fmt.Sprintf("--dns-subnets: %v", err)}
		}
		cfg.DNS.Subnets = append(cfg.DNS.Subnets, p)
	}
	if *urlsFile != "" {
		list, err := readURLList(*urlsFile)
		if err != nil {
			return usageError{"--urls: " + err.Error()}
		}
		cfg.URLs = append(cfg.URLs, list...)
	}
	if *endpointsFile != "" {
		f, err := endpoints.Read(*endpointsFile)
		if err != nil {
			return usageError{"--endpoints: " + err.Error()}
		}
		cfg.Endpoints = f
	}
	if *traceFile != "" {
		tr, err := loadtest.ReadTrace(*traceFile)
		if err != nil {
			return usageError{"--trace: " + err.Error()}
		}
		cfg.Workload.Trace = tr
	}
	if err := cfg.Validate(); err != nil {
		return usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	if *progress || isTerminal(stderr) {
		cfg.Progress = stderr
	}

	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if *jsonFile != "" {
		if err := writeReportFile(*jsonFile, rep.WriteJSON); err != nil {
			return err
		}
	}
	if *htmlFile != "" {
		if err := writeReportFile(*htmlFile, rep.WriteHTML); err != nil {
			return err
		}
	}
	return nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readURLList reads one URL a line, skipping blank lines and # comments.
func readURLList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no URL in it", path)
	}
	return out, nil
}

func writeReportFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report file: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close report file %s: %w", path, err)
	}
	return nil
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
