package edge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary run a shield in a child process, so tests
// can kill a real process with SIGKILL.
func TestMain(m *testing.M) {
	origin := os.Getenv("EDGE_TEST_ORIGIN")
	switch os.Getenv("EDGE_TEST_CHILD") {
	case "shield":
		runChild(Config{
			Name:    os.Getenv("EDGE_TEST_NAME"),
			Role:    RoleShield,
			Listen:  "127.0.0.1:0",
			Sites:   []Site{{Host: "assets.example.com", Origin: "main"}},
			Origins: map[string]Pool{"main": {Servers: []Upstream{{URL: origin}}}},
		})
	case "disk":
		cfg := QuickConfig("edge-1", "127.0.0.1:0", origin)
		cfg.Admin = "127.0.0.1:0" // the test reads what was committed from /metrics
		// The key is the path: the query only tells the origin how to answer.
		cfg.Sites[0].Key.IgnoreQuery = true
		cfg.DiskDir, cfg.DiskSize = os.Getenv("EDGE_TEST_DISK_DIR"), 256<<20
		cfg.Memory, cfg.MaxMemoryObject = 4<<20, 16<<10
		runChild(cfg)
	default:
		os.Exit(m.Run())
	}
}

// runChild runs a node in this (child) process and prints its address
// (and its admin address when it has one).
func runChild(cfg Config) {
	srv, err := New(cfg)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	go func() {
		<-srv.Ready()
		if a := srv.Addr("admin"); a != nil {
			fmt.Println("listening", srv.Addr("http"), a)
			return
		}
		fmt.Println("listening", srv.Addr("http"))
	}()
	srv.Run(context.Background())
}

// childNode is a node running in a child process.
type childNode struct {
	URL   string // http://addr
	Admin string // http://admin-addr, "" without an admin listener
	Cmd   *exec.Cmd
}

// startChild runs a node as a separate process (the test binary, told by
// env which node to be) and returns its URL and the process.
func startChild(t *testing.T, env ...string) (string, *exec.Cmd) {
	t.Helper()
	c := startChildNode(t, env...)
	return c.URL, c.Cmd
}

// startChildNode is startChild with the child's admin address.
func startChildNode(t *testing.T, env ...string) childNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		f := strings.Fields(l)
		if !ok || len(f) < 2 || f[0] != "listening" {
			t.Fatalf("child node did not start: %q", l)
		}
		go io.Copy(io.Discard, out)
		c := childNode{URL: "http://" + f[1], Cmd: cmd}
		if len(f) > 2 {
			c.Admin = "http://" + f[2]
		}
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("child node did not start within 20s")
	}
	return childNode{}
}

// runLoad sends cold and warm requests through the edges until stop is
// closed, counting successes and failures.
func runLoad(t *testing.T, edges []*testEdge, stop <-chan struct{}, ok, failed *atomic.Int64, firstErr *atomic.Value) *sync.WaitGroup {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	base := uniq(t)
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Sprintf("%s-%d-%d?size=200000&delay=10&cc=max-age%%3D600", base, w, i%40)
				r, err := hostGet(client, edges[(w+i)%len(edges)].URL+p)
				if err == nil && r.status != 200 {
					err = fmt.Errorf("status %d: %s", r.status, r.body)
				}
				if err == nil {
					err = digestError(r)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	return &wg
}

// A shield process killed with SIGKILL under load: no client request fails.
func TestShieldProcessSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	o := startOrigin(t)
	u1, c1 := startChild(t, "EDGE_TEST_CHILD=shield", "EDGE_TEST_NAME=shield-1", "EDGE_TEST_ORIGIN="+o.URL)
	u2, _ := startChild(t, "EDGE_TEST_CHILD=shield", "EDGE_TEST_NAME=shield-2", "EDGE_TEST_ORIGIN="+o.URL)
	site := []Site{{Host: "assets.example.com", Origin: "main"}}
	origins := map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}}
	ups := []Upstream{{Name: "shield-1", URL: u1}, {Name: "shield-2", URL: u2}}
	var edges []*testEdge
	for i := range 2 {
		edges = append(edges, startEdge(t, Config{Name: fmt.Sprintf("edge-%d", i+1), Sites: site, Origins: origins, Shields: ups}))
	}
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	wg := runLoad(t, edges, stop, &ok, &failed, &firstErr)
	halt := func(format string, args ...any) {
		close(stop)
		wg.Wait()
		t.Fatalf(format, args...)
	}
	if err := waitCount(&ok, 60, 20*time.Second); err != nil {
		halt("requests before the kill: %v (failed %d, first: %v)", err, failed.Load(), firstErr.Load())
	}
	if err := c1.Process.Signal(syscall.SIGKILL); err != nil {
		halt("kill shield-1: %v", err)
	}
	if err := waitCount(&ok, ok.Load()+200, 30*time.Second); err != nil {
		halt("requests after the kill: %v (failed %d, first: %v)", err, failed.Load(), firstErr.Load())
	}
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d client requests failed after SIGKILL of a shield (first: %v)", n, n+ok.Load(), firstErr.Load())
	}
	t.Logf("%d requests, none failed; shield-1 killed with SIGKILL mid-run", ok.Load())
}

// nftables cuts a link for real: packets from the edges to one shield are
// dropped (not refused), so connections hang until the connect and header
// timeouts fail them over to the other shield.
func TestShieldLinkCutWithNftables(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for nftables")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (make deps-test installs nftables)")
	}
	o := startOrigin(t)
	site := []Site{{Host: "assets.example.com", Origin: "main"}}
	origins := map[string]Pool{"main": {Servers: []Upstream{{URL: o.URL}}}}
	var ups []Upstream
	var shieldPorts []string
	for i := range 2 {
		name := fmt.Sprintf("shield-%d", i+1)
		sh := startEdge(t, Config{Name: name, Role: RoleShield, Sites: site, Origins: origins})
		ups = append(ups, Upstream{Name: name, URL: sh.URL})
		_, port, _ := net.SplitHostPort(sh.Addr("http").String())
		shieldPorts = append(shieldPorts, port)
	}
	var edges []*testEdge
	for i := range 2 {
		edges = append(edges, startEdge(t, Config{Name: fmt.Sprintf("edge-%d", i+1), Sites: site, Origins: origins, Shields: ups,
			ConnectTimeout: 300 * time.Millisecond, HeaderTimeout: 2 * time.Second, BodyIdleTimeout: 2 * time.Second}))
	}
	table := fmt.Sprintf("cdntest_%d", os.Getpid())
	nft := func(args ...string) error {
		out, err := exec.Command("nft", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := nft("add", "table", "inet", table); err != nil {
		t.Skipf("nftables unavailable here: %v", err)
	}
	t.Cleanup(func() { nft("delete", "table", "inet", table) })
	if err := nft("add", "chain", "inet", table, "out", "{ type filter hook output priority 0 ; }"); err != nil {
		t.Fatal(err)
	}
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	wg := runLoad(t, edges, stop, &ok, &failed, &firstErr)
	halt := func(format string, args ...any) {
		close(stop)
		wg.Wait()
		t.Fatalf(format, args...)
	}
	if err := waitCount(&ok, 60, 20*time.Second); err != nil {
		halt("requests before the cut: %v (failed %d, first: %v)", err, failed.Load(), firstErr.Load())
	}
	// Cut: drop every packet to shield-1 on loopback (only our table).
	if err := nft("add", "rule", "inet", table, "out", "ip", "daddr", "127.0.0.1", "tcp", "dport", shieldPorts[0], "drop"); err != nil {
		halt("%v", err)
	}
	if err := waitCount(&ok, ok.Load()+150, 40*time.Second); err != nil {
		halt("requests after the cut: %v (failed %d, first: %v)", err, failed.Load(), firstErr.Load())
	}
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d client requests failed with the link to shield-1 cut (first: %v)", n, firstErr.Load())
	}
	t.Logf("%d requests, none failed; link to shield-1 cut with nftables", ok.Load())
}
