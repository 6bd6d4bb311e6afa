package proxyproto_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/selfcdn/cdn/proxyproto"
)

// An HTTP server behind layer-4 balancers: connections from the balancers
// (here 127.0.0.1) must carry a PROXY header, and r.RemoteAddr is the client
// address from it. Anyone else connects directly and may not send one.
func ExampleNewListener() {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	balancers := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	ln := proxyproto.NewListener(inner, proxyproto.ListenerConfig{
		Trusted: func(a netip.Addr) bool {
			for _, p := range balancers {
				if p.Contains(a) {
					return true
				}
			}
			return false
		},
		HeaderTimeout: 5 * time.Second,
	})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, r.RemoteAddr)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// What a balancer does: connect, send the header, then the client's bytes.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	h := proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Transport: proxyproto.TCP,
		Source: netip.MustParseAddrPort("203.0.113.7:51000"), Destination: netip.MustParseAddrPort("198.51.100.1:80")}
	h.WriteTo(c)
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufioReader(c), nil)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var body string
	fmt.Fscan(resp.Body, &body)
	fmt.Println(body)
	// Output: 203.0.113.7:51000
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
