package geodns

import "golang.org/x/sys/unix"

// multiSocket: several UDP sockets can share a port (SO_REUSEPORT).
const multiSocket = true

func setReusePort(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
