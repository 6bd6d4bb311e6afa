package edge

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The framing guard holds for every request of a connection, after
// requests net/http might answer on its own ("OPTIONS *"), after an
// Upgrade that was not taken, after hits the fast engine answered, and on
// the TLS listener as on the cleartext one.
func TestFramingGuardOnEveryRequestAndListener(t *testing.T) {
	o := startOrigin(t)
	certFile, keyFile, pool := selfSigned(t)
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	cfg.Now = o.clock.Now
	cfg.TLSListen, cfg.TLSCert, cfg.TLSKey = "127.0.0.1:0", certFile, keyFile
	e := startEdge(t, cfg)
	hit := uniq(t) + "?size=100&cc=max-age%3D600"
	get(t, e.URL+hit)
	settled(t, e.p)

	smuggle := "POST /gen/s HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	cases := []struct {
		name string
		raw  string
		want []int // status codes in order; the last is the smuggling request's
	}{
		{"alone", smuggle, []int{400}},
		{"after OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: HOST\r\n\r\n" + smuggle, []int{200, 400}},
		{"after an Upgrade not taken", "GET " + hit + " HTTP/1.1\r\nHost: HOST\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + smuggle, []int{200, 400}},
		{"after hits", "GET " + hit + " HTTP/1.1\r\nHost: HOST\r\n\r\nGET " + hit + " HTTP/1.1\r\nHost: HOST\r\n\r\n" + smuggle, []int{200, 200, 400}},
		{"obs-folded Transfer-Encoding", "POST /gen/s HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nX: y\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", []int{400}},
		{"after a POST with a body", "POST /gen/p HTTP/1.1\r\nHost: HOST\r\nContent-Length: 2\r\n\r\nhi" + smuggle, []int{200, 400}},
	}
	dialers := map[string]func() (net.Conn, error){
		"cleartext": func() (net.Conn, error) { return net.Dial("tcp", e.Addr("http").String()) },
		"TLS": func() (net.Conn, error) {
			return tls.Dial("tcp", e.Addr("https").String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
		},
	}
	for lname, dial := range dialers {
		for _, c := range cases {
			t.Run(lname+"/"+c.name, func(t *testing.T) {
				conn, err := dial()
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(conn, strings.ReplaceAll(c.raw, "HOST", "127.0.0.1"))
				br := bufio.NewReader(conn)
				var got []int
				for range c.want {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						break
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					got = append(got, resp.StatusCode)
				}
				if fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("statuses %v, want %v", got, c.want)
				}
			})
		}
	}
}
