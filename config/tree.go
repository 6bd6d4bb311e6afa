package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lines maps a field path ("sites[0].cache.ttl") to the line of its key
// in the cluster file, so validation problems can point at the line.
type lines map[string]int

// at returns the line of path or of its nearest ancestor, or 0.
func (l lines) at(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkTree walks the decoded YAML against the type it decodes into and
// reports every unknown key and every value that does not decode, each
// with its field path and line, all at once (a plain decode stops at the
// first bad value). It also records the line of every key.
func checkTree(root *yaml.Node, t reflect.Type) (Problems, lines) {
	w := &treeWalk{lines: lines{}}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	w.walk(root, t, "")
	return w.probs, w.lines
}

type treeWalk struct {
	probs Problems
	lines lines
}

func (w *treeWalk) add(path string, line int, format string, args ...any) {
	if path == "" {
		path = "(top level)"
	}
	w.probs = append(w.probs, fmt.Sprintf("%s (line %d): %s", path, line, fmt.Sprintf(format, args...)))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (w *treeWalk) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface {
		w.decodeLeaf(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		w.walk(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.add(path, n.Line, "want a mapping of keys, got %s", kindName(n))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				if s := suggest(k.Value, fields); s != "" {
					w.add(p, k.Line, "unknown key; did you mean %q?", s)
				} else {
					w.add(p, k.Line, "unknown key (known here: %s)", strings.Join(sortedKeys(fields), ", "))
				}
				continue
			}
			w.lines[p] = k.Line
			w.walk(v, f, p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.add(path, n.Line, "want a mapping, got %s", kindName(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			w.lines[p] = k.Line
			w.walk(v, t.Elem(), p)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			w.add(path, n.Line, "want a list, got %s", kindName(n))
			return
		}
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			w.lines[p] = c.Line
			w.walk(c, t.Elem(), p)
		}
	default:
		w.decodeLeaf(n, t, path)
	}
}

// decodeLeaf decodes one value on its own, so its error names its path.
func (w *treeWalk) decodeLeaf(n *yaml.Node, t reflect.Type, path string) {
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		w.add(path, n.Line, "%s", leafError(err))
	}
}

// leafError strips the decoder's own "line N:" and Go type names.
func leafError(err error) string {
	msg := err.Error()
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		if i := strings.Index(msg, ": "); i > 0 {
			msg = msg[i+2:]
		}
	}
	if strings.HasPrefix(msg, "cannot unmarshal ") {
		// "cannot unmarshal !!str `abc` into int" → "abc is not a number"
		if i := strings.Index(msg, " into "); i > 0 {
			what := strings.TrimPrefix(msg[:i], "cannot unmarshal ")
			into := msg[i+len(" into "):]
			switch {
			case strings.HasPrefix(into, "int"), strings.HasPrefix(into, "uint"), strings.HasPrefix(into, "float"):
				into = "a number"
			case into == "bool":
				into = "true or false"
			case into == "string":
				into = "a string"
			default:
				into = "this field"
			}
			msg = fmt.Sprintf("%s does not fit here: want %s", what, into)
		}
	}
	return msg
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// yamlFields maps the YAML keys of a struct to their field types,
// following inline fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// suggest returns the known key closest to key, if it is close enough
// to be a typo.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 1<<30
	for _, k := range sortedKeys(fields) {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= max(2, len(key)/3) {
		return best
	}
	return ""
}

// editDistance is the Damerau–Levenshtein distance (optimal string
// alignment), so a swap of two letters ("cahce") counts as one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
