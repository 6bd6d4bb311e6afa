//go:build !linux

package geodns

import "net"

// Elsewhere every UDP socket is served through x/net and the netpoller.
func (s *Server) newUDPReader(pc net.PacketConn) udpReader { return newBatchReader(s, pc) }
