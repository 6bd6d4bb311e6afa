package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/selfcdn/cdn/proxyproto"
)

// l4ChildEnv, when set, makes the test binary run "cdn" with the
// \x1f-separated arguments it holds instead of the tests, so a test can run
// a balancer as a real process and kill it with SIGKILL.
const l4ChildEnv = "CDN_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(l4ChildEnv); args != "" {
		os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// commonPort listens on the same TCP port on every one of ips and returns
// the port and the listeners.
func commonPort(t *testing.T, ips ...string) (int, []net.Listener) {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(ips) {
			return port, lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("no TCP port free on all of %v", ips)
	return 0, nil
}

// startL4Child runs "cdn args..." as a child process and waits for its
// "balancing" line.
func startL4Child(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), l4ChildEnv+"="+strings.Join(args, "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "balancing") {
				ready <- sc.Text()
			}
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatalf("cdn %v exited before it was ready", args)
		}
		t.Log(line)
	case <-time.After(60 * time.Second):
		t.Fatalf("cdn %v not ready within 60s", args)
	}
	return cmd
}

func reuseAddrControl(network, address string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}

// getFrom sends one HTTP request to addr from src and returns the body:
// "backend client-address-the-backend-saw".
func getFrom(src netip.AddrPort, addr string) (string, netip.AddrPort, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(src), Timeout: 5 * time.Second, Control: reuseAddrControl}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", netip.AddrPort{}, err
	}
	defer c.Close()
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", local, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), local, err
}

// TestL4TwoBalancersSurviveSIGKILL runs two balancers from one cluster
// file in front of three HTTP backends that require PROXY headers from
// them, records which backend each of 40 clients (fixed source address and
// port) lands on through balancer A, kills A with SIGKILL while requests
// through it are in flight, and requires every client reconnecting through
// B with the same source to land on the same backend.
func TestL4TwoBalancersSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts two processes")
	}
	edges := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	lbs := []string{"127.0.0.21", "127.0.0.22"}
	httpPort, httpLns := commonPort(t, edges...)
	adminPort, adminLns := commonPort(t, append(append([]string{}, edges...), lbs...)...)
	l4Port, l4Lns := commonPort(t, lbs...)
	trusted := func(a netip.Addr) bool { return a.String() == lbs[0] || a.String() == lbs[1] }
	var refused atomic.Int64
	var wg sync.WaitGroup
	for i, ln := range httpLns {
		name := fmt.Sprintf("e%d", i+1)
		pl := proxyproto.NewListener(ln, proxyproto.ListenerConfig{Trusted: trusted})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s\n", name, r.RemoteAddr)
		})}
		wg.Add(1)
		go func() { defer wg.Done(); srv.Serve(pl) }()
		t.Cleanup(func() { srv.Close(); refused.Add(pl.Stats().Refused) })
		admin := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
		go admin.Serve(adminLns[i])
		t.Cleanup(func() { admin.Close() })
	}
	for _, ln := range append(adminLns[len(edges):], l4Lns...) {
		ln.Close() // the balancers bind these
	}
	cluster := fmt.Sprintf(`
sites: [{host: a.example.com, origin: main}]
origins: {main: {servers: [{url: "http://127.0.0.1:1"}]}}
pops:
  - name: p
    location: {lat: 0, lon: 0}
    edges: [{name: e1, address: %s}, {name: e2, address: %s}, {name: e3, address: %s}]
    balancers: [{name: lb-a, address: %s}, {name: lb-b, address: %s}]
ports: {http: %d, admin: %d}
l4:
  ports: [{port: %d, backend_port: %d}]
  health: {interval: 200ms}
`, edges[0], edges[1], edges[2], lbs[0], lbs[1], httpPort, adminPort, l4Port, httpPort)
	file := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(file, []byte(cluster), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startL4Child(t, "l4", "--config", file, "--node", "lb-a")
	startL4Child(t, "l4", "--config", file, "--node", "lb-b")
	addrA := fmt.Sprintf("%s:%d", lbs[0], l4Port)
	addrB := fmt.Sprintf("%s:%d", lbs[1], l4Port)

	// Phase 1: 40 clients through A; the backend sees each client's own
	// address, so PROXY v2 worked.
	const clients = 40
	srcs := make([]netip.AddrPort, clients)
	first := make([]string, clients)
	perBackend := map[string]int{}
	for i := range clients {
		src := netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("127.0.2.%d", i+1)), 0)
		body, local, err := getFrom(src, addrA)
		if err != nil {
			t.Fatalf("client %d through A: %v", i, err)
		}
		f := strings.Fields(body)
		if len(f) != 2 || f[1] != local.String() {
			t.Fatalf("client %d (%v): backend answered %q, want its name and the client's address", i, local, body)
		}
		srcs[i], first[i] = local, f[0]
		perBackend[f[0]]++
	}
	if len(perBackend) != 3 {
		t.Fatalf("40 clients reached %v, want all 3 backends", perBackend)
	}

	// Load through A, then SIGKILL it once requests are known to be
	// flowing.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ok, broken atomic.Int64
	var load sync.WaitGroup
	for w := range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			src := netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("127.0.3.%d", w+1)), 0)
			for n := 0; n < 5000 && ctx.Err() == nil; n++ {
				if _, _, err := getFrom(src, addrA); err != nil {
					broken.Add(1)
					if broken.Load() > 20 {
						return
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for ok.Load() < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("load through A: only %d requests in 30s", ok.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	cancel()
	load.Wait()
	t.Logf("load through A: %d requests done before the kill, %d broken by it", ok.Load(), broken.Load())
	if _, _, err := getFrom(netip.AddrPortFrom(netip.MustParseAddr("127.0.4.1"), 0), addrA); err == nil {
		t.Fatal("balancer A still answers after SIGKILL")
	}

	// Phase 2: every client reconnects through B, same source, same backend.
	for i, src := range srcs {
		body, _, err := getFrom(src, addrB)
		if err != nil {
			t.Fatalf("client %d reconnecting through B from %v: %v", i, src, err)
		}
		if f := strings.Fields(body); len(f) != 2 || f[0] != first[i] || f[1] != src.String() {
			t.Fatalf("client %d from %v: through A it reached %s, through B %q", i, src, first[i], body)
		}
	}
}
