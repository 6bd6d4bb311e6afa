package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// docRow is one row of the key table in docs/CONFIG.md.
type docRow struct {
	keys []string // expanded: "a.b / c" gives a.b and a.c
	def  string   // the default column, as written
}

var keyTableRE = regexp.MustCompile("^\\| (`[^|]+) \\| ([^|]*) \\|")

// docRows reads the key table; a row "`p.a` / `b`" documents p.a and p.b,
// "`p.a` / `.b`" documents p.a and p.a.b.
func docRows(t *testing.T) []docRow {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []docRow
	for _, line := range strings.Split(string(doc), "\n") {
		m := keyTableRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var keys []string
		first := ""
		for _, part := range strings.Split(m[1], " / ") {
			k := strings.Trim(strings.TrimSpace(part), "`")
			if first == "" {
				first = k
			} else {
				// "`p.a` / `.b`" and "`p.a` / `b`" both name p.b.
				k = first[:strings.LastIndex(first, ".")+1] + strings.TrimPrefix(k, ".")
			}
			keys = append(keys, k)
		}
		rows = append(rows, docRow{keys: keys, def: strings.TrimSpace(m[2])})
	}
	if len(rows) < 50 {
		t.Fatalf("found only %d rows in docs/CONFIG.md's key table", len(rows))
	}
	return rows
}

// codeKeys lists every leaf key of the cluster file, as CONFIG.md writes
// them: lists as [], maps as NAME.
func codeKeys(prefix string, t reflect.Type, out map[string]bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for name, ft := range yamlFields(t) {
		k := prefix + name
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case reflect.PointerTo(ft).Implements(unmarshalerType):
			out[k] = true
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			codeKeys(k+"[].", ft.Elem(), out)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			codeKeys(k+".NAME.", ft.Elem(), out)
		case ft.Kind() == reflect.Struct:
			codeKeys(k+".", ft, out)
		default:
			out[k] = true
		}
	}
}

// Every key of the cluster file is documented, and every documented key
// exists.
func TestConfigDocMatchesCode(t *testing.T) {
	code := map[string]bool{}
	codeKeys("", reflect.TypeFor[Cluster](), code)
	documented := map[string]bool{}
	for _, r := range docRows(t) {
		for _, k := range r.keys {
			// "shields.health.*" and "geodns.records[]" document every
			// key below them.
			if strings.HasSuffix(k, ".*") || strings.HasSuffix(k, "[]") {
				p := strings.TrimSuffix(strings.TrimSuffix(k, "*"), "[]") + func() string {
					if strings.HasSuffix(k, "[]") {
						return "[]."
					}
					return ""
				}()
				for c := range code {
					if strings.HasPrefix(c, p) {
						documented[c] = true
					}
				}
				continue
			}
			documented[k] = true
			if !code[k] {
				t.Errorf("docs/CONFIG.md documents %s, which the cluster file does not have", k)
			}
		}
	}
	for k := range code {
		if !documented[k] {
			t.Errorf("docs/CONFIG.md does not document %s", k)
		}
	}
}

// Each default CONFIG.md gives as a single value is what `cdn config`
// prints for a file that leaves the key out.
func TestConfigDocDefaultsMatchCode(t *testing.T) {
	c := &Cluster{
		Zone:    "cdn.example.com",
		Sites:   []Site{{Host: "a.example.com", Origin: "NAME"}},
		Origins: map[string]Origin{"NAME": {Servers: []Server{{URL: "http://10.0.0.5:8080"}}}},
		Shields: Shields{Nodes: []Node{{Name: "s1", Address: "10.1.0.1"}}},
		PoPs:    []PoP{{Name: "p", Edges: []Node{{Name: "e1", Address: "10.2.0.1"}}, Balancers: []Node{{Name: "b1", Address: "10.2.0.9"}}}},
		Proxies: Proxies{Nodes: []Node{{Name: "x1", Address: "10.3.0.1"}}, Rules: []ProxyRule{{Action: "deny"}}},
		TLS:     TLS{ACME: &ACME{}},
	}
	c.ApplyDefaults()
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var tree yaml.Node
	if err := yaml.Unmarshal(out, &tree); err != nil {
		t.Fatal(err)
	}
	single := regexp.MustCompile("^`([^`]*)`(?: \\(.*\\))?$")
	checked := 0
	for _, r := range docRows(t) {
		m := single.FindStringSubmatch(r.def)
		if m == nil || len(r.keys) != 1 {
			continue
		}
		want := m[1]
		got, ok := lookup(tree.Content[0], r.keys[0])
		if !ok {
			t.Errorf("%s: documented default %q, but `cdn config` does not print the key", r.keys[0], want)
			continue
		}
		checked++
		if !sameValue(got, want) {
			t.Errorf("%s: docs/CONFIG.md says the default is %q, `cdn config` prints %q", r.keys[0], want, got)
		}
	}
	if checked < 40 {
		t.Errorf("checked only %d defaults", checked)
	}
}

// lookup finds a key path in the printed YAML; [] and NAME take the first
// element. Lists print inline, as CONFIG.md writes them.
func lookup(n *yaml.Node, path string) (string, bool) {
	for _, part := range strings.Split(path, ".") {
		list := strings.HasSuffix(part, "[]")
		part = strings.TrimSuffix(part, "[]")
		if n.Kind != yaml.MappingNode {
			return "", false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part || part == "NAME" {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return "", false
		}
		n = next
		if list && n.Kind == yaml.SequenceNode && len(n.Content) == 0 && !strings.Contains(path[strings.Index(path, part):], ".") {
			return "[]", true // the whole list, empty
		}
		if list {
			if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
				return "", false
			}
			n = n.Content[0]
		}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, true
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return "{}", true
		}
	case yaml.SequenceNode:
		var items []string
		for _, c := range n.Content {
			items = append(items, c.Value)
		}
		return "[" + strings.Join(items, ", ") + "]", true
	}
	return "", false
}

// sameValue compares a printed value with a documented one: "" is an
// empty string, and durations and sizes compare by value (60s is 1m).
func sameValue(got, want string) bool {
	if got == want || want == `""` && got == "" {
		return true
	}
	if a, err := time.ParseDuration(got); err == nil {
		if b, err := time.ParseDuration(want); err == nil {
			return a == b
		}
	}
	if a, err := ParseByteSize(got); err == nil {
		if b, err := ParseByteSize(want); err == nil {
			return a == b
		}
	}
	return false
}
