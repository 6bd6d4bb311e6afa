package sim

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/selfcdn/cdn/config"
)

// TestDefaultClusterIsValid: the default topology is a valid cluster file
// that survives a round trip through YAML (what --print-config prints,
// --config reads back).
func TestDefaultClusterIsValid(t *testing.T) {
	cl := DefaultCluster(Options{WorkDir: t.TempDir()})
	if err := cl.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := cl.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Parse(b)
	if err != nil {
		t.Fatalf("parse printed config: %v\n%s", err, b)
	}
	if len(back.PoPs) != 3 || len(back.Shields.Nodes) != 2 || len(back.GeoDNS.Nodes) != 1 {
		t.Fatalf("round trip lost nodes: %+v", back)
	}
}

func TestDefaultClusterAddresses(t *testing.T) {
	cl := DefaultCluster(Options{HTTPPort: 18080, AdminPort: 19090, DNSPort: 15353, WorkDir: t.TempDir()})
	tests := []struct {
		node, addr string
		role       config.Role
		pop        string
	}{
		{"edge-us-east-1", "127.0.1.1", config.RoleEdge, "us-east"},
		{"edge-us-east-2", "127.0.1.2", config.RoleEdge, "us-east"},
		{"edge-eu-central-1", "127.0.2.1", config.RoleEdge, "eu-central"},
		{"edge-ap-southeast-2", "127.0.3.2", config.RoleEdge, "ap-southeast"},
		{"shield-1", "127.0.10.1", config.RoleShield, ""},
		{"shield-2", "127.0.10.2", config.RoleShield, ""},
		{"ns1", "127.0.53.1", config.RoleGeoDNS, ""},
	}
	for _, tt := range tests {
		info, err := cl.FindNode(tt.node)
		if err != nil {
			t.Errorf("%s: %v", tt.node, err)
			continue
		}
		if info.Address != tt.addr || info.Role != tt.role {
			t.Errorf("%s: %s %s, want %s %s", tt.node, info.Role, info.Address, tt.role, tt.addr)
		}
		if tt.pop != "" && info.PoP.Name != tt.pop {
			t.Errorf("%s: PoP %s, want %s", tt.node, info.PoP.Name, tt.pop)
		}
	}
	if cl.Ports.HTTP != 18080 || cl.Ports.Admin != 19090 || cl.GeoDNS.Port != 15353 {
		t.Errorf("ports %+v dns %d: want the options' ports", cl.Ports, cl.GeoDNS.Port)
	}
	if got := cl.Origins[OriginName].Servers[0].URL; got != "http://127.0.20.1:18080" {
		t.Errorf("origin URL %s", got)
	}
	if _, ok := cl.SiteFor(SiteHost); !ok {
		t.Errorf("site %s missing", SiteHost)
	}
}

// TestRegions: each PoP's clients have their own loopback /16, placed at
// the PoP's location.
func TestRegions(t *testing.T) {
	cl := DefaultCluster(Options{WorkDir: t.TempDir()})
	def, derived := DefaultRegions(), RegionsFor(cl)
	if len(def) != 3 || len(derived) != 3 {
		t.Fatalf("regions: %d default, %d derived; want 3", len(def), len(derived))
	}
	for i, r := range def {
		if r != derived[i] {
			t.Errorf("region %d: default %+v, derived from the cluster %+v", i, r, derived[i])
		}
		if r.PoP != cl.PoPs[i].Name || r.Location != cl.PoPs[i].Location {
			t.Errorf("region %d: %s at %v, PoP %s at %v", i, r.PoP, r.Location, cl.PoPs[i].Name, cl.PoPs[i].Location)
		}
		want := netip.MustParsePrefix([]string{"127.1.0.0/16", "127.2.0.0/16", "127.3.0.0/16"}[i])
		if r.Network != want {
			t.Errorf("region %s: network %s, want %s", r.PoP, r.Network, want)
		}
		if c := r.ClientAddr(); !r.Network.Contains(c) || c.As4()[3] != 10 {
			t.Errorf("region %s: client address %s", r.PoP, c)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"zero", Options{}, ""},
		{"port", Options{HTTPPort: 70000}, "HTTPPort: must be a port number"},
		{"same ports", Options{HTTPPort: 8080, AdminPort: 8080}, "AdminPort: must differ"},
		{"latency", Options{Latency: -1}, "Latency: must not be negative"},
		{"region", Options{Regions: []Region{{PoP: "x", Network: netip.MustParsePrefix("10.0.0.0/8")}}}, "Regions[0].Network"},
	}
	for _, tt := range tests {
		err := tt.opts.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestCheckLoopbackSaysWhatToDo: an address this machine does not have
// fails with the aliases to add.
func TestCheckLoopbackSaysWhatToDo(t *testing.T) {
	if err := checkLoopback([]string{"127.0.0.1"}); err != nil {
		t.Fatalf("127.0.0.1: %v", err)
	}
	err := checkLoopback([]string{"127.0.0.1", "192.0.2.1"}) // TEST-NET-1, never local
	if err == nil {
		t.Skip("192.0.2.1 is bindable here")
	}
	for _, want := range []string{"192.0.2.1", "ifconfig lo0 alias"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
