//go:build !linux

package geodns

// multiSocket: without SO_REUSEPORT support here, one UDP socket.
const multiSocket = false

func setReusePort(fd uintptr) error { return nil }
