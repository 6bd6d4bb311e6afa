package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpOnEveryCommand(t *testing.T) {
	for name := range commands() {
		var out, errb bytes.Buffer
		if code := run([]string{name, "--help"}, &out, &errb); code != 0 {
			t.Errorf("cdn %s --help: exit %d", name, code)
		}
		if !strings.Contains(errb.String()+out.String(), "usage: cdn "+name) {
			t.Errorf("cdn %s --help printed no usage:\n%s", name, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

func TestInvalidClusterFileListsEveryProblem(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(f, []byte(`
sites: [{host: a.example.com, origin: nope}]
origins: {main: {servers: [{url: "ftp://x"}]}}
pops: [{name: p, location: {lat: 0, lon: 0}, edges: [{name: e1, address: 300.1.1.1}]}]
`), 0o644)
	for _, args := range [][]string{
		{"config", "--config", f},
		{"edge", "--config", f, "--node", "e1"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code == 0 {
			t.Fatalf("%v: exit 0 for an invalid file", args)
		}
		for _, want := range []string{"sites[0].origin", "origins.main.servers[0].url", "pops[0].edges[0].address (line 4): not an IP address"} {
			if !strings.Contains(errb.String(), want) {
				t.Errorf("%v: error does not mention %q:\n%s", args, want, errb.String())
			}
		}
	}
}

func TestEdgeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"edge"},
		{"edge", "--origin", "http://127.0.0.1:1"},
		{"edge", "--config", "x.yaml"},
		{"edge", "--config", "x.yaml", "--node", "e1", "--listen", "127.0.0.1:0"},
		{"edge", "--config", "x.yaml", "--node", "e1", "--memory", "64MiB", "--trusted-proxies", "10.0.0.0/8"},
		{"edge", "--listen", "127.0.0.1:0", "--origin", "http://127.0.0.1:1", "--memory", "lots"},
		{"edge", "--listen", "127.0.0.1:0", "--origin", "http://127.0.0.1:1", "--http1-engine", "turbo"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
}

// A cluster-file node given quick-mode flags is refused, naming them,
// before the file is even read.
func TestEdgeRefusesMixedModes(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"edge", "--config", "missing.yaml", "--node", "e1", "--listen", "127.0.0.1:0", "--no-purge"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--listen, --no-purge: quick-mode flags") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}
