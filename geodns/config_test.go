package geodns

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	if err := func() error { c := testConfig(); return c.Validate() }(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // substrings of the joined error
	}{
		{"empty zone", func(c *Config) { c.Zone = "" }, []string{"zone: empty"}},
		{"bad zone", func(c *Config) { c.Zone = "a..b" }, []string{`zone: "a..b" is not a valid domain name`}},
		{"no NS", func(c *Config) { c.NS = nil }, []string{"ns: empty"}},
		{"in-zone NS without glue", func(c *Config) { c.NS[0].Addrs = nil }, []string{"ns[0].addrs: empty: name server ns1.cdn.example.com. is inside zone"}},
		{"geo name outside", func(c *Config) { c.GeoNames[1] = "www.example.org." }, []string{"geo_names[1]: not inside zone cdn.example.com."}},
		{"duplicate geo name (case-insensitive)", func(c *Config) { c.GeoNames = append(c.GeoNames, "EDGE.cdn.example.com") }, []string{"geo_names[2]: duplicate of geo_names[0]"}},
		{"edge without addresses", func(c *Config) { c.PoPs[1].Edges[0].Addrs = nil }, []string{"pops[1].edges[0].addrs: empty"}},
		{"invalid address", func(c *Config) { c.PoPs[0].Edges[1].Addrs = []netip.Addr{{}} }, []string{"pops[0].edges[1].addrs[0]: invalid address"}},
		{"PoP without edges", func(c *Config) { c.PoPs[2].Edges = nil }, []string{"pops[2].edges: empty"}},
		{"duplicate PoP", func(c *Config) { c.PoPs[2].Name = "london" }, []string{`pops[2].name: duplicate of pops[0] "london"`}},
		{"latitude", func(c *Config) { c.PoPs[0].Lat = 91 }, []string{"pops[0].lat: 91 outside [-90, 90]"}},
		{"longitude", func(c *Config) { c.PoPs[0].Lon = -181 }, []string{"pops[0].lon"}},
		{"weight", func(c *Config) { c.PoPs[0].Weight = -1 }, []string{"pops[0].weight"}},
		{"health URL", func(c *Config) { c.PoPs[0].Edges[0].HealthURL = "ftp://x" }, []string{"pops[0].edges[0].health_url"}},
		{"unknown PoP in overrides", func(c *Config) {
			c.Countries = map[string][]string{"GB": {"paris"}}
			c.Continents = map[string][]string{"EU": {"london", "rome"}}
			c.DefaultPoPs = []string{"tokyo"}
		}, []string{`countries.GB[0]: unknown PoP "paris"`, `continents.EU[1]: unknown PoP "rome"`, `default_pops[0]: unknown PoP "tokyo"`}},
		{"bad record type", func(c *Config) { c.Records[0].Type = "BOGUS" }, []string{`records[0].type: unknown record type "BOGUS"`}},
		{"bad record value", func(c *Config) { c.Records[6].Value = "not-an-ip" }, []string{"records[6].value"}},
		{"record outside", func(c *Config) { c.Records[0].Name = "x.example.org." }, []string{"records[0].name: x.example.org. not inside zone"}},
		{"CNAME at the apex", func(c *Config) { c.Records[0].Name = testZone }, []string{"records[0].type: CNAME not allowed at the zone apex"}},
		{"CNAME beside data", func(c *Config) {
			c.Records = append(c.Records, Record{Name: "assets.cdn.example.com.", Type: "TXT", Value: `"x"`})
		}, []string{"CNAME at assets.cdn.example.com. beside other data"}},
		{"A at a geo name", func(c *Config) {
			c.Records = append(c.Records, Record{Name: "edge.cdn.example.com.", Type: "A", Value: "192.0.2.1"})
		}, []string{"is a geo name"}},
		{"SOA record", func(c *Config) { c.Records = append(c.Records, Record{Name: testZone, Type: "SOA"}) }, []string{"SOA cannot be a static record"}},
		{"NS at the apex", func(c *Config) {
			c.Records = append(c.Records, Record{Name: testZone, Type: "NS", Value: "ns3.example.net."})
		}, []string{"NS at the apex comes from ns"}},
		{"negative durations", func(c *Config) {
			c.TTL = -time.Second
			c.Health.Interval = -1
			c.SOA.NegativeTTL = -1
		}, []string{"ttl: -1s out of range", "health.interval", "soa.negative_ttl"}},
		{"every problem at once", func(c *Config) {
			c.PoPs[1].Edges[0].Addrs = nil
			c.GeoNames[0] = "www.example.org."
		}, []string{"pops[1].edges[0].addrs: empty", "geo_names[0]: not inside zone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, nerr := New(c, Options{}); nerr == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{Zone: "CDN.Example.com", NS: []NameServer{{Name: "ns.example.net"}}, PoPs: []PoP{{Name: "p"}}}
	d := c.withDefaults()
	checks := []struct {
		name      string
		got, want any
	}{
		{"zone", d.Zone, "cdn.example.com."},
		{"ttl", d.TTL, 30 * time.Second},
		{"max answers", d.MaxAnswers, 2},
		{"soa mname", d.SOA.MName, "ns.example.net."},
		{"soa rname", d.SOA.RName, "hostmaster.cdn.example.com."},
		{"soa serial from the content", d.SOA.Serial, contentSerial(d)},
		{"negative ttl", d.SOA.NegativeTTL, 60 * time.Second},
		{"health interval", d.Health.Interval, 5 * time.Second},
		{"health timeout", d.Health.Timeout, 2 * time.Second},
		{"rise", d.Health.Rise, 2},
		{"fall", d.Health.Fall, 2},
		{"weight", d.PoPs[0].Weight, 1.0},
		{"cache size", d.CacheSize, DefaultCacheSize},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if d.SOA.Serial == 0 {
		t.Error("serial 0")
	}
	c2 := c
	c2.TTL = time.Minute
	if s2 := c2.withDefaults().SOA.Serial; s2 == d.SOA.Serial {
		t.Errorf("serial %d unchanged by a change of ttl", s2)
	}
}
