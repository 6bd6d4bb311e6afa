package config

import (
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestL4KeysDocumented checks that every key of the l4 section and
// pops[].balancers appears in docs/CONFIG.md.
func TestL4KeysDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
				name += "[]"
			}
			if ft.Kind() == reflect.Struct && ft.Name() != "Duration" {
				walk(prefix+name+".", ft)
				continue
			}
			keys = append(keys, prefix+name)
		}
	}
	walk("l4.", reflect.TypeFor[L4]())
	for _, k := range keys {
		last := k[strings.LastIndex(k, ".")+1:]
		parent := k[:strings.LastIndex(k, ".")]
		// A row names the key whole, or as "parent.x / y" for grouped keys.
		if !strings.Contains(string(doc), "`"+k+"`") && !(strings.Contains(string(doc), "`"+parent+".") && strings.Contains(string(doc), "`"+last+"`")) {
			t.Errorf("docs/CONFIG.md does not document %s", k)
		}
	}
	if !strings.Contains(string(doc), "`pops[].balancers[].name`") {
		t.Error("docs/CONFIG.md does not document pops[].balancers")
	}
}

func TestL4DefaultsAndValidation(t *testing.T) {
	c := &Cluster{PoPs: []PoP{{Name: "p", Edges: []Node{{Name: "e1", Address: "10.0.0.1"}},
		Balancers: []Node{{Name: "lb1", Address: "10.0.0.5"}, {Name: "lb2", Address: "10.0.0.6"}}}}}
	c.ApplyDefaults()
	want := []L4Port{{Port: 80, Protocol: "tcp", BackendPort: 80}, {Port: 443, Protocol: "tcp", BackendPort: 443}, {Port: 443, Protocol: "udp", BackendPort: 443}}
	if !reflect.DeepEqual(c.L4.Ports, want) {
		t.Fatalf("default l4.ports = %+v", c.L4.Ports)
	}
	if c.L4.ProxyProtocol != "v2" || c.L4.Conntrack.Size != 1<<20 || c.L4.Health.Type != "http" {
		t.Fatalf("defaults: %+v", c.L4)
	}
	info, err := c.FindNode("lb2")
	if err != nil || info.Role != RoleBalancer || info.PoP.Name != "p" {
		t.Fatalf("FindNode(lb2) = %+v, %v", info, err)
	}
	if !c.TrustedBalancer(netip.MustParseAddr("10.0.0.6")) || c.TrustedBalancer(netip.MustParseAddr("10.0.0.1")) {
		t.Fatal("TrustedBalancer: wrong answer")
	}
	if err := c.Validate(); err != nil && strings.Contains(err.Error(), "l4") {
		t.Fatalf("valid l4 section refused: %v", err)
	}

	bad := *c
	bad.PoPs = []PoP{{Name: "p", Location: Location{}, Weight: 1, Edges: []Node{{Name: "e1", Address: "10.0.0.1"}},
		Balancers: []Node{{Name: "e1", Address: "10.0.0.1"}, {Name: "lb3", Address: "not-an-ip"}}}}
	bad.L4.ProxyProtocol = "v3"
	bad.L4.TableSize = 100
	bad.L4.Ports = []L4Port{{Port: 0, Protocol: "sctp", BackendPort: 1}, {Port: 80, Protocol: "tcp", BackendPort: 80}, {Port: 80, Protocol: "tcp", BackendPort: 80}}
	bad.L4.Health.Type = "icmp"
	bad.L4.QUICLB = L4QUICLB{Enabled: true, ConfigID: 7, ServerIDLen: 16, NonceLen: 3}
	err = bad.Validate()
	if err == nil {
		t.Fatal("invalid l4 section accepted")
	}
	for _, w := range []string{
		"pops[0].balancers[0].name", "pops[0].balancers[0].address", "pops[0].balancers[1].address",
		"l4.proxy_protocol", "l4.table_size", "l4.ports[0].port", "l4.ports[0].protocol", "l4.ports[2]", "l4.health.type",
		"l4.quic_lb.config_id", "l4.quic_lb.server_id_len", "l4.quic_lb.nonce_len",
	} {
		if !strings.Contains(err.Error(), w+":") {
			t.Errorf("no problem reported for %s in:\n%v", w, err)
		}
	}
}

// QUIC-LB server IDs follow the edges' order in the file, big-endian.
func TestQUICServerIDs(t *testing.T) {
	c := &Cluster{PoPs: []PoP{{Edges: []Node{{Name: "a"}, {Name: "b"}}}, {Edges: []Node{{Name: "c"}}}}}
	c.L4.QUICLB.ServerIDLen = 2
	for name, want := range map[string]string{"a": "0001", "b": "0002", "c": "0003"} {
		id, ok := c.QUICServerID(name)
		if !ok || fmt.Sprintf("%x", id) != want {
			t.Errorf("%s: %x %v, want %s", name, id, ok, want)
		}
	}
	if _, ok := c.QUICServerID("nope"); ok {
		t.Error("an unknown edge got a server ID")
	}
	c.L4.QUICLB.ServerIDLen = 1
	c.PoPs[0].Edges = make([]Node, 300)
	c.PoPs[0].Edges[299].Name = "last"
	if _, ok := c.QUICServerID("last"); ok {
		t.Error("edge 300 got a one-octet server ID")
	}
}
