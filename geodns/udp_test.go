package geodns

import (
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The UDP listener tests run against both readers: the default one (on
// Linux the raw recvmmsg/sendmmsg reader) and the portable one.
var udpReaders = []struct {
	name     string
	portable bool
}{{"default", false}, {"portable", true}}

// udpServer runs a server with the simulation's database on addr; stop
// cancels it and returns how long ListenAndServe took to return.
func udpServer(t *testing.T, portable bool, addr string) (s *Server, stop func() time.Duration) {
	t.Helper()
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(t, simPlaces...)
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.portableUDP = portable
	return s, runServer(t, s, addr)
}

// mixCase spells name with random letter case (the 0x20 trick), which the
// response must echo.
func mixCase(name string, rnd *rand.Rand) string {
	b := []byte(name)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && rnd.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestUDPManyClients: clients on several loopback source addresses send
// pipelined queries at once, each from its own socket; every client gets
// an answer to each of its queries and nothing else (ID, question and
// its case), located by its own source address. With a fixed port the
// server reads several SO_REUSEPORT sockets.
func TestUDPManyClients(t *testing.T) {
	for _, rd := range udpReaders {
		for _, fixed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fixedPort=%v", rd.name, fixed), func(t *testing.T) {
				addr := "127.0.0.1:0"
				if fixed {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
					addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
				}
				s, _ := udpServer(t, rd.portable, addr)
				manyClients(t, s.Addr())
			})
		}
	}
}

func manyClients(t *testing.T, server string) {
	// Source networks of simPlaces and the PoP each is nearest to.
	sources := []struct{ addr, pop string }{
		{"127.1.0.5", "london"}, {"127.2.0.5", "ashburn"}, {"127.3.0.5", "singapore"},
		{"127.1.0.6", "london"}, {"127.2.0.6", "ashburn"}, {"127.3.0.6", "singapore"},
		{"127.0.0.1", "ashburn"}, {"127.0.0.1", "ashburn"}, // not in the database: the default PoP
	}
	const (
		perClient = 400
		window    = 16
	)
	var wg sync.WaitGroup
	for ci, src := range sources {
		conn, err := net.ListenPacket("udp", src.addr+":0")
		if err != nil {
			if runtime.GOOS == "linux" {
				t.Fatalf("cannot bind %s (Linux routes all of 127/8 to lo): %v", src.addr, err)
			}
			t.Skipf("cannot bind %s: only Linux puts all of 127/8 on the loopback: %v", src.addr, err)
		}
		defer conn.Close()
		wg.Go(func() {
			if err := runClient(conn, server, uint16(ci), src.pop, perClient, window); err != nil {
				t.Errorf("client %d from %s: %v", ci, conn.LocalAddr(), err)
			}
		})
	}
	wg.Wait()
}

// runClient sends n queries in windows, with IDs client<<10 | i, and
// checks every response.
func runClient(conn net.PacketConn, server string, client uint16, pop string, n, window int) error {
	to, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return err
	}
	rnd := rand.New(rand.NewPCG(uint64(client), 17))
	names := []string{"edge.cdn.example.com.", "www.cdn.example.com."}
	buf := make([]byte, 65535)
	for start := 0; start < n; start += window {
		sent := map[uint16]string{} // ID -> question name as sent
		for i := start; i < min(n, start+window); i++ {
			id := client<<10 | uint16(i)
			q := query(mixCase(names[i%2], rnd), dns.TypeA, 0)
			if i%3 == 0 {
				q = withECS(query(q.Question[0].Name, dns.TypeA, 1232), "127.9.0.0/24") // not located: the querier's PoP is not used
			}
			q.Id = id
			b, err := q.Pack()
			if err != nil {
				return err
			}
			sent[id] = q.Question[0].Name
			if _, err := conn.WriteTo(b, to); err != nil {
				return err
			}
		}
		for len(sent) > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			m, from, err := conn.ReadFrom(buf)
			if err != nil {
				return fmt.Errorf("%d responses missing after query %d: %w", len(sent), start, err)
			}
			if from.String() != to.String() {
				return fmt.Errorf("response from %s, want %s", from, to)
			}
			var r dns.Msg
			if err := r.Unpack(buf[:m]); err != nil {
				return fmt.Errorf("response does not parse: %w", err)
			}
			name, ok := sent[r.Id]
			if !ok {
				return fmt.Errorf("response with ID %#x, not one of this client's outstanding queries", r.Id)
			}
			delete(sent, r.Id)
			if len(r.Question) != 1 || r.Question[0].Name != name {
				return fmt.Errorf("ID %#x: question %v, want %s", r.Id, r.Question, name)
			}
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				return fmt.Errorf("ID %#x: rcode %s, %d answers", r.Id, dns.RcodeToString[r.Rcode], len(r.Answer))
			}
			want := pop
			if e := responseECS(&r); e != nil {
				want = "ashburn" // 127.9/16 is in no database network: the default PoP
			}
			if got := answerPoPs(&r); len(got) != 1 || got[0] != want {
				return fmt.Errorf("ID %#x: answer from %v (%v), want %s", r.Id, got, answerAddrs(&r), want)
			}
		}
	}
	return nil
}

// TestUDPGarbage: datagrams that are empty, shorter than a header, a
// response, cut inside the question, larger than the read buffer or
// random bytes are dropped or get FORMERR, and the reader goes on
// answering the queries in the same and later batches.
func TestUDPGarbage(t *testing.T) {
	for _, rd := range udpReaders {
		t.Run(rd.name, func(t *testing.T) {
			s, _ := udpServer(t, rd.portable, "127.0.0.1:0")
			conn, err := net.Dial("udp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			valid := func(id uint16) []byte {
				q := query("edge.cdn.example.com.", dns.TypeA, 1232)
				q.Id = id
				b, err := q.Pack()
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			resp := make([]byte, 65535)
			read := func() (*dns.Msg, error) {
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := conn.Read(resp)
				if err != nil {
					return nil, err
				}
				var r dns.Msg
				if err := r.Unpack(resp[:n]); err != nil {
					t.Fatalf("response does not parse: %v", err)
				}
				return &r, nil
			}
			cut := valid(0x1001)
			cut = cut[:len(cut)-9] // inside the question
			large := append(valid(0x1002), make([]byte, maxUDPRequest+1000)...)
			reply := valid(0x1003)
			reply[2] |= 0x80 // QR: a response
			rnd := rand.New(rand.NewPCG(1, 2))
			for round := range 50 {
				// A burst, so that garbage and queries share batches.
				junk := make([]byte, 1+rnd.IntN(600))
				for i := range junk {
					junk[i] = byte(rnd.Uint32())
				}
				junk[2] |= 0x80 // keep random bytes from being answered: only the queries below are read back
				for _, p := range [][]byte{{}, {1, 2, 3}, reply, junk, cut, large, valid(uint16(round))} {
					if _, err := conn.Write(p); err != nil {
						t.Fatal(err)
					}
				}
				want := map[uint16]int{0x1001: dns.RcodeFormatError, 0x1002: dns.RcodeFormatError, uint16(round): dns.RcodeSuccess}
				for len(want) > 0 {
					r, err := read()
					if err != nil {
						t.Fatalf("round %d: %v; still waiting for %v", round, err, want)
					}
					rc, ok := want[r.Id]
					if !ok {
						t.Fatalf("round %d: unexpected response %#x (%s)", round, r.Id, dns.RcodeToString[r.Rcode])
					}
					if r.Rcode != rc {
						t.Errorf("round %d: ID %#x rcode %s, want %s", round, r.Id, dns.RcodeToString[r.Rcode], dns.RcodeToString[rc])
					}
					if rc == dns.RcodeSuccess && len(r.Answer) == 0 {
						t.Errorf("round %d: no answer", round)
					}
					delete(want, r.Id)
				}
			}
		})
	}
}

// TestUDPShutdown: ListenAndServe returns promptly when its context ends,
// whether the readers are idle or busy with a client that keeps sending.
func TestUDPShutdown(t *testing.T) {
	for _, rd := range udpReaders {
		for _, busy := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/busy=%v", rd.name, busy), func(t *testing.T) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
				s, stop := udpServer(t, rd.portable, "127.0.0.1:"+strconv.Itoa(freePort(t)))
				r := exchange(t, s.Addr(), "udp", query("edge.cdn.example.com.", dns.TypeA, 0), nil)
				if len(r.Answer) == 0 {
					t.Fatal("no answer")
				}
				quit := make(chan struct{})
				var wg sync.WaitGroup
				if busy {
					conn, err := net.Dial("udp", s.Addr())
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					b, _ := query("www.cdn.example.com.", dns.TypeA, 0).Pack()
					wg.Go(func() {
						for {
							select {
							case <-quit:
								return
							default:
							}
							_, _ = conn.Write(b)
						}
					})
					time.Sleep(100 * time.Millisecond)
				}
				d := stop()
				close(quit)
				wg.Wait()
				if d > 2*time.Second {
					t.Errorf("ListenAndServe took %s to return", d)
				}
				t.Logf("stopped in %s", d)
			})
		}
	}
}

// TestUDPSourceAddressIPv6 answers over IPv6 loopback, where the reader
// parses the other address family.
func TestUDPSourceAddressIPv6(t *testing.T) {
	if ln, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	for _, rd := range udpReaders {
		t.Run(rd.name, func(t *testing.T) {
			s, _ := udpServer(t, rd.portable, "[::1]:0")
			q := query("EDGE.cdn.example.com.", dns.TypeAAAA, 1232)
			r := exchange(t, s.Addr(), "udp", q, nil)
			if r.Question[0].Name != "EDGE.cdn.example.com." || len(r.Answer) == 0 {
				t.Fatalf("answer %v", r)
			}
			// ::1 is in no database network: the default PoP.
			for _, a := range answerAddrs(r) {
				if !a.Is6() || popOf(a) != "ashburn" {
					t.Errorf("answer %s", a)
				}
			}
		})
	}
}
