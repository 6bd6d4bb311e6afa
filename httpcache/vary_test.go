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
