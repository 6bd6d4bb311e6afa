package statuspage

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	p := Page{
		Role:    "edge",
		Node:    `edge-1<script>alert(1)</script>`,
		Version: "v1.2.3",
		Uptime:  90*time.Minute + 5*time.Second + 300*time.Millisecond,
		Sections: []Section{
			{Title: "Cache tiers", Columns: []string{"Tier", "Size", "Capacity", "Objects", "Hit ratio"},
				Rows: []Row{{Cells: []string{"memory", Bytes(3 << 20), Bytes(512 << 20), "42", Ratio(3, 4)}}}},
			{Title: "Upstreams", Columns: []string{"Upstream", "Backend", "Healthy"},
				Rows: []Row{{Cells: []string{"origin-a", "10.0.0.1:80", "no"}, Bad: true}}},
			{Title: "Purge bus", Empty: "no purge bus"},
		},
	}
	var b strings.Builder
	if err := Render(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"<!DOCTYPE html>", "v1.2.3", "1h30m5s", "Cache tiers", "memory", "3.0 MiB", "512.0 MiB", "42", "75.0%",
		"origin-a", "10.0.0.1:80", `<tr class="bad">`, "no purge bus",
		"edge-1&lt;script&gt;alert(1)&lt;/script&gt;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(out, "<script") {
		t.Errorf("hostile node name not escaped:\n%s", out)
	}
	for _, bad := range []string{"http://", "https://", "<link", "src="} {
		if strings.Contains(out, bad) {
			t.Errorf("page refers to an external asset (%q)", bad)
		}
	}
}

func TestServe(t *testing.T) {
	rec := httptest.NewRecorder()
	Serve(rec, Page{Role: "geodns", Node: "ns1"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(rec.Body.String(), "ns1") {
		t.Errorf("body lacks the node name")
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Bytes(0), "0 B"}, {Bytes(1023), "1023 B"}, {Bytes(1536), "1.5 KiB"}, {Bytes(10 << 30), "10.0 GiB"},
		{Ratio(0, 0), "-"}, {Ratio(1, 2), "50.0%"}, {YesNo(true), "yes"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
