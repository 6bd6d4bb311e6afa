package sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/quic-go/quic-go/http3"
)

// With tls.self_signed every edge serves HTTPS and HTTP/3 with a
// certificate from the simulation's development CA.
func TestSimulationTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole simulation")
	}
	s := startTestSim(t, func(o *Options) {
		o.Cluster.TLS.SelfSigned = true
		o.Cluster.TLS.Dir = filepath.Join(o.WorkDir, "tls")
		o.Cluster.Ports.HTTPS = o.HTTPPort + 4
	})
	cl := s.Cluster()
	pem, err := os.ReadFile(filepath.Join(cl.TLS.Dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	edgeAddr := s.Endpoints().PoPs[0].Edges[0].Address
	url := "https://" + SiteHost + ":" + strconv.Itoa(cl.Ports.HTTPS) + "/gen/tls?size=3000&cc=public,max-age=300"
	dialTo := edgeAddr + ":" + strconv.Itoa(cl.Ports.HTTPS)
	h2 := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}
	h2.DialContext = (&netDialer{addr: dialTo}).dial
	defer h2.CloseIdleConnections()
	h3 := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer h3.Close()
	var bodies []string
	for _, c := range []struct {
		rt    http.RoundTripper
		proto int
	}{{h2, 2}, {h3, 3}} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if c.proto == 3 {
			req.URL.Host = dialTo // QUIC dials the address; SNI and Host stay the site's
			req.Host = SiteHost
			h3.TLSClientConfig.ServerName = SiteHost
		}
		resp, err := c.rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("HTTP/%d: %v", c.proto, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != c.proto {
			t.Fatalf("HTTP/%d: %d %s", c.proto, resp.StatusCode, resp.Proto)
		}
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] {
		t.Fatal("HTTP/2 and HTTP/3 bodies differ")
	}
	if s.Endpoints().PoPs[0].Edges[0].Ports.HTTPS != cl.Ports.HTTPS {
		t.Fatal("endpoints file lacks the HTTPS port")
	}
}

// netDialer dials one fixed address whatever the URL's host (like curl
// --resolve).
type netDialer struct{ addr string }

func (d *netDialer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.addr)
}
