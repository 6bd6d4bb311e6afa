package edge

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/quic-go/quic-go/http3"
	"github.com/selfcdn/cdn/quiclb"
)

// udpRelay forwards one client's datagrams to dst and back, keeping the
// destination connection IDs of the client's short-header packets.
type udpRelay struct {
	pc   net.PacketConn
	mu   sync.Mutex
	dcid [][]byte
}

func startUDPRelay(t *testing.T, cidLen int) (r *udpRelay, setDst func(string)) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r = &udpRelay{pc: pc}
	upc := make(chan net.Conn, 1)
	var up net.Conn
	// Registered before the edge's cleanup, so it runs after it: the
	// client's close and the edge's shutdown still pass through.
	t.Cleanup(func() {
		pc.Close()
		if up != nil {
			up.Close()
		}
	})
	var client net.Addr
	var cmu sync.Mutex
	go func() {
		u := <-upc
		b := make([]byte, 65536)
		for {
			n, err := u.Read(b)
			if err != nil {
				return
			}
			cmu.Lock()
			c := client
			cmu.Unlock()
			if c != nil {
				pc.WriteTo(b[:n], c)
			}
		}
	}()
	setDst = func(dst string) {
		var err error
		up, err = net.Dial("udp", dst)
		if err != nil {
			t.Fatal(err)
		}
		upc <- up
		go func() {
			b := make([]byte, 65536)
			for {
				n, from, err := pc.ReadFrom(b)
				if err != nil {
					return
				}
				cmu.Lock()
				client = from
				cmu.Unlock()
				if b[0]&0x80 == 0 { // short header: the server's connection ID
					if id, ok := quiclb.DestConnID(b[:n], cidLen); ok {
						r.mu.Lock()
						r.dcid = append(r.dcid, bytes.Clone(id))
						r.mu.Unlock()
					}
				}
				up.Write(b[:n])
			}
		}()
	}
	return r, setDst
}

// With QUIC-LB on, the connection IDs an edge issues carry its server ID:
// the packets a client sends after the handshake name the edge, which is
// what lets a balancer route them whatever their source address.
func TestHTTP3IssuesQUICLBConnectionIDs(t *testing.T) {
	o := startOrigin(t)
	certFile, keyFile, pool := selfSigned(t)
	qc := quiclb.Config{ConfigID: 2, ServerIDLen: 2, NonceLen: 8}
	cfg := QuickConfig("edge-1", "127.0.0.1:0", o.URL)
	cfg.Now = o.clock.Now
	cfg.TLSListen, cfg.TLSCert, cfg.TLSKey = "127.0.0.1:0", certFile, keyFile
	cfg.QUICLB, cfg.QUICServerID = &qc, []byte{0x00, 0x07}
	relay, setDst := startUDPRelay(t, qc.Len())
	e := startEdge(t, cfg)
	setDst(e.Addr("http3").String())

	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	defer tr.Close()
	c := &http.Client{Transport: tr}
	for range 3 {
		resp, err := c.Get("https://" + relay.pc.LocalAddr().String() + uniq(t) + "?size=2000&cc=max-age%3D60")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 3 {
			t.Fatalf("got %s", resp.Proto)
		}
	}
	relay.mu.Lock()
	defer relay.mu.Unlock()
	if len(relay.dcid) == 0 {
		t.Fatal("the client sent no short-header packet")
	}
	for _, id := range relay.dcid {
		sid, ok := qc.ServerID(id)
		if !ok || !bytes.Equal(sid, []byte{0x00, 0x07}) {
			t.Fatalf("client packet to connection ID %x: server ID %x (%v), want 0007", id, sid, ok)
		}
	}
}
