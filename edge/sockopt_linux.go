package edge

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ackTimeoutControl sets TCP_USER_TIMEOUT on upstream sockets: when data
// sent on a connection is not acknowledged within d, the kernel fails the
// connection. A request written into a kept-alive connection to a shield
// whose packets are silently dropped then fails in d instead of waiting
// out the header timeout, and goes to the next shield.
func ackTimeoutControl(d time.Duration) func(network, address string, c syscall.RawConn) error {
	if d <= 0 {
		return nil
	}
	ms := int(d / time.Millisecond)
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
		})
		if err != nil {
			return err
		}
		return serr
	}
}
