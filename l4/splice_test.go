package l4

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const spliceChildEnv = "L4_SPLICE_CHILD"

// TestSpliceReadFromPath checks that forwarding stays on the kernel's
// splice(2) path: it re-runs this test binary under strace, moves 8 MiB
// through a balancer, and requires the splice calls to have carried at
// least that many bytes. A change that wraps either *net.TCPConn (to count
// bytes, say) silently falls back to read/write copies and fails here.
func TestSpliceReadFromPath(t *testing.T) {
	const payload = 8 << 20
	if os.Getenv(spliceChildEnv) != "" {
		bs := startBackends(t, 1)
		r := startBalancer(t, testConfig(bs))
		s := mustDial(t, r.tcp, netip.AddrPort{})
		s.c.Write([]byte("e"))
		go func() {
			s.c.Write([]byte(strings.Repeat("z", payload)))
			s.c.CloseWrite()
		}()
		n, err := io.Copy(io.Discard, s.br)
		if err != nil || n != payload {
			t.Fatalf("echoed %d bytes, %v", n, err)
		}
		return
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed; it is needed to watch the syscalls")
	}
	out := filepath.Join(t.TempDir(), "strace.txt")
	cmd := exec.Command(strace, "-f", "-e", "trace=splice", "-o", out,
		os.Args[0], "-test.run=^TestSpliceReadFromPath$", "-test.count=1")
	cmd.Env = append(os.Environ(), spliceChildEnv+"=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && strings.Contains(string(b), "ptrace") {
			t.Skipf("ptrace is not permitted here: %s", b)
		}
		t.Fatalf("child under strace: %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls, bytes int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		// With -f, a call another thread interrupts is written as
		// "splice(... <unfinished ...>" and later "<... splice resumed>
		// ...) = N": the result is on the resumed line.
		if strings.Contains(line, "<unfinished") || !strings.Contains(line, "splice(") && !strings.Contains(line, "splice resumed>") {
			continue
		}
		i := strings.LastIndex(line, "= ")
		if i < 0 {
			continue
		}
		n, err := strconv.ParseInt(strings.Fields(line[i+2:])[0], 10, 64)
		if err == nil && n > 0 {
			calls++
			bytes += n
		}
	}
	t.Logf("splice: %d calls moved %d bytes (into and out of pipes) for %d bytes each way", calls, bytes, payload)
	// Each direction's bytes go socket → pipe → socket: two splices per byte.
	if bytes < 2*2*payload {
		t.Fatalf("splice moved %d bytes, want at least %d: forwarding left the splice path", bytes, 4*payload)
	}
}
