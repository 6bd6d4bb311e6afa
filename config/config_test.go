package config

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLoadExample(t *testing.T) {
	c, err := Load("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Zone != "cdn.example.com." {
		t.Errorf("zone = %q, want trailing dot added", c.Zone)
	}
	if got := c.Origins["main"].Servers[1].Weight; got != 1 {
		t.Errorf("default weight = %d, want 1", got)
	}
	if c.Cache.Disk.Size != 50<<30 {
		t.Errorf("disk size = %d", c.Cache.Disk.Size)
	}
	if c.Cache.Disk.MaxObject != DefaultDiskMaxObject {
		t.Errorf("disk max object default = %s", c.Cache.Disk.MaxObject)
	}
	if c.GeoDNS.TTL.D() != 30*time.Second || c.GeoDNS.MaxAnswers != 2 {
		t.Errorf("geodns defaults: %+v", c.GeoDNS)
	}
	if !*c.Purge.NATS.Embedded {
		t.Error("nats embedded should be true")
	}
	n, err := c.FindNode("edge-eu-2")
	if err != nil || n.Role != RoleEdge || n.PoP.Name != "eu-west" {
		t.Errorf("FindNode = %+v, %v", n, err)
	}
	if _, err := c.FindNode("nope"); err == nil {
		t.Error("FindNode(nope) succeeded")
	}
	if s, ok := c.SiteFor("STATIC.example.com."); !ok || s.Host != "assets.example.com" {
		t.Errorf("SiteFor alias = %v %v", s, ok)
	}
	if _, ok := c.SiteFor("evil.example.net"); ok {
		t.Error("SiteFor unknown host succeeded")
	}
	// Marshal then Parse gives the same file back.
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b); err != nil {
		t.Fatalf("re-parse of marshalled file: %v\n%s", err, b)
	}
}

func TestUnknownKeyIsAnError(t *testing.T) {
	_, err := Parse([]byte("zone: x.com\nsitez: []\n"))
	if err == nil || !strings.Contains(err.Error(), "sitez") {
		t.Fatalf("err = %v, want it to name the unknown key", err)
	}
	_, err = Parse([]byte("sites:\n  - host: a.com\n    orign: main\n"))
	if err == nil || !strings.Contains(err.Error(), "orign") {
		t.Fatalf("err = %v, want it to name the misspelt key", err)
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	const bad = `
zone: "bad zone"
sites:
  - {host: a.example.com, origin: nope}
  - {host: a.example.com, origin: main, cache: {slice_size: 4KiB}}
origins:
  main: {policy: fastest, servers: [{url: "ftp://x"}]}
shields:
  nodes: [{name: s1, address: 10.0.0.1}, {name: s1, address: 10.0.0.1}]
pops:
  - name: p
    location: {lat: 91, lon: 0}
    edges: [{name: e1, address: 300.1.1.1}]
  - name: q
    location: {lat: 0, lon: 0}
    edges: []
ports: {admin: 70000}
cache: {memory: 10KiB}
geodns:
  nodes: [{name: ns1, address: 10.0.0.53}]
  default_pops: [mars]
`
	_, err := Parse([]byte(bad))
	if err == nil {
		t.Fatal("invalid file accepted")
	}
	want := []string{
		`zone: not a domain name`,
		`sites[0].origin: no origin named "nope"`,
		`sites[1].host: "a.example.com" is already served by sites[0]`,
		`sites[1].cache.slice_size: from 64KiB to 64MiB, not 4KiB`,
		`origins.main.policy: unknown policy "fastest"`,
		`origins.main.servers[0].url: not an http:// or https:// URL`,
		`shields.nodes[1].name: "s1" is already used by shields.nodes[0]`,
		`shields.nodes[1].address: 10.0.0.1 is already used`,
		`pops[0].location.lat: must be within [-90, 90]`,
		`pops[0].edges[0].address: not an IP address`,
		`pops[1].edges: at least one edge is required`,
		`ports.admin: must be a port number`,
		`cache.memory: must be at least 1MiB`,
		`geodns.geoip: required`,
		`geodns.default_pops[0]: no PoP named "mars"`,
	}
	for _, w := range want {
		if !strings.Contains(withoutLines(err), w) {
			t.Errorf("missing problem %q in:\n%v", w, err)
		}
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		bad  bool
	}{
		{"4096", 4096, false}, {"256MiB", 256 << 20, false}, {"1.5GiB", 3 << 29, false},
		{"10GB", 10e9, false}, {"64KiB", 64 << 10, false}, {"", 0, true}, {"-1", 0, true},
		{"12XB", 0, true}, {"99999999999TiB", 0, true},
	} {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v", tc.in, got, err)
		}
	}
	if s := ByteSize(512 << 20).String(); s != "512MiB" {
		t.Errorf("String = %s", s)
	}
}

func TestDurationAcceptsSeconds(t *testing.T) {
	c, err := Parse([]byte(`
sites: [{host: a.com, origin: o}]
origins: {o: {servers: [{url: "http://127.0.0.1:1"}]}}
pops: [{name: p, location: {lat: 0, lon: 0}, edges: [{name: e, address: 127.0.0.1}]}]
geodns: {ttl: 45}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.GeoDNS.TTL.D() != 45*time.Second {
		t.Errorf("ttl = %v", c.GeoDNS.TTL)
	}
}

// Decode problems and unknown keys come in one list, each with its field
// path, its line and, for a misspelt key, the key that was meant.
func TestDecodeProblemsAllAtOnceWithLines(t *testing.T) {
	file := `zone: x.com
sites:
  - host: a.com
    origin: main
    cahce: {ttl: 10s}
origins:
  main:
    servers: [{url: "http://10.0.0.5:8080", weight: lots}]
cache:
  memory: 12 parsecs
upstream:
  connect_timeout: soon
pops:
  - name: p
    location: {lat: 0, lon: 0}
    edges: [{name: e1, adress: 10.0.0.1}]
`
	_, err := Parse([]byte(file))
	if err == nil {
		t.Fatal("no error for a file with five problems")
	}
	for _, want := range []string{
		`sites[0].cahce (line 5): unknown key; did you mean "cache"?`,
		`origins.main.servers[0].weight (line 8): `,
		`cache.memory (line 10): invalid size "12 parsecs"`,
		`upstream.connect_timeout (line 12): invalid duration "soon"`,
		`pops[0].edges[0].adress (line 16): unknown key; did you mean "address"?`,
		"5 problems",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "config.") {
		t.Errorf("error names a Go type:\n%v", err)
	}
	// A key far from every known key gets the list of known keys instead.
	_, err = Parse([]byte("zone: x.com\nzzzzzzzzzz: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "zzzzzzzzzz (line 2): unknown key (known here: admin,") {
		t.Errorf("err = %v", err)
	}
}

// Sizes print back as written, exactly: 64MB is not 62500KiB.
func TestByteSizePrintsAsWritten(t *testing.T) {
	for _, in := range []string{"64MB", "64MiB", "10GB", "1GiB", "4096", "1000", "512KiB", "3TB"} {
		b, err := ParseByteSize(in)
		if err != nil {
			t.Fatal(err)
		}
		want := in
		if in == "1000" {
			want = "1KB"
		}
		if in == "4096" {
			want = "4KiB"
		}
		if got := b.String(); got != want {
			t.Errorf("ParseByteSize(%q).String() = %q, want %q", in, got, want)
		}
		if back, err := ParseByteSize(b.String()); err != nil || back != b {
			t.Errorf("%q does not round-trip: %d, %v", b.String(), back, err)
		}
	}
}

var lineRE = regexp.MustCompile(` \(line \d+\)`)

// withoutLines drops the "(line N)" of each problem, for tests about the
// problems themselves.
func withoutLines(err error) string { return lineRE.ReplaceAllString(err.Error(), "") }
