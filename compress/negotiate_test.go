package compress

import (
	"strings"
	"testing"
)

// ae splits a test's header notation: lines separated by "|"; "<none>" is
// a request without the field.
func ae(s string) []string {
	if s == "<none>" {
		return nil
	}
	return strings.Split(s, "|")
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, header string
		want         Encoding
	}{
		// RFC 9110 §12.5.3, the field's own examples.
		{"RFC9110-12.5.3-example-compress-gzip", "compress, gzip", Gzip},
		{"RFC9110-12.5.3-example-empty", "", Identity},
		{"RFC9110-12.5.3-example-star", "*", Brotli},
		{"RFC9110-12.5.3-example-weights", "compress;q=0.5, gzip;q=1.0", Gzip},
		{"RFC9110-12.5.3-example-identity-weight-star-zero", "gzip;q=1.0, identity; q=0.5, *;q=0", Gzip},
		// RFC 9110 §12.5.3 rules.
		{"RFC9110-12.5.3-no-field-identity", "<none>", Identity},
		{"RFC9110-12.5.3-empty-lines-identity", " | \t", Identity},
		{"RFC9110-12.5.3-identity-excluded-nothing-else", "identity;q=0", NotAcceptable},
		{"RFC9110-12.5.3-star-zero-excludes-identity", "*;q=0", NotAcceptable},
		{"RFC9110-12.5.3-star-zero-identity-explicit", "*;q=0, identity", Identity},
		{"RFC9110-12.5.3-star-zero-identity-weighted", "*;q=0, identity;q=0.1", Identity},
		{"RFC9110-12.5.3-identity-excluded-gzip-ok", "identity;q=0, gzip;q=0.1", Gzip},
		{"RFC9110-12.5.3-unoffered-only-identity-fallback", "deflate, compress", Identity},
		{"RFC9110-12.5.3-unoffered-identity-excluded", "deflate, identity;q=0", NotAcceptable},
		{"RFC9110-12.5.3-q0-excludes", "br;q=0, gzip", Gzip},
		{"RFC9110-12.5.3-q0-all", "br;q=0, zstd;q=0, gzip;q=0", Identity},
		{"RFC9110-12.5.3-star-with-exclusion", "*, br;q=0", Zstd},
		{"RFC9110-12.5.3-star-lower-than-explicit", "*;q=0.5, gzip", Gzip},
		{"RFC9110-12.5.3-identity-preferred-by-weight", "gzip;q=0.5, identity;q=0.8", Identity},
		{"RFC9110-12.5.3-identity-tie-goes-to-coding", "gzip, identity", Gzip},
		{"RFC9110-12.5.3-star-weight-tie-goes-to-coding", "*;q=0.5, br;q=0.3", Zstd},
		{"RFC9110-12.5.3-identity-via-star-weight", "*;q=0.5, br;q=0.3, zstd;q=0.3, gzip;q=0.3", Identity},
		{"RFC9110-12.5.3-implicit-identity-is-fallback", "gzip;q=0.001", Gzip},
		{"RFC9110-12.5.3-highest-weight-wins", "br;q=0.5, zstd;q=0.5, gzip;q=1", Gzip},
		{"RFC9110-12.5.3-tie-by-preference", "gzip;q=0.8, zstd;q=0.8, br;q=0.8", Brotli},
		{"RFC9110-12.5.3-tie-zstd-over-gzip", "gzip, zstd", Zstd},
		{"RFC9110-12.4.2-qvalue-three-decimals", "gzip;q=0.002, zstd;q=0.001", Gzip},
		{"RFC9110-12.4.2-qvalue-one-dot", "zstd;q=1.", Zstd},
		{"RFC9110-12.4.2-qvalue-1.000", "zstd;q=1.000", Zstd},
		{"RFC9110-12.4.2-q-case-insensitive", "gzip;Q=0.5", Gzip},
		{"RFC9110-8.4.1.3-x-gzip", "x-gzip", Gzip},
		{"RFC9110-8.4.1-case-insensitive", "BR", Brotli},
		{"RFC9110-8.4.1-mixed-case", "GZip, ZSTD;q=0.9", Gzip},
		{"RFC9110-5.6.3-whitespace", " \tgzip ; q=0.5 ,  br;q=0.4\t", Gzip},
		{"RFC9110-5.6.1-empty-members", ",,gzip,,", Gzip},
		{"RFC9110-5.3-multiple-lines", "gzip|br", Brotli},
		{"RFC9110-5.3-exclusion-on-second-line", "br, gzip|br;q=0", Brotli}, // highest weight of duplicates
		{"duplicate-takes-highest", "gzip;q=0.1, zstd;q=0.5, gzip;q=0.9", Gzip},
		// Malformed members are ignored one by one.
		{"malformed-qvalue-above-one", "gzip;q=1.5", Identity},
		{"malformed-qvalue-four-decimals", "gzip;q=0.5000, zstd", Zstd},
		{"malformed-qvalue-word", "br;q=high, gzip", Gzip},
		{"malformed-qvalue-empty", "br;q=, gzip", Gzip},
		{"malformed-qvalue-negative", "br;q=-1, gzip", Gzip},
		{"malformed-qvalue-quoted", `br;q="1", gzip`, Gzip},
		{"malformed-space-around-equals", "br;q = 1, gzip", Gzip},
		{"malformed-unknown-parameter", "br;level=11, gzip", Gzip},
		{"malformed-token", "b r, gzip", Gzip},
		{"malformed-only", ";q=1, =, ;", Identity},
		{"malformed-identity-exclusion-ignored", "identity;q=zero", Identity},
		{"token-with-star-prefix", "*br", Identity},
		// Real clients.
		{"chrome", "gzip, deflate, br, zstd", Brotli},
		{"firefox", "gzip, deflate, br, zstd", Brotli},
		{"firefox-older", "gzip, deflate, br", Brotli},
		{"safari", "gzip, deflate, br", Brotli},
		{"edge-legacy", "gzip, deflate, br", Brotli},
		{"ie11", "gzip, deflate", Gzip},
		{"curl-compressed", "deflate, gzip, br, zstd", Brotli},
		{"curl-plain", "<none>", Identity},
		{"wget", "identity", Identity},
		{"go-http-client", "gzip", Gzip},
		{"python-requests", "gzip, deflate", Gzip},
		{"okhttp", "gzip", Gzip},
		{"googlebot", "gzip, deflate, br", Brotli},
		{"node-fetch", "gzip,deflate,br", Brotli},
		{"zstd-only-client", "zstd", Zstd},
		{"old-opera", "deflate, gzip, x-gzip, identity, *;q=0", Gzip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Negotiate(ae(tt.header), nil)
			if got != tt.want {
				t.Errorf("Negotiate(%q) = %q, want %q", tt.header, got, tt.want)
			}
			if n := NormalizeAcceptEncoding(ae(tt.header)); n != string(tt.want) {
				t.Errorf("NormalizeAcceptEncoding(%q) = %q, want %q", tt.header, n, tt.want)
			}
		})
	}
}

// TestCommonHeaderAgrees checks the hot-path answers against the general
// rules, which a non-nil offer always uses.
func TestCommonHeaderAgrees(t *testing.T) {
	for _, v := range []string{"gzip, deflate, br, zstd", "gzip, deflate, br", "gzip, deflate, br, zstd, dcb, dcz",
		"deflate, gzip, br, zstd", "gzip,deflate,br", "gzip, br", "br, gzip", "br",
		"gzip, deflate", "gzip", "gzip,deflate", "identity", ""} {
		fast, ok := commonHeader(v)
		if !ok {
			t.Errorf("%q is not on the hot path", v)
		}
		if slow := Negotiate([]string{v}, DefaultOffer()); fast != slow {
			t.Errorf("%q: hot path %q, rules %q", v, fast, slow)
		}
	}
}

func TestNegotiateOffered(t *testing.T) {
	many := []Encoding{"a", "b", "c", "d", "e", "f", "g", "h", "i", Gzip}
	tests := []struct {
		name, header string
		offered      []Encoding
		want         Encoding
	}{
		{"only-gzip-offered", "gzip, br", []Encoding{Gzip}, Gzip},
		{"nothing-acceptable-offered", "br", []Encoding{Gzip}, Identity},
		{"offer-order-is-preference", "gzip, br", []Encoding{Gzip, Brotli}, Gzip},
		{"identity-offered-explicitly", "gzip", []Encoding{Identity, Gzip}, Gzip},
		{"empty-offer-identity", "gzip", []Encoding{}, Identity},
		{"empty-offer-identity-excluded", "gzip, identity;q=0", []Encoding{}, NotAcceptable},
		{"other-coding-offered", "deflate", []Encoding{"deflate"}, "deflate"},
		{"more-than-eight-offered", "gzip", many, Gzip},
		{"not-acceptable-in-offer-ignored", "*", []Encoding{NotAcceptable}, Identity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Negotiate(ae(tt.header), tt.offered); got != tt.want {
				t.Errorf("Negotiate(%q, %q) = %q, want %q", tt.header, tt.offered, got, tt.want)
			}
		})
	}
}

// TestNormalizeAcceptEncodingCanonical checks that the many headers seen in
// practice collapse onto a handful of keys: one variant per coding.
func TestNormalizeAcceptEncodingCanonical(t *testing.T) {
	headers := []string{
		"gzip, deflate, br, zstd", "gzip, deflate, br", "gzip, deflate", "gzip",
		"br", "zstd", "identity", "", "<none>", "*", "*;q=0", "br;q=0, gzip",
		"deflate", "x-gzip", "GZIP, BR", "gzip;q=1.0, identity; q=0.5, *;q=0",
		"compress", "br;q=0.9, gzip;q=1", "zstd;q=0.5, gzip;q=0.4",
	}
	keys := map[string]bool{}
	for _, h := range headers {
		keys[NormalizeAcceptEncoding(ae(h))] = true
	}
	allowed := map[string]bool{"br": true, "zstd": true, "gzip": true, "": true, string(NotAcceptable): true}
	for k := range keys {
		if !allowed[k] {
			t.Errorf("key %q is not canonical", k)
		}
	}
	if len(keys) != len(allowed) {
		t.Errorf("got keys %v, want every one of %v", keys, allowed)
	}
}

func TestNormalizeAcceptEncodingAllocs(t *testing.T) {
	for _, h := range []string{"gzip, deflate, br, zstd", "gzip, deflate, br", "gzip", "", "br;q=0.5, gzip;q=0.8, identity;q=0"} {
		v := ae(h)
		if n := testing.AllocsPerRun(100, func() { _ = NormalizeAcceptEncoding(v) }); n != 0 {
			t.Errorf("NormalizeAcceptEncoding(%q): %v allocations, want 0", h, n)
		}
	}
}

func TestDefaultOfferIsACopy(t *testing.T) {
	d := DefaultOffer()
	d[0] = Gzip
	if got := DefaultOffer()[0]; got != Brotli {
		t.Fatalf("DefaultOffer()[0] = %q after modifying a copy", got)
	}
}

func TestParseEncoding(t *testing.T) {
	tests := []struct {
		in   string
		want Encoding
		ok   bool
	}{
		{"gzip", Gzip, true}, {"X-GZIP", Gzip, true}, {" br ", Brotli, true},
		{"zstd", Zstd, true}, {"identity", Identity, true}, {"", Identity, true},
		{"deflate", "", false}, {"compress", "", false},
	}
	for _, tt := range tests {
		got, ok := ParseEncoding(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseEncoding(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if Identity.String() != "identity" || Brotli.String() != "br" {
		t.Errorf("String: %q %q", Identity.String(), Brotli.String())
	}
}
