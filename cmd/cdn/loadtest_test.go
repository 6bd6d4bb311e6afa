package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadtestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	badTrace := filepath.Join(dir, "bad.trace")
	if err := os.WriteFile(badTrace, []byte("GET relative/path\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown-flag", []string{"--bogus"}, "flag provided but not defined"},
		{"no-target", []string{}, "no target"},
		{"bad-proto", []string{"--url", "http://127.0.0.1:1", "--proto", "h9"}, "proto"},
		{"negative-rate", []string{"--url", "http://127.0.0.1:1", "--rate", "-5"}, "rate"},
		{"bad-sizes", []string{"--url", "http://127.0.0.1:1", "--sizes", "lots"}, "--sizes"},
		{"missing-trace", []string{"--url", "http://127.0.0.1:1", "--trace", filepath.Join(dir, "none")}, "--trace"},
		{"bad-trace-line", []string{"--url", "http://127.0.0.1:1", "--trace", badTrace}, "line 1"},
		{"missing-urls-file", []string{"--urls", filepath.Join(dir, "none")}, "--urls"},
		{"missing-endpoints", []string{"--endpoints", filepath.Join(dir, "none")}, "--endpoints"},
		{"bad-header", []string{"--url", "http://127.0.0.1:1", "--header", "novalue"}, "--header"},
		{"bad-subnet", []string{"--mode", "dns", "--dns-server", "127.0.0.1:53", "--dns-names", "a", "--dns-subnets", "x"}, "--dns-subnets"},
		{"dns-without-server", []string{"--mode", "dns"}, "dns.server"},
		{"zero-duration", []string{"--url", "http://127.0.0.1:1", "--duration", "0"}, "--duration"},
		{"stray-argument", []string{"--url", "http://127.0.0.1:1", "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"loadtest"}, tt.args...), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr.String())
			}
		})
	}
}

func TestLoadtestRunWritesReports(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", "edge; hit")
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	urls := filepath.Join(dir, "urls")
	if err := os.WriteFile(urls, []byte("# targets\n"+srv.URL+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonPath, htmlPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	var stdout, stderr bytes.Buffer
	code := run([]string{"loadtest", "--urls", urls, "--requests", "20", "--concurrency", "2",
		"--json", jsonPath, "--html", htmlPath}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "requests    20") || !strings.Contains(stdout.String(), "hit ratio 100.00%") {
		t.Errorf("summary:\n%s", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("progress written to a non-terminal without --progress:\n%s", stderr.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Total struct{ Requests int64 } `json:"total"`
	}
	if err := json.Unmarshal(b, &rep); err != nil || rep.Total.Requests != 20 {
		t.Errorf("JSON report: %v, requests %d", err, rep.Total.Requests)
	}
	h, err := os.ReadFile(htmlPath)
	if err != nil || !strings.Contains(string(h), "<svg") {
		t.Errorf("HTML report: %v", err)
	}
}
