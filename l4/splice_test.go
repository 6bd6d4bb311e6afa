package l4

import (
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/selfcdn/cdn/internal/stracetest"
)

// TestSpliceReadFromPath checks that forwarding stays on the kernel's
// splice(2) path: it re-runs this test binary under strace, moves 8 MiB
// through a balancer, and requires the splice calls to have carried at
// least that many bytes. A change that wraps either *net.TCPConn (to count
// bytes, say) silently falls back to read/write copies and fails here.
func TestSpliceReadFromPath(t *testing.T) {
	const payload = 8 << 20
	if stracetest.Child() {
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
	calls, bytes := stracetest.Run(t, "TestSpliceReadFromPath", "splice")
	t.Logf("splice: %d calls moved %d bytes (into and out of pipes) for %d bytes each way", calls, bytes, payload)
	// Each direction's bytes go socket → pipe → socket: two splices per byte.
	if bytes < 2*2*payload {
		t.Fatalf("splice moved %d bytes, want at least %d: forwarding left the splice path", bytes, 4*payload)
	}
}
