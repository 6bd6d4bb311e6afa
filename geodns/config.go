// Package geodns is an authoritative DNS server for the CDN's zone that
// answers each query for a geo name with the edges of the nearest healthy
// point of presence (PoP), located by EDNS Client Subnet (RFC 7871) or by the
// querier's address in a MaxMind City database.
package geodns

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults applied by Config when a field is left at its zero value.
const (
	DefaultTTL          = 30 * time.Second
	DefaultMaxAnswers   = 2
	DefaultCacheSize    = 65536
	DefaultSOATTL       = time.Hour
	DefaultRefresh      = time.Hour
	DefaultRetry        = 15 * time.Minute
	DefaultExpire       = 7 * 24 * time.Hour
	DefaultNegativeTTL  = 60 * time.Second
	DefaultInterval     = 5 * time.Second
	DefaultProbeTimeout = 2 * time.Second
	DefaultRise         = 2
	DefaultFall         = 2
)

// Config describes one zone: its name servers, its static records, the geo
// names answered by PoP, the PoPs with their edges, and how PoPs are chosen.
// It is plain data; New and Reload take a copy and never modify it.
type Config struct {
	// Zone is the FQDN the server is authoritative for, e.g.
	// "cdn.example.com.". Names are compared case-insensitively.
	Zone string
	// NS are the zone's name servers, published at the apex. A name server
	// inside the zone needs addresses, served as glue.
	NS []NameServer
	// SOA holds the start-of-authority values; zero fields take defaults.
	SOA SOA
	// GeoNames are FQDNs inside the zone answered with the chosen PoP's
	// edges (A and AAAA).
	GeoNames []string
	// Records are static records served as written.
	Records []Record
	// PoPs are the points of presence, in the order that breaks ties.
	PoPs []PoP
	// Countries maps an ISO 3166-1 alpha-2 country code to PoP names in
	// order of preference; it takes precedence over distance.
	Countries map[string][]string
	// Continents maps a continent code (AF, AN, AS, EU, NA, OC, SA) to PoP
	// names in order of preference, used when no country entry matches.
	Continents map[string][]string
	// DefaultPoPs are used for clients whose location is unknown. If empty,
	// every PoP in config order.
	DefaultPoPs []string
	// MaxAnswers is how many edges one answer holds. Default 2.
	MaxAnswers int
	// TTL is the TTL of geo answers and of static records without one.
	// Default 30s.
	TTL time.Duration
	// GeoIPPath is a MaxMind City (or Country) database. If empty, every
	// client is of unknown location and gets DefaultPoPs.
	GeoIPPath string
	// Health configures the edge health checks.
	Health HealthConfig
	// CacheSize bounds how many database networks keep their PoP ranking
	// in memory. Default 65536.
	CacheSize int
	// DNSSEC signs answers online when its key files are set.
	DNSSEC DNSSECConfig
}

// NameServer is one NS record at the apex.
type NameServer struct {
	// Name is the name server's FQDN.
	Name string
	// Addrs are its addresses; required (and served as glue) when Name is
	// inside the zone, ignored otherwise.
	Addrs []netip.Addr
}

// SOA holds the zone's start-of-authority values (RFC 1035 §3.3.13).
type SOA struct {
	// MName is the primary name server. Default: the first NS name.
	MName string
	// RName is the responsible mailbox as a domain name. Default
	// "hostmaster.<zone>".
	RName string
	// Serial is the zone serial. If 0, a hash of the rest of the
	// configuration: the same on every node given the same configuration,
	// and different (not necessarily larger) when it changes.
	Serial uint32
	// Refresh, Retry and Expire are for secondaries. Defaults 1h, 15m, 7d.
	Refresh, Retry, Expire time.Duration
	// NegativeTTL is the SOA MINIMUM, the negative caching TTL (RFC 2308
	// §4). Default 60s.
	NegativeTTL time.Duration
	// TTL is the TTL of the SOA, NS and glue records. Default 1h.
	TTL time.Duration
}

// Record is one static resource record.
type Record struct {
	// Name is the owner FQDN inside the zone.
	Name string
	// Type is the RR type mnemonic: A, AAAA, CNAME, TXT, MX, NS, SRV, CAA...
	Type string
	// TTL is the record's TTL. If 0, Config.TTL.
	TTL time.Duration
	// Value is the RDATA in zone-file syntax, e.g. `10 mail.example.com.`
	// for MX or `"v=spf1 -all"` for TXT.
	Value string
}

// PoP is a point of presence: a place with edges.
type PoP struct {
	// Name identifies the PoP in overrides, metrics and logs.
	Name string
	// Lat and Lon are the PoP's coordinates in degrees.
	Lat, Lon float64
	// Weight is the PoP's relative capacity; distances are divided by it.
	// Default 1.
	Weight float64
	// Edges are the PoP's edge servers.
	Edges []Edge
}

// Edge is one edge server of a PoP.
type Edge struct {
	// Name identifies the edge in metrics, logs and HealthStatus.
	Name string
	// Addrs are the edge's IPv4 and IPv6 addresses.
	Addrs []netip.Addr
	// HealthURL is probed with HTTP GET; a 2xx status is healthy. If empty,
	// the edge is always considered healthy.
	HealthURL string
	// HealthAddr, used when HealthURL is empty, is a host:port probed by
	// a TCP connect (a layer-4 balancer's listener): connecting within the
	// timeout is healthy.
	HealthAddr string
}

// HealthConfig configures the edge health checks.
type HealthConfig struct {
	// Interval between probes of one edge. Default 5s.
	Interval time.Duration
	// Timeout of one probe. Default 2s.
	Timeout time.Duration
	// Rise is how many consecutive successes bring a down edge back.
	// Default 2.
	Rise int
	// Fall is how many consecutive failures take an edge down. Default 2.
	Fall int
	// Disabled turns probing off: every edge is healthy.
	Disabled bool
}

// withDefaults returns a copy of c with zero fields set to their defaults
// and names made canonical (lower case, fully qualified).
func (c Config) withDefaults() Config {
	c.Zone = canonical(c.Zone)
	if c.MaxAnswers == 0 {
		c.MaxAnswers = DefaultMaxAnswers
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	s := &c.SOA
	if s.MName == "" && len(c.NS) > 0 {
		s.MName = c.NS[0].Name
	}
	s.MName = canonical(s.MName)
	if s.RName == "" {
		s.RName = "hostmaster." + c.Zone
	}
	s.RName = canonical(s.RName)
	setDur(&s.Refresh, DefaultRefresh)
	setDur(&s.Retry, DefaultRetry)
	setDur(&s.Expire, DefaultExpire)
	setDur(&s.NegativeTTL, DefaultNegativeTTL)
	setDur(&s.TTL, DefaultSOATTL)
	setDur(&c.DNSSEC.Validity, DefaultSigValidity)
	h := &c.Health
	setDur(&h.Interval, DefaultInterval)
	setDur(&h.Timeout, DefaultProbeTimeout)
	if h.Rise == 0 {
		h.Rise = DefaultRise
	}
	if h.Fall == 0 {
		h.Fall = DefaultFall
	}
	ns := make([]NameServer, len(c.NS))
	for i, n := range c.NS {
		ns[i] = NameServer{Name: canonical(n.Name), Addrs: n.Addrs}
	}
	c.NS = ns
	geo := make([]string, len(c.GeoNames))
	for i, g := range c.GeoNames {
		geo[i] = canonical(g)
	}
	c.GeoNames = geo
	pops := make([]PoP, len(c.PoPs))
	for i, p := range c.PoPs {
		if p.Weight == 0 {
			p.Weight = 1
		}
		pops[i] = p
	}
	c.PoPs = pops
	if c.SOA.Serial == 0 {
		c.SOA.Serial = contentSerial(c)
	}
	return c
}

// contentSerial derives a zone serial from a defaulted configuration, so
// that every node of a cluster agrees on it without being told (the nodes
// are all primaries and transfer nothing, so only agreement matters).
func contentSerial(c Config) uint32 {
	c.SOA.Serial = 0
	b, err := json.Marshal(c) // maps are written in key order
	if err != nil {
		return 1
	}
	h := fnv.New32a()
	h.Write(b)
	return max(h.Sum32(), 1)
}

func setDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// canonical lower-cases a domain name and makes it fully qualified.
func canonical(name string) string {
	if name == "" {
		return ""
	}
	return dns.CanonicalName(name)
}

// Validate reports every problem in c, each prefixed with its field path,
// e.g. "pops[1].edges[0].addrs: empty". It checks c as given, after
// defaults for zero values.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	d := c.withDefaults()
	zone := d.Zone
	zoneOK := false
	switch {
	case c.Zone == "":
		add("zone", "empty")
	case !validName(c.Zone):
		add("zone", "%q is not a valid domain name", c.Zone)
	default:
		zoneOK = true
	}
	inZone := func(name string) bool { return zoneOK && dns.IsSubDomain(zone, name) }

	if len(c.NS) == 0 {
		add("ns", "empty: a zone needs at least one name server")
	}
	for i, n := range c.NS {
		p := fmt.Sprintf("ns[%d]", i)
		if !validName(n.Name) {
			add(p+".name", "%q is not a valid domain name", n.Name)
			continue
		}
		if inZone(canonical(n.Name)) && len(n.Addrs) == 0 {
			add(p+".addrs", "empty: name server %s is inside zone %s and needs glue addresses", canonical(n.Name), zone)
		}
		for j, a := range n.Addrs {
			if !a.IsValid() {
				add(fmt.Sprintf("%s.addrs[%d]", p, j), "invalid address")
			}
		}
	}
	if c.SOA.MName != "" && !validName(c.SOA.MName) {
		add("soa.mname", "%q is not a valid domain name", c.SOA.MName)
	}
	if c.SOA.RName != "" && !validName(c.SOA.RName) {
		add("soa.rname", "%q is not a valid domain name", c.SOA.RName)
	}
	for _, f := range []struct {
		path string
		d    time.Duration
	}{
		{"soa.refresh", c.SOA.Refresh}, {"soa.retry", c.SOA.Retry}, {"soa.expire", c.SOA.Expire},
		{"soa.negative_ttl", c.SOA.NegativeTTL}, {"soa.ttl", c.SOA.TTL}, {"ttl", c.TTL},
	} {
		if f.d < 0 || f.d > math.MaxInt32*time.Second {
			add(f.path, "%s out of range", f.d)
		}
	}
	if c.MaxAnswers < 0 {
		add("max_answers", "%d is negative", c.MaxAnswers)
	}
	if c.CacheSize < 0 {
		add("cache_size", "%d is negative", c.CacheSize)
	}

	geoSeen := map[string]int{}
	for i, g := range c.GeoNames {
		p := fmt.Sprintf("geo_names[%d]", i)
		switch {
		case !validName(g):
			add(p, "%q is not a valid domain name", g)
		case zoneOK && !inZone(canonical(g)):
			add(p, "not inside zone %s", zone)
		default:
			if j, dup := geoSeen[canonical(g)]; dup {
				add(p, "duplicate of geo_names[%d]", j)
			}
			geoSeen[canonical(g)] = i
		}
	}

	cname := map[string]int{}
	other := map[string]int{}
	for i, r := range c.Records {
		p := fmt.Sprintf("records[%d]", i)
		if !validName(r.Name) {
			add(p+".name", "%q is not a valid domain name", r.Name)
			continue
		}
		name := canonical(r.Name)
		if zoneOK && !inZone(name) {
			add(p+".name", "%s not inside zone %s", name, zone)
			continue
		}
		if r.TTL < 0 || r.TTL > math.MaxInt32*time.Second {
			add(p+".ttl", "%s out of range", r.TTL)
		}
		t, ok := dns.StringToType[strings.ToUpper(r.Type)]
		if !ok {
			add(p+".type", "unknown record type %q", r.Type)
			continue
		}
		switch t {
		case dns.TypeSOA, dns.TypeOPT, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR:
			add(p+".type", "%s cannot be a static record", r.Type)
			continue
		case dns.TypeNS:
			if name == zone {
				add(p+".type", "NS at the apex comes from ns, not records")
				continue
			}
		case dns.TypeCNAME:
			if name == zone {
				add(p+".type", "CNAME not allowed at the zone apex (RFC 1034 §3.6.2)")
				continue
			}
			if j, dup := cname[name]; dup {
				add(p, "second CNAME for %s (records[%d] has one)", name, j)
			}
			cname[name] = i
		default:
			other[name] = i
		}
		if _, err := parseRecord(r, d.TTL); err != nil {
			add(p+".value", "%v", err)
		}
		if _, geo := geoSeen[name]; geo && (t == dns.TypeA || t == dns.TypeAAAA || t == dns.TypeCNAME) {
			add(p, "%s is a geo name; its A, AAAA and CNAME come from the PoPs", name)
		}
	}
	for i, r := range c.Records {
		name := canonical(r.Name)
		if !strings.EqualFold(r.Type, "CNAME") || cname[name] != i {
			continue
		}
		if j, ok := other[name]; ok {
			add(fmt.Sprintf("records[%d]", i), "CNAME at %s beside other data (records[%d]) (RFC 1034 §3.6.2)", name, j)
		}
	}

	if len(c.PoPs) == 0 && len(c.GeoNames) > 0 {
		add("pops", "empty: geo names need at least one PoP")
	}
	popIdx := map[string]int{}
	for i, pop := range c.PoPs {
		p := fmt.Sprintf("pops[%d]", i)
		if pop.Name == "" {
			add(p+".name", "empty")
		} else if j, dup := popIdx[pop.Name]; dup {
			add(p+".name", "duplicate of pops[%d] %q", j, pop.Name)
		} else {
			popIdx[pop.Name] = i
		}
		if math.IsNaN(pop.Lat) || pop.Lat < -90 || pop.Lat > 90 {
			add(p+".lat", "%v outside [-90, 90]", pop.Lat)
		}
		if math.IsNaN(pop.Lon) || pop.Lon < -180 || pop.Lon > 180 {
			add(p+".lon", "%v outside [-180, 180]", pop.Lon)
		}
		if pop.Weight < 0 || math.IsNaN(pop.Weight) || math.IsInf(pop.Weight, 0) {
			add(p+".weight", "%v must be a positive number", pop.Weight)
		}
		if len(pop.Edges) == 0 {
			add(p+".edges", "empty")
		}
		edgeNames := map[string]int{}
		for j, e := range pop.Edges {
			ep := fmt.Sprintf("%s.edges[%d]", p, j)
			if e.Name == "" {
				add(ep+".name", "empty")
			} else if k, dup := edgeNames[e.Name]; dup {
				add(ep+".name", "duplicate of %s.edges[%d] %q", p, k, e.Name)
			} else {
				edgeNames[e.Name] = j
			}
			if len(e.Addrs) == 0 {
				add(ep+".addrs", "empty")
			}
			for k, a := range e.Addrs {
				if !a.IsValid() {
					add(fmt.Sprintf("%s.addrs[%d]", ep, k), "invalid address")
				}
			}
			if e.HealthURL != "" && !strings.HasPrefix(e.HealthURL, "http://") && !strings.HasPrefix(e.HealthURL, "https://") {
				add(ep+".health_url", "%q is not an http or https URL", e.HealthURL)
			}
			if e.HealthAddr != "" {
				if e.HealthURL != "" {
					add(ep+".health_addr", "set beside health_url; give one")
				} else if _, err := netip.ParseAddrPort(e.HealthAddr); err != nil {
					add(ep+".health_addr", "%q is not an address:port: %v", e.HealthAddr, err)
				}
			}
		}
	}
	checkPoPList := func(path string, names []string) {
		for i, n := range names {
			if _, ok := popIdx[n]; !ok {
				add(fmt.Sprintf("%s[%d]", path, i), "unknown PoP %q", n)
			}
		}
	}
	for _, code := range sortedKeys(c.Countries) {
		if len(code) != 2 {
			add("countries."+code, "not an ISO 3166-1 alpha-2 code")
		}
		checkPoPList("countries."+code, c.Countries[code])
	}
	for _, code := range sortedKeys(c.Continents) {
		if len(code) != 2 {
			add("continents."+code, "not a two-letter continent code")
		}
		checkPoPList("continents."+code, c.Continents[code])
	}
	checkPoPList("default_pops", c.DefaultPoPs)

	if (c.DNSSEC.KeyFile == "") != (c.DNSSEC.PrivateFile == "") {
		add("dnssec", "key_file and private_file are given together")
	}
	if c.DNSSEC.Validity != 0 && c.DNSSEC.Validity < 3*time.Hour {
		add("dnssec.validity", "%s is shorter than 3h", c.DNSSEC.Validity)
	}
	h := c.Health
	if h.Interval < 0 {
		add("health.interval", "%s is negative", h.Interval)
	}
	if h.Timeout < 0 {
		add("health.timeout", "%s is negative", h.Timeout)
	}
	if h.Rise < 0 {
		add("health.rise", "%d is negative", h.Rise)
	}
	if h.Fall < 0 {
		add("health.fall", "%d is negative", h.Fall)
	}
	return errors.Join(errs...)
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	_, ok := dns.IsDomainName(name)
	return ok
}

func sortedKeys(m map[string][]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// parseRecord turns a static record into an RR. defTTL applies when the
// record has no TTL.
func parseRecord(r Record, defTTL time.Duration) (dns.RR, error) {
	ttl := r.TTL
	if ttl == 0 {
		ttl = defTTL
	}
	text := fmt.Sprintf("%s %d IN %s %s", canonical(r.Name), uint32(ttl/time.Second), strings.ToUpper(r.Type), r.Value)
	rr, err := dns.NewRR(text)
	if err != nil {
		return nil, fmt.Errorf("parse %s record %q: %w", r.Type, r.Value, err)
	}
	if rr == nil {
		return nil, fmt.Errorf("parse %s record %q: empty", r.Type, r.Value)
	}
	return rr, nil
}
