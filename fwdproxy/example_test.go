package fwdproxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/fwdproxy"
)

// A proxy whose one rule lets clients reach a loopback origin; the second
// request is served from the cache.
func Example() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	}))
	defer origin.Close()

	mem, _ := cache.NewMemory(cache.MemoryConfig{Budget: 16 << 20})
	defer mem.Close()
	p, err := fwdproxy.New(fwdproxy.Config{
		Cache: mem,
		Rules: []fwdproxy.Rule{{
			Action:  "allow",
			Hosts:   []string{"127.0.0.1"},
			Private: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, // loopback, named explicitly
		}},
	})
	if err != nil {
		panic(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go p.Serve(ln)
	defer p.Close()

	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: ln.Addr().String()})}}
	for range 2 {
		resp, err := client.Get(origin.URL + "/greeting")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body), resp.Header.Get("Cache-Status") != "" && resp.Header.Get("Age") != "")
		mem.Wait()
	}
	// Output:
	// 200 hello false
	// 200 hello true
}
