//go:build !linux

package edge

import (
	"syscall"
	"time"
)

// ackTimeoutControl is Linux's TCP_USER_TIMEOUT; elsewhere the header
// timeout alone detects a silent upstream.
func ackTimeoutControl(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
