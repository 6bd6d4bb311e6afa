package l4

import (
	"encoding/binary"
	"net/netip"

	"github.com/selfcdn/cdn/lb"
)

// Protocol numbers in the flow hash (IANA's).
const (
	protoTCP = 6
	protoUDP = 17
)

// serviceHash stands for the destination half of the 5-tuple: the
// listener's Service name and the protocol. The destination address itself
// is left out on purpose: two balancers of one PoP listen on different
// addresses, and must still agree on every flow, so each hashes only what
// both see the same way.
func serviceHash(service string, proto byte) uint64 {
	return lb.HashString(string(rune(proto)) + "/" + service)
}

// flowHash is the Maglev key of a flow: the client's address and port
// (IPv4 as its IPv4-mapped IPv6 form, so dual-stack sockets agree with
// IPv4 ones) and the service hash. It is part of the contract between
// balancers: every version of this code must compute it alike.
func flowHash(src netip.AddrPort, svc uint64) uint64 {
	var b [26]byte
	a := src.Addr().Unmap().As16()
	copy(b[:16], a[:])
	binary.BigEndian.PutUint16(b[16:18], src.Port())
	binary.BigEndian.PutUint64(b[18:26], svc)
	h := lb.HashBytes(b[:])
	if h == 0 {
		h = 1 // 0 means "hash Key" to lb.Request
	}
	return h
}
