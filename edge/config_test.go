package edge

import (
	"strings"
	"testing"

	"github.com/selfcdn/cdn/config"
)

func TestFromCluster(t *testing.T) {
	cl, err := config.Load("../config/testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromCluster(cl, "edge-eu-2")
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != RoleEdge || c.Listen != "10.2.0.11:80" || c.Admin != "10.2.0.11:9090" {
		t.Fatalf("edge config: role %s listen %s admin %s", c.Role, c.Listen, c.Admin)
	}
	if len(c.Shields) != 2 || c.Shields[0].URL != "http://10.1.0.10:80" || c.Shields[0].HealthAddr != "" {
		t.Fatalf("shields: %+v (probes go to the port that serves traffic)", c.Shields)
	}
	if c.ShieldHealth.Path != config.DefaultShieldHealthPath {
		t.Fatalf("shield health path %q", c.ShieldHealth.Path)
	}
	if !c.Sites[0].Key.SortQuery || c.Sites[0].Aliases[0] != "static.example.com" {
		t.Fatalf("site: %+v", c.Sites[0])
	}
	s, err := FromCluster(cl, "shield-1")
	if err != nil || s.Role != RoleShield || len(s.Shields) != 0 {
		t.Fatalf("shield: %+v %v", s, err)
	}
	if _, err := FromCluster(cl, "ns1"); err == nil || !strings.Contains(err.Error(), "geodns") {
		t.Fatalf("geodns node accepted as an edge: %v", err)
	}
}

func TestValidateNamesFields(t *testing.T) {
	c := Config{Listen: "x", Sites: []Site{{Host: "a", Origin: "nope"}}, Origins: map[string]Pool{"o": {Servers: []Upstream{{URL: "ftp://x"}}}}}
	c.applyDefaults()
	err := c.Validate()
	for _, want := range []string{`sites[0].origin: no origin pool named "nope"`, "origins.o.servers[0].url"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
