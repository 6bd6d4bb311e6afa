package httpcache

import (
	"net/http"
	"reflect"
	"testing"
)

func TestVaryFields(t *testing.T) {
	tests := []struct {
		name   string
		resp   http.Header
		fields []string
		star   bool
	}{
		{"RFC9111-4.1-absent", hdr(), nil, false},
		{"RFC9110-12.5.5-single", hdr("Vary", "accept-encoding"), []string{"Accept-Encoding"}, false},
		{"RFC9110-12.5.5-lines-split-dedup-sorted", hdr("Vary", "Accept-Language, accept-encoding", "Vary", " Accept-Encoding ,,Origin"),
			[]string{"Accept-Encoding", "Accept-Language", "Origin"}, false},
		{"RFC9111-4.1-star", hdr("Vary", "Accept, *"), []string{"Accept"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, star := VaryFields(tt.resp)
			if !reflect.DeepEqual(fields, tt.fields) || star != tt.star {
				t.Fatalf("VaryFields = %q, %v; want %q, %v", fields, star, tt.fields, tt.star)
			}
		})
	}
}

func TestVaryValues(t *testing.T) {
	fields := []string{"Accept-Encoding", "Accept-Language", "X-Absent"}
	tests := []struct {
		name string
		req  http.Header
		want []string
	}{
		{"RFC9111-4.1-normal-form-kept", hdr("Accept-Encoding", "gzip, br", "Accept-Language", "en"),
			[]string{"gzip, br", "en", VaryAbsent}},
		{"RFC9111-4.1-whitespace-removed", hdr("Accept-Encoding", "  gzip,br  ", "Accept-Language", "en"),
			[]string{"gzip, br", "en", VaryAbsent}},
		{"RFC9111-4.1-field-lines-combined", hdr("Accept-Encoding", "gzip", "Accept-Encoding", "br", "Accept-Language", "en"),
			[]string{"gzip, br", "en", VaryAbsent}},
		{"RFC9111-4.1-whitespace-collapsed-outside-quotes", hdr("Accept-Encoding", `gzip;q=1.0,   br ;q=0.5`, "Accept-Language", `a="x  y",  b`),
			[]string{"gzip;q=1.0, br ;q=0.5", `a="x  y", b`, VaryAbsent}},
		{"RFC9111-4.1-empty-distinct-from-absent", hdr("Accept-Encoding", ""),
			[]string{"", VaryAbsent, VaryAbsent}},
		{"RFC9111-4.1-empty-members-dropped", hdr("Accept-Encoding", ", ,gzip,,"),
			[]string{"gzip", VaryAbsent, VaryAbsent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VaryValues(fields, tt.req); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("VaryValues = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNormalizeAcceptLanguage(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
		ok    bool
	}{
		{"RFC9110-12.5.4-example", []string{"da, en-gb;q=0.8, en;q=0.7"}, "da, en-gb;q=0.8, en;q=0.7", true},
		{"RFC4647-2.1-case-insensitive", []string{"EN-US, Fr"}, "en-us, fr", true},
		{"RFC9110-12.4.2-order-by-weight", []string{"fr;q=0.5, en-US"}, "en-us, fr;q=0.5", true},
		{"RFC9110-12.4.2-equal-weights-sorted", []string{"fr, de, en"}, "de, en, fr", true},
		{"RFC9110-5.6.1-whitespace", []string{" fr ; q = 0.5 ,en "}, "en, fr;q=0.5", true},
		{"RFC9110-12.4.2-weight-shortest-form", []string{"en;q=1.000, fr;q=0.50, de;Q=0.250, it;q=0."}, "en, fr;q=0.5, de;q=0.25, it;q=0", true},
		{"RFC9110-5.3-lines-combined", []string{"fr;q=0.5", "en"}, "en, fr;q=0.5", true},
		{"RFC9110-12.5.4-wildcard", []string{"*;q=0.1, en"}, "en, *;q=0.1", true},
		{"RFC9110-12.5.4-repeated-range-first-kept", []string{"en;q=0.2, EN"}, "en;q=0.2", true},
		{"RFC9110-12.5.4-empty", []string{""}, "", true},
		{"RFC9110-12.4.2-invalid-weight", []string{"en;q=2"}, "", false},
		{"RFC9110-12.4.2-too-precise-weight", []string{"en;q=0.1234"}, "", false},
		{"RFC9110-12.4.2-other-parameter", []string{"en;level=1"}, "", false},
		{"RFC4647-2.1-invalid-range", []string{"en_US"}, "", false},
		{"RFC4647-2.1-subtag-too-long", []string{"abcdefghi"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NormalizeAcceptLanguage(tt.lines)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("NormalizeAcceptLanguage(%q) = %q, %v; want %q, %v", tt.lines, got, ok, tt.want, tt.ok)
			}
			if ok {
				if again, _ := NormalizeAcceptLanguage([]string{got}); again != got {
					t.Fatalf("not idempotent: %q then %q", got, again)
				}
			}
		})
	}
}

func TestVaryValuesAcceptLanguage(t *testing.T) {
	fields := []string{"Accept-Language"}
	a := VaryValues(fields, hdr("Accept-Language", "en-US,fr;q=0.5"))
	b := VaryValues(fields, hdr("Accept-Language", "fr; Q=0.50 , EN-us"))
	if !reflect.DeepEqual(a, b) || a[0] != "en-us, fr;q=0.5" {
		t.Fatalf("RFC9111-4.1: Accept-Language variants %q and %q should share one key", a, b)
	}
	c := VaryValues(fields, hdr("Accept-Language", "fr, en-US;q=0.5"))
	if reflect.DeepEqual(a, c) {
		t.Fatalf("RFC9111-4.1: different preferences %q and %q share a key", a, c)
	}
}

// FuzzNormalizeAcceptLanguage: never panics, and normalising is idempotent.
func FuzzNormalizeAcceptLanguage(f *testing.F) {
	f.Add("da, en-gb;q=0.8, en;q=0.7")
	f.Add("*;q=0, EN ; q=1.")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := NormalizeAcceptLanguage([]string{s})
		if !ok {
			return
		}
		again, ok2 := NormalizeAcceptLanguage([]string{got})
		if !ok2 || again != got {
			t.Fatalf("%q: %q then %q (%v)", s, got, again, ok2)
		}
	})
}
