package geodns

import (
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TestRawReaderIsDefault: on Linux a UDP socket gets the raw reader.
func TestRawReaderIsDefault(t *testing.T) {
	s, err := New(testConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := s.newUDPReader(pc)
	defer r.close()
	if _, ok := r.(*rawReader); !ok {
		t.Fatalf("reader %T, want *rawReader", r)
	}
}

// TestRawReaderSkipsFailingDestination: a response the kernel refuses to
// send (here to port 0: EINVAL) is skipped, and the responses after it in
// the same sendmmsg still go out, each to its own client.
func TestRawReaderSkipsFailingDestination(t *testing.T) {
	s, err := New(testConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRawReader(t, s)
	var clients []net.PacketConn
	for range 2 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	// Datagrams as recvmmsg would leave them: client 0, port 0, client 1.
	sources := []*net.UDPAddr{clients[0].LocalAddr().(*net.UDPAddr), {IP: net.IPv4(127, 0, 0, 1), Port: 0}, clients[1].LocalAddr().(*net.UDPAddr)}
	for i, src := range sources {
		q := query("edge.cdn.example.com.", dns.TypeA, 0)
		q.Id = uint16(100 + i)
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		copy(r.bufs[i*maxUDPRequest:], b)
		r.in[i].Len = uint32(len(b))
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.names[i]))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET}
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
		pb[0], pb[1] = byte(src.Port>>8), byte(src.Port)
		copy(sa.Addr[:], src.IP.To4())
		r.in[i].Hdr.Namelen = unix.SizeofSockaddrInet4
	}
	r.answer(len(sources))
	for i, c := range clients {
		buf := make([]byte, 512)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		var m dns.Msg
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if want := uint16(100 + 2*i); m.Id != want {
			t.Errorf("client %d got ID %d, want %d", i, m.Id, want)
		}
	}
}

// TestRawReaderNoAllocation: answering a batch of cached queries and
// sending the responses allocates nothing.
func TestRawReaderNoAllocation(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(t, simPlaces...)
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRawReader(t, s)
	sink, err := net.ListenPacket("udp", "127.2.0.9:0")
	if err != nil {
		t.Fatalf("cannot bind 127.2.0.9 (Linux routes all of 127/8 to lo): %v", err)
	}
	defer sink.Close()
	src := sink.LocalAddr().(*net.UDPAddr)
	q, _ := withECS(query("edge.cdn.example.com.", dns.TypeA, 1232), "127.1.0.0/24").Pack()
	for i := range udpBatch {
		copy(r.bufs[i*maxUDPRequest:], q)
		r.in[i].Len = uint32(len(q))
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.names[i]))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET}
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
		pb[0], pb[1] = byte(src.Port>>8), byte(src.Port)
		copy(sa.Addr[:], src.IP.To4())
		r.in[i].Hdr.Namelen = unix.SizeofSockaddrInet4
	}
	r.answer(udpBatch) // fills the caches
	if n := testing.AllocsPerRun(20, func() { r.answer(udpBatch) }); n != 0 {
		t.Errorf("%v allocations per batch", n)
	}
	buf := make([]byte, 512)
	_ = sink.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := sink.ReadFrom(buf); err != nil {
		t.Fatalf("no response reached the client: %v", err)
	}
}

// newTestRawReader is a raw reader for s on a socket of its own on
// 127.0.0.1, closed when the test ends.
func newTestRawReader(t *testing.T, s *Server) *rawReader {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRawReader(s, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}
