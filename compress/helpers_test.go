package compress

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// rng is a small deterministic generator (SplitMix64), so that corpora and
// golden digests do not depend on math/rand's implementation.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rng) pick(words []string) string { return words[r.intn(len(words))] }

// randomBytes returns n incompressible bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rng(seed)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.next())
	}
	return b
}

var (
	words = strings.Fields(`the of and to in is for on with as by at from this that
		be are it or was an not have more new our your all can will about
		product price shipping order account search help delivery returns
		free best sale shop cart customer review rating size colour stock
		available today fast secure payment offer limited edition premium
		classic modern light dark home garden kitchen office travel sport`)
	names    = strings.Fields(`Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent Victor Walter`)
	classes  = strings.Fields(`container row col card card-body card-title btn btn-primary nav nav-item flex grid item price badge hidden active text-muted`)
	idents   = strings.Fields(`state props value index item node element options config result data callback handler event target render update context`)
	jsFuncs  = strings.Fields(`addEventListener querySelector createElement appendChild setAttribute getAttribute forEach filter reduce push slice then catch`)
	tagWords = strings.Fields(`new sale eco bestseller limited gift summer winter outdoor indoor kids`)
)

// sentence returns n words of prose.
func sentence(r *rng, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.pick(words))
	}
	return b.String()
}

// hexID returns a random hexadecimal identifier, the incompressible part
// of real pages (hashes, ids, tokens).
func hexID(r *rng, n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[r.intn(16)]
	}
	return string(b)
}

// corpus returns deterministic, realistic text of the given kind ("html",
// "js" or "json") and exact size: a product listing page, a script bundle,
// an API response.
func corpus(kind string, size int) []byte {
	r := rng(len(kind)*7919 + size)
	var b bytes.Buffer
	switch kind {
	case "html":
		b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Shop</title>\n")
		b.WriteString("<link rel=\"stylesheet\" href=\"/assets/app." + hexID(&r, 8) + ".css\">\n</head>\n<body>\n<div class=\"container\">\n")
		for b.Len() < size {
			id := r.intn(100000)
			fmt.Fprintf(&b, "<div class=\"%s %s\" data-id=\"%d\">\n  <a href=\"/p/%d-%s\"><img src=\"/img/%s.webp\" alt=\"%s\" width=\"%d\" height=\"%d\"></a>\n",
				r.pick(classes), r.pick(classes), id, id, r.pick(words), hexID(&r, 16), sentence(&r, 3), 200+r.intn(200), 200+r.intn(200))
			fmt.Fprintf(&b, "  <h3 class=\"%s\">%s</h3>\n  <p class=\"%s\">%s.</p>\n  <span class=\"price\">$%d.%02d</span>\n</div>\n",
				r.pick(classes), sentence(&r, 4), r.pick(classes), sentence(&r, 12+r.intn(20)), r.intn(500), r.intn(100))
		}
	case "js":
		b.WriteString("\"use strict\";(function(){")
		for b.Len() < size {
			f := r.pick(idents) + fmt.Sprint(r.intn(500))
			fmt.Fprintf(&b, "function %s(%s,%s){var %s=%s.%s(\"%s\");if(!%s){return null}",
				f, r.pick(idents), r.pick(idents), r.pick(idents), r.pick(idents), r.pick(jsFuncs), r.pick(classes), r.pick(idents))
			fmt.Fprintf(&b, "for(var i=0;i<%s.length;i++){%s[i]=%s[i]+%d;}return %s.%s(function(e){return e.%s!==\"%s\"})}\n",
				r.pick(idents), r.pick(idents), r.pick(idents), r.intn(1000), r.pick(idents), r.pick(jsFuncs), r.pick(idents), sentence(&r, 2))
		}
		b.WriteString("})();")
	case "json":
		b.WriteString("{\"items\":[")
		for i := 0; b.Len() < size; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "{\"id\":%d,\"sku\":\"%s\",\"name\":\"%s\",\"seller\":\"%s\",\"price\":%d.%02d,\"currency\":\"USD\",\"in_stock\":%t,\"rating\":%d.%d,\"tags\":[\"%s\",\"%s\"],\"updated_at\":\"2024-%02d-%02dT%02d:%02d:%02dZ\"}",
				100000+i, hexID(&r, 12), sentence(&r, 3), r.pick(names), r.intn(500), r.intn(100), r.intn(4) > 0,
				1+r.intn(4), r.intn(10), r.pick(tagWords), r.pick(tagWords), 1+r.intn(12), 1+r.intn(28), r.intn(24), r.intn(60), r.intn(60))
		}
		b.WriteString("]}")
	default:
		panic("unknown corpus " + kind)
	}
	return b.Bytes()[:size]
}

// compressBytes compresses p with enc at level.
func compressBytes(t testing.TB, p []byte, enc Encoding, level Level) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, enc, level)
	if err != nil {
		t.Fatalf("NewWriter(%s, %d): %v", enc, level, err)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatalf("write %s/%d: %v", enc, level, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s/%d: %v", enc, level, err)
	}
	return buf.Bytes()
}

// decompressBytes decodes p with enc.
func decompressBytes(t testing.TB, p []byte, enc Encoding) []byte {
	t.Helper()
	r, err := NewReader(bytes.NewReader(p), enc)
	if err != nil {
		t.Fatalf("NewReader(%s): %v", enc, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close reader %s: %v", enc, err)
	}
	return out
}

// allCodings are the codings with their offered levels, identity included.
func allCodings() []Encoding { return []Encoding{Identity, Gzip, Brotli, Zstd} }

// levelsOf returns the offered levels of enc, DefaultLevel for Identity.
func levelsOf(enc Encoding) []Level {
	if enc == Identity {
		return []Level{DefaultLevel}
	}
	return Levels(enc)
}
