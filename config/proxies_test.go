package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const proxiesBase = `
sites: [{host: a.com, origin: o}]
origins: {o: {servers: [{url: "http://127.0.0.1:1"}]}}
pops: [{name: p, location: {lat: 0, lon: 0}, edges: [{name: e, address: 127.0.0.1}]}]
`

func TestProxiesDefaultsAndNode(t *testing.T) {
	c, err := Parse([]byte(proxiesBase + `
proxies:
  nodes: [{name: proxy-1, address: 127.0.30.1}]
  rules:
    - {action: allow, clients: [10.0.0.0/8, 127.0.0.1], hosts: [.example.com], ports: ["443", "8000-8999"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Proxies
	if p.Port != 3128 || p.Admin != 9091 || p.Memory != DefaultProxyMemory || p.MaxTunnels != 10000 ||
		p.TunnelIdleTimeout.D() != 5*time.Minute || p.AuthFailures != 10 || p.Realm != "proxy" {
		t.Errorf("defaults: %+v", p)
	}
	n, err := c.FindNode("proxy-1")
	if err != nil || n.Role != RoleProxy || n.Address != "127.0.30.1" {
		t.Errorf("FindNode = %+v, %v", n, err)
	}
}

func TestProxiesValidation(t *testing.T) {
	_, err := Parse([]byte(proxiesBase + `
proxies:
  nodes: [{name: e, address: 127.0.30.1}]
  port: 9091
  groups: {staff: []}
  rules:
    - {action: permit, clients: [10.0.0.0/33], hosts: ["~(", "bad host"], ports: ["0", "9-1"], methods: [get], schemes: [ftp], groups: [nobody]}
    - {action: deny, private: [127.0.0.0/8]}
`))
	if err == nil {
		t.Fatal("invalid proxies accepted")
	}
	for _, w := range []string{
		`proxies.nodes[0].name: "e" is already used`,
		`proxies.admin: must differ from proxies.port`,
		`proxies.groups.staff: a group needs at least one user`,
		`proxies.rules[0].action: must be allow or deny`,
		`proxies.rules[0].clients[0]: not a CIDR`,
		`proxies.rules[0].hosts[0]: bad regexp`,
		`proxies.rules[0].hosts[1]: not a host name`,
		`proxies.rules[0].ports[0]: not a port`,
		`proxies.rules[0].ports[1]: not a port`,
		`proxies.rules[0].methods[0]: must be an upper-case method`,
		`proxies.rules[0].schemes[0]: must be http or https`,
		`proxies.rules[0].groups[0]: no group named "nobody"`,
		`proxies.rules[0]: users and groups need proxies.htpasswd`,
		`proxies.rules[1]: private and forwarded_headers only apply to allow rules`,
	} {
		if !strings.Contains(withoutLines(err), w) {
			t.Errorf("missing problem %q in:\n%v", w, err)
		}
	}
}

// TestProxiesKeysDocumented checks that docs/CONFIG.md names every key of
// the proxies section.
func TestProxiesKeysDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			key := prefix + "." + tag
			ft := f.Type
			switch {
			case ft == reflect.TypeOf(Node{}) || (ft.Kind() == reflect.Slice && ft.Elem() == reflect.TypeOf(Node{})):
				key += "[]"
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(key+"[]", ft.Elem())
				continue
			case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration(0)):
				walk(key, ft)
				continue
			}
			if !strings.Contains(string(doc), "`"+key) {
				t.Errorf("docs/CONFIG.md does not document %s", key)
			}
		}
	}
	walk("proxies", reflect.TypeOf(Proxies{}))
}
