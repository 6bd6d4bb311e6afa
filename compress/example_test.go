package compress_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/selfcdn/cdn/compress"
)

// The edge, on a miss for a compressible response: choose the variant from
// the request, compress once, adjust the header, and later decode for a
// client that accepts only identity.
func Example() {
	var cfg compress.Config // defaults
	req := http.Header{"Accept-Encoding": {"gzip, deflate, br, zstd"}}
	resp := http.Header{
		"Content-Type":   {"text/html; charset=utf-8"},
		"Etag":           {`"v42"`},
		"Content-Length": {"1300"},
	}
	body := []byte(strings.Repeat("<p>hello, compressed world</p>\n", 42))

	key := compress.NormalizeAcceptEncoding(req.Values("Accept-Encoding")) // secondary cache key
	enc := compress.Encoding(key)
	fmt.Println("variant:", enc)

	if cfg.Compressible(resp.Get("Content-Type"), resp.Get("Content-Encoding"), resp.Get("Cache-Control"), int64(len(body))) {
		var variant bytes.Buffer
		w, err := compress.NewWriter(&variant, enc, cfg.Level(enc))
		if err != nil {
			panic(err)
		}
		w.Write(body)
		w.Close()
		compress.SetVariantHeader(resp, enc)
		fmt.Println("Content-Encoding:", resp.Get("Content-Encoding"))
		fmt.Println("ETag:", resp.Get("Etag"))
		fmt.Println("Vary:", resp.Get("Vary"))
		fmt.Println("smaller:", variant.Len() < len(body))

		// A client that wants identity, served from the compressed variant.
		r, _ := compress.NewReader(&variant, enc)
		plain, _ := io.ReadAll(r)
		r.Close()
		fmt.Println("decoded equal:", bytes.Equal(plain, body))

		// Its If-None-Match, carried to the origin.
		orig, _ := compress.OriginalETag(`"v42-br"`)
		fmt.Println("upstream If-None-Match:", orig)
	}
	// Output:
	// variant: br
	// Content-Encoding: br
	// ETag: "v42-br"
	// Vary: Accept-Encoding
	// smaller: true
	// decoded equal: true
	// upstream If-None-Match: "v42"
}

func ExampleNegotiate() {
	fmt.Println(compress.Negotiate([]string{"gzip, deflate, br, zstd"}, nil))
	fmt.Println(compress.Negotiate([]string{"gzip;q=1.0, identity; q=0.5, *;q=0"}, nil))
	fmt.Println(compress.Negotiate([]string{"br;q=0, gzip"}, nil))
	fmt.Println(compress.Negotiate(nil, nil))
	fmt.Println(compress.Negotiate([]string{"*;q=0"}, nil) == compress.NotAcceptable)
	// Output:
	// br
	// gzip
	// gzip
	// identity
	// true
}
