// Package loadtest generates realistic client load against a CDN or any HTTP
// or DNS server and reports what operators judge a CDN by: throughput,
// latency percentiles, errors by kind, hit ratio (from Cache-Status, RFC
// 9211), origin offload, per region and per PoP, second by second.
//
// Open-loop runs follow a fixed schedule and measure every request's latency
// from the time the schedule intended to send it, so a stalled server cannot
// hide its stall by slowing the generator down (coordinated omission).
package loadtest

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/selfcdn/cdn/endpoints"
)

// Mode says what kind of load a run generates.
type Mode string

// The modes a run can have.
const (
	// ModeHTTP sends HTTP requests (the default).
	ModeHTTP Mode = "http"
	// ModeDNS sends DNS queries.
	ModeDNS Mode = "dns"
)

// Proto is the HTTP protocol version clients speak.
type Proto string

// The HTTP protocols a run can use.
const (
	// ProtoH1 is HTTP/1.1, over TCP or TLS (the default).
	ProtoH1 Proto = "h1"
	// ProtoH2 is HTTP/2 over TLS, negotiated with ALPN.
	ProtoH2 Proto = "h2"
	// ProtoH2C is HTTP/2 over cleartext TCP with prior knowledge (RFC 9113 §3.3).
	ProtoH2C Proto = "h2c"
	// ProtoH3 is HTTP/3 over QUIC (RFC 9114).
	ProtoH3 Proto = "h3"
)

// Defaults applied to zero fields of a Config.
const (
	DefaultDuration          = 10 * time.Second
	DefaultMaxDuration       = time.Hour
	DefaultTimeout           = 10 * time.Second
	DefaultClosedConcurrency = 16
	DefaultOpenConcurrency   = 64
	DefaultObjects           = 1000
	DefaultZipf              = 1.0
	DefaultSizes             = "1KiB:70,64KiB:25,1MiB:5"
	DefaultPathTemplate      = "/gen/obj-{i}?size={size}&cc={cc}"
	DefaultCacheControl      = "public, max-age=300"
	DefaultProgressInterval  = time.Second
)

// Config describes one load test run. The zero value of every field works
// (see each field for its default) except that a run needs a target: URLs,
// Endpoints, or in DNS mode DNS.Server.
type Config struct {
	// Mode is ModeHTTP or ModeDNS. Empty means ModeHTTP.
	Mode Mode

	// URLs are the HTTP targets. A URL whose path is empty or "/" is a base:
	// the workload's paths are appended to it, spreading requests over all
	// bases. A URL with a path is one object: when every URL has a path the
	// list itself is the object catalogue, ranked by popularity in list order.
	URLs []string
	// Endpoints, when set, targets a running CDN as its simulation
	// describes it: clients of each PoP's region send from that PoP's
	// ClientNetwork, resolve the site through GeoDNS and connect to the
	// edge address GeoDNS answers with. It cannot be combined with URLs.
	Endpoints *endpoints.File
	// Sites limits endpoints mode to these hostnames. Empty means every
	// site in Endpoints.
	Sites []string

	// Proto is the HTTP protocol. Empty means ProtoH1.
	Proto Proto
	// TLS configures certificate checking for h2, h3 and https URLs.
	TLS TLSConfig
	// Header is added to every HTTP request. Nil adds nothing.
	Header http.Header

	// Workload says which requests are sent.
	Workload Workload

	// Rate, when positive, makes the run open loop: requests are sent on a
	// fixed schedule of Rate per second whatever the server does, and
	// latency is measured from each request's scheduled time. Zero makes
	// it closed loop: Concurrency clients each send their next request
	// when the previous one has finished.
	Rate float64
	// Concurrency is the number of clients, each with its own connections.
	// In an open-loop run it bounds the requests in flight: a request whose
	// scheduled time comes while every client is busy waits, and that wait
	// counts in its latency. Zero means 16 closed loop, 64 open loop.
	Concurrency int
	// Warmup is sent first and left out of every statistic. Zero means none.
	Warmup time.Duration
	// Duration bounds the measured part of the run. Zero means 10s, or no
	// bound other than MaxDuration when Requests is set.
	Duration time.Duration
	// Requests, when positive, ends the run after this many measured requests.
	Requests int64
	// MaxDuration is the hard cap on the whole run, warmup included:
	// whatever else happens, the run ends then. Zero means 1h.
	MaxDuration time.Duration
	// Timeout bounds each request, from sending it to its last body byte.
	// Zero means 10s.
	Timeout time.Duration
	// Seed makes the workload's random choices repeatable. Zero is a seed
	// like any other.
	Seed uint64

	// OriginStats is the URL of an origin's counters (GET returning JSON
	// {"total": N}); read before and after the measured part to compute
	// origin offload. Empty means Endpoints' Origin + "/_origin/stats" in
	// endpoints mode, and no offload otherwise.
	OriginStats string

	// DNS configures ModeDNS.
	DNS DNSConfig

	// Progress, when non-nil, receives a one-line progress display,
	// rewritten in place with a carriage return, every ProgressInterval.
	Progress io.Writer
	// ProgressInterval is how often Progress is updated. Zero means 1s.
	ProgressInterval time.Duration
	// Logger receives warnings (e.g. an origin stats URL that failed).
	// Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now. It must be monotonic for
	// latencies to be right; tests may wrap time.Now but not replace it
	// with a frozen clock.
	Now func() time.Time

	// observe, when non-nil, is called after each request with its ticket,
	// scheduled time and completion time. Tests use it to check ordering.
	observe func(ticket int64, intended, done time.Time)
}

// TLSConfig says how HTTPS and QUIC server certificates are checked.
type TLSConfig struct {
	// Insecure skips certificate verification.
	Insecure bool
	// CAFile is a PEM file of certificate authorities to trust instead of
	// the system's. Empty means the system roots (or RootCAs).
	CAFile string
	// RootCAs, when non-nil, is the pool to trust; it takes precedence
	// over CAFile.
	RootCAs *x509.CertPool
}

// Workload says which requests a run sends.
type Workload struct {
	// Objects is the number of distinct objects of the Zipf workload.
	// Zero means 1000.
	Objects int
	// Zipf is the exponent s of the popularity distribution: the object of
	// rank k is requested with probability proportional to 1/k^s. Zero
	// means 1.0; use Uniform for equal popularity.
	Zipf float64
	// Uniform gives every object the same popularity, ignoring Zipf.
	Uniform bool
	// Sizes is the distribution of object sizes; each object draws its size
	// once, so it is the same on every request. Nil means
	// 1KiB:70,64KiB:25,1MiB:5.
	Sizes []SizeWeight
	// PathTemplate builds an object's path: {i} is the object's rank
	// (0 is the most popular), {size} its size in bytes and {cc} the
	// query-escaped CacheControl. Empty means /gen/obj-{i}?size={size}&cc={cc}.
	PathTemplate string
	// CacheControl is the value substituted for {cc}. Empty means
	// "public, max-age=300".
	CacheControl string
	// Trace, when non-empty, replaces the Zipf workload: its entries are
	// sent in order.
	Trace []TraceEntry
	// TraceLoop replays Trace from the start when it is exhausted. Without
	// it, the run ends with the trace.
	TraceLoop bool
}

// DNSConfig configures a DNS-mode run.
type DNSConfig struct {
	// Server is the host:port queried. Empty means Endpoints' DNS.
	Server string
	// Names are the names queried, chosen at random per query. Empty means
	// Endpoints' sites.
	Names []string
	// Type is the query type, e.g. "A" or "AAAA". Empty means "A".
	Type string
	// Net is "udp" or "tcp". Empty means "udp".
	Net string
	// Subnets are the networks client subnets are drawn from: every query
	// carries an EDNS Client Subnet option (RFC 7871) with a random /24
	// (IPv6: /56) inside one of them. Empty means the Endpoints' client
	// networks, or no ECS option without Endpoints.
	Subnets []netip.Prefix
}

// SizeWeight is one entry of an object size distribution.
type SizeWeight struct {
	// Bytes is the object size.
	Bytes int64 `json:"bytes"`
	// Weight is the relative share of objects with this size.
	Weight float64 `json:"weight"`
}

// TraceEntry is one request of a replayed trace.
type TraceEntry struct {
	// Method is the HTTP method; empty means GET.
	Method string `json:"method,omitempty"`
	// Target is an absolute URL or a path (with query) sent to the run's
	// targets.
	Target string `json:"target"`
}

// withDefaults returns c with every zero field that has a default filled in.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeHTTP
	}
	if c.Proto == "" {
		c.Proto = ProtoH1
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultClosedConcurrency
		if c.Rate > 0 {
			c.Concurrency = DefaultOpenConcurrency
		}
	}
	if c.Duration == 0 && c.Requests == 0 {
		c.Duration = DefaultDuration
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	w := &c.Workload
	if w.Objects == 0 {
		w.Objects = DefaultObjects
	}
	if w.Zipf == 0 {
		w.Zipf = DefaultZipf
	}
	if w.Sizes == nil {
		w.Sizes, _ = ParseSizes(DefaultSizes)
	}
	if w.PathTemplate == "" {
		w.PathTemplate = DefaultPathTemplate
	}
	if w.CacheControl == "" {
		w.CacheControl = DefaultCacheControl
	}
	d := &c.DNS
	if d.Type == "" {
		d.Type = "A"
	}
	if d.Net == "" {
		d.Net = "udp"
	}
	if c.Endpoints != nil {
		if d.Server == "" {
			d.Server = c.Endpoints.DNS
		}
		if len(d.Names) == 0 {
			d.Names = c.Endpoints.Sites
		}
		if len(c.Sites) == 0 {
			c.Sites = c.Endpoints.Sites
		}
		if c.OriginStats == "" && c.Endpoints.Origin != "" && c.Mode == ModeHTTP {
			c.OriginStats = strings.TrimSuffix(c.Endpoints.Origin, "/") + "/_origin/stats"
		}
	}
	return c
}

// Validate reports every problem with c, each naming its field path, joined
// into one error; nil means c can run.
func (c Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	d := c.withDefaults()

	switch d.Mode {
	case ModeHTTP, ModeDNS:
	default:
		bad("mode", "unknown mode %q (want http or dns)", c.Mode)
	}
	switch d.Proto {
	case ProtoH1, ProtoH2, ProtoH2C, ProtoH3:
	default:
		bad("proto", "unknown protocol %q (want h1, h2, h2c or h3)", c.Proto)
	}
	if c.Rate < 0 {
		bad("rate", "must not be negative, got %g", c.Rate)
	}
	if c.Concurrency < 0 {
		bad("concurrency", "must not be negative, got %d", c.Concurrency)
	}
	if c.Concurrency > 100000 {
		bad("concurrency", "at most 100000 clients, got %d", c.Concurrency)
	}
	for path, v := range map[string]time.Duration{
		"warmup": c.Warmup, "duration": c.Duration, "max_duration": c.MaxDuration,
		"timeout": c.Timeout, "progress_interval": c.ProgressInterval,
	} {
		if v < 0 {
			bad(path, "must not be negative, got %s", v)
		}
	}
	if c.Requests < 0 {
		bad("requests", "must not be negative, got %d", c.Requests)
	}

	if d.Mode == ModeHTTP {
		errs = append(errs, d.validateTargets()...)
		errs = append(errs, d.Workload.validate("workload")...)
	}
	if d.Mode == ModeDNS {
		errs = append(errs, d.DNS.validate("dns")...)
	}
	if c.OriginStats != "" {
		if u, err := url.Parse(c.OriginStats); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("origin_stats", "not an http(s) URL: %q", c.OriginStats)
		}
	}
	return errors.Join(errs...)
}

func (c Config) validateTargets() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if len(c.URLs) > 0 && c.Endpoints != nil {
		bad("urls", "cannot be combined with endpoints")
	}
	allTraceAbsolute := len(c.Workload.Trace) > 0
	for _, e := range c.Workload.Trace {
		if !isAbsoluteURL(e.Target) {
			allTraceAbsolute = false
			break
		}
	}
	if len(c.URLs) == 0 && c.Endpoints == nil && !allTraceAbsolute {
		bad("urls", "no target: give URLs, endpoints, or a trace of absolute URLs")
	}
	bases, objects := 0, 0
	for i, raw := range c.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			bad(fmt.Sprintf("urls[%d]", i), "parse %q: %v", raw, err)
			continue
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			bad(fmt.Sprintf("urls[%d]", i), "scheme of %q must be http or https", raw)
		}
		if u.Host == "" {
			bad(fmt.Sprintf("urls[%d]", i), "no host in %q", raw)
		}
		if c.Proto == ProtoH2C && u.Scheme == "https" {
			bad(fmt.Sprintf("urls[%d]", i), "h2c is cleartext; %q is https", raw)
		}
		if (c.Proto == ProtoH2 || c.Proto == ProtoH3) && u.Scheme != "https" {
			bad(fmt.Sprintf("urls[%d]", i), "%s needs an https URL, got %q", c.Proto, raw)
		}
		if isBase(u) {
			bases++
		} else {
			objects++
		}
	}
	if bases > 0 && objects > 0 {
		bad("urls", "mixes bases (no path) with objects (with a path); give one kind")
	}
	if ep := c.Endpoints; ep != nil {
		if len(c.Sites) == 0 {
			bad("endpoints.sites", "no site to request")
		}
		if ep.DNS == "" {
			bad("endpoints.dns", "no GeoDNS address")
		}
		regions := 0
		var noPort []string // edges without a port for the protocol
		for i, p := range ep.PoPs {
			if p.ClientNetwork != "" {
				if _, err := netip.ParsePrefix(p.ClientNetwork); err != nil {
					bad(fmt.Sprintf("endpoints.pops[%d].client_network", i), "%v", err)
				} else {
					regions++
				}
			}
			for j, e := range p.Edges {
				if _, err := netip.ParseAddr(e.Address); err != nil {
					bad(fmt.Sprintf("endpoints.pops[%d].edges[%d].address", i, j), "%v", err)
				}
				if port := edgePort(e, c.Proto); port <= 0 {
					noPort = append(noPort, fmt.Sprintf("endpoints.pops[%d].edges[%d]", i, j))
				}
			}
		}
		if len(noPort) > 0 {
			// One line for all of them, with what to do about it.
			hint := ""
			if c.Proto == ProtoH2 || c.Proto == ProtoH3 {
				hint = "; " + string(c.Proto) + " needs TLS: start the simulation with --tls (cdn sim --tls), or use --proto h1 or h2c"
			}
			bad(noPort[0]+".ports", "no port for %s (%d of the edges)%s", c.Proto, len(noPort), hint)
		}
		if regions == 0 {
			bad("endpoints.pops", "no PoP has a client_network to send from")
		}
	}
	return errs
}

func (w Workload) validate(path string) []error {
	var errs []error
	bad := func(p, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, p, fmt.Sprintf(format, args...)))
	}
	if w.Objects < 0 || w.Objects > 100_000_000 {
		bad("objects", "must be between 1 and 100000000, got %d", w.Objects)
	}
	if w.Zipf < 0 || w.Zipf > 10 {
		bad("zipf", "exponent must be between 0 and 10, got %g", w.Zipf)
	}
	total := 0.0
	for i, s := range w.Sizes {
		if s.Bytes < 0 {
			bad(fmt.Sprintf("sizes[%d].bytes", i), "must not be negative, got %d", s.Bytes)
		}
		if s.Weight < 0 {
			bad(fmt.Sprintf("sizes[%d].weight", i), "must not be negative, got %g", s.Weight)
		}
		total += s.Weight
	}
	if len(w.Sizes) > 0 && total <= 0 {
		bad("sizes", "weights add up to zero")
	}
	if len(w.Trace) == 0 && !strings.HasPrefix(w.PathTemplate, "/") {
		bad("path_template", "must start with /, got %q", w.PathTemplate)
	}
	for i, e := range w.Trace {
		if e.Method != "" && !validMethod(e.Method) {
			bad(fmt.Sprintf("trace[%d].method", i), "invalid method %q", e.Method)
		}
		if !isAbsoluteURL(e.Target) && !strings.HasPrefix(e.Target, "/") {
			bad(fmt.Sprintf("trace[%d].target", i), "neither an absolute URL nor a path: %q", e.Target)
		}
	}
	return errs
}

func (d DNSConfig) validate(path string) []error {
	var errs []error
	bad := func(p, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, p, fmt.Sprintf(format, args...)))
	}
	if d.Server == "" {
		bad("server", "no DNS server to query")
	} else if _, err := netip.ParseAddrPort(d.Server); err != nil {
		bad("server", "want ip:port, got %q: %v", d.Server, err)
	}
	if len(d.Names) == 0 {
		bad("names", "no name to query")
	}
	if _, ok := dnsType(d.Type); !ok {
		bad("type", "unknown query type %q", d.Type)
	}
	if d.Net != "udp" && d.Net != "tcp" {
		bad("net", "want udp or tcp, got %q", d.Net)
	}
	return errs
}

// isBase reports whether u names a server rather than one object.
func isBase(u *url.URL) bool {
	return (u.Path == "" || u.Path == "/") && u.RawQuery == ""
}

func isAbsoluteURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// validMethod reports whether m is an RFC 9110 §9.1 token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}

// edgePort is the port an edge serves proto on: the HTTPS port for the TLS
// protocols, the HTTP port for the cleartext ones.
func edgePort(n endpoints.Node, p Proto) int {
	if p == ProtoH2 || p == ProtoH3 {
		return n.Ports.HTTPS
	}
	return n.Ports.HTTP
}
