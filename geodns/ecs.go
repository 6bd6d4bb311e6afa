package geodns

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/miekg/dns"
)

// noClientAddress lists networks no client can be located in: ECS
// prefixes inside them are answered with the default PoPs (RFC 7871 §7.1.2
// leaves the answer to the server). Private and loopback networks are not
// here: a database may place them (a simulation does), so they are looked
// up like any other address and get the default PoPs only when the
// database has no record.
var noClientAddress = [...]netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// errBadECS marks a malformed ECS option: the query gets FORMERR.
var errBadECS = errors.New("malformed EDNS client subnet option")

// clientSubnet is the network an ECS option names.
type clientSubnet struct {
	prefix netip.Prefix // address masked to the source prefix length
	// reserved is the length of the noClientAddress network holding the
	// prefix, or -1 when the prefix is an ordinary one.
	reserved int
}

// parseECS validates an ECS option per RFC 7871 §6: a known family, a
// source prefix no longer than the family's address, a zero scope is not
// required of queries, and no address bits set beyond the source prefix.
func parseECS(e *dns.EDNS0_SUBNET) (clientSubnet, error) {
	var addr netip.Addr
	switch e.Family {
	case 0:
		// dig sends FAMILY 0 with a zero prefix to opt out.
		if e.SourceNetmask != 0 {
			return clientSubnet{}, fmt.Errorf("%w: family 0 with source prefix %d", errBadECS, e.SourceNetmask)
		}
		return clientSubnet{prefix: netip.PrefixFrom(netip.IPv4Unspecified(), 0), reserved: -1}, nil
	case 1:
		a, ok := netip.AddrFromSlice(e.Address)
		if !ok || !a.Unmap().Is4() {
			return clientSubnet{}, fmt.Errorf("%w: family 1 without an IPv4 address", errBadECS)
		}
		addr = a.Unmap()
	case 2:
		a, ok := netip.AddrFromSlice(e.Address)
		if !ok || len(e.Address) != 16 {
			return clientSubnet{}, fmt.Errorf("%w: family 2 without an IPv6 address", errBadECS)
		}
		addr = a
	default:
		return clientSubnet{}, fmt.Errorf("%w: unknown family %d", errBadECS, e.Family)
	}
	bits := int(e.SourceNetmask)
	if bits > addr.BitLen() {
		return clientSubnet{}, fmt.Errorf("%w: source prefix %d longer than the address", errBadECS, bits)
	}
	p := netip.PrefixFrom(addr, bits)
	if p.Masked().Addr() != addr {
		return clientSubnet{}, fmt.Errorf("%w: address %s has bits set beyond source prefix %d", errBadECS, addr, bits)
	}
	cs := clientSubnet{prefix: p, reserved: -1}
	if bits > 0 {
		for _, r := range noClientAddress {
			if r.Bits() <= bits && r.Contains(addr) {
				cs.reserved = r.Bits()
				break
			}
		}
	}
	return cs, nil
}

// findECS returns the first ECS option of opt, or nil.
func findECS(opt *dns.OPT) *dns.EDNS0_SUBNET {
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			return e
		}
	}
	return nil
}
