package geodns

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// discardWriter is the smallest dns.ResponseWriter: it drops the response.
type discardWriter struct {
	remote net.Addr
	n      int
}

func (w *discardWriter) LocalAddr() net.Addr       { return w.remote }
func (w *discardWriter) RemoteAddr() net.Addr      { return w.remote }
func (w *discardWriter) WriteMsg(m *dns.Msg) error { return nil }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}
func (w *discardWriter) Close() error        { return nil }
func (w *discardWriter) TsigStatus() error   { return nil }
func (w *discardWriter) TsigTimersOnly(bool) {}
func (w *discardWriter) Hijack()             {}

func benchServer(b *testing.B) *Server {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(b, simPlaces...)
	s, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkServeDNS is the handler alone on a parsed query with ECS: a
// cached client network, a geo answer of two A records.
func BenchmarkServeDNS(b *testing.B) {
	s := benchServer(b)
	req := withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), "127.1.0.0/24")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 2, 0, 5), Port: 5353}}
		for pb.Next() {
			s.ServeDNS(w, req)
		}
	})
}

// BenchmarkHandle is a packet in, a packet out: parsing, answering, packing.
func BenchmarkHandle(b *testing.B) {
	s := benchServer(b)
	pkt, _ := query("edge.cdn.example.com.", dns.TypeA, 1232).Pack()
	client := netip.MustParseAddr("127.3.0.5")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s.Handle(pkt, client, false) == nil {
				b.Fatal("no response")
			}
		}
	})
}

// BenchmarkUDP is queries over real loopback UDP, one socket per client
// goroutine, one query in flight per socket.
func BenchmarkUDP(b *testing.B) {
	s := benchServer(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0") }()
	<-s.Ready()
	defer func() { cancel(); <-done }()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := &dns.Client{Net: "udp"}
		conn, err := c.Dial(s.Addr())
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		q := withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), "127.1.0.0/24")
		for pb.Next() {
			if err := conn.WriteMsg(q); err != nil {
				b.Error(err)
				return
			}
			if _, err := conn.ReadMsg(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
