package origin_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/selfcdn/cdn/origin"
)

// Example starts the origin on a loopback port and fetches a synthetic text
// object with a caching policy and surrogate keys, as the README shows.
func Example() {
	srv, err := origin.New(origin.Config{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	res, err := http.Get(ts.URL + "/gen/hello.txt?size=64&ctype=text/plain&cc=public,max-age=60&tags=demo,hello")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.Status)
	for _, k := range []string{"Cache-Control", "Surrogate-Key", "Content-Length", "Etag", "Repr-Digest"} {
		fmt.Printf("%s: %s\n", k, res.Header.Get(k))
	}
	fmt.Printf("%q\n", body)
	fmt.Println("requests:", srv.Stats().Paths["/gen/hello.txt"])
	// Output:
	// 200 OK
	// Cache-Control: public,max-age=60
	// Surrogate-Key: demo hello
	// Content-Length: 64
	// Etag: "c09fe3cbc25891b482e6715b"
	// Repr-Digest: sha-256=:/Q8No1f5/SIugAuR7NBHqL71rAH0c5qTJH9BSeUr6l4=:
	// "flight log region lifetime object miss validator age frame     \n"
	// requests: 1
}
