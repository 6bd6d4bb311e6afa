package fwdproxy

import "net/netip"

// Address classes that are never dialled unless an allow rule names them
// in its private list (the SSRF guard).
var (
	sharedNet    = netip.MustParsePrefix("100.64.0.0/10")  // RFC 6598 carrier-grade NAT
	thisNet      = netip.MustParsePrefix("0.0.0.0/8")      // RFC 791 "this network"
	ietfNet      = netip.MustParsePrefix("192.0.0.0/24")   // RFC 6890 protocol assignments
	benchNet     = netip.MustParsePrefix("198.18.0.0/15")  // RFC 2544 benchmarking
	reservedNet  = netip.MustParsePrefix("240.0.0.0/4")    // RFC 1112 reserved, and broadcast
	siteLocal    = netip.MustParsePrefix("fec0::/10")      // deprecated site-local
	v4Compatible = netip.MustParsePrefix("::/96")          // deprecated IPv4-compatible
	nat64        = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052 well-known NAT64
	nat64Local   = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215 local-use NAT64
	sixToFour    = netip.MustParsePrefix("2002::/16")      // RFC 3056 6to4
	teredo       = netip.MustParsePrefix("2001::/32")      // RFC 4380 Teredo
	discardV6    = netip.MustParsePrefix("100::/64")       // RFC 6666 discard
	orchid       = netip.MustParsePrefix("2001:10::/28")   // deprecated ORCHID
	documentV6   = netip.MustParsePrefix("2001:db8::/32")  // documentation
	uniqueLocal  = netip.MustParsePrefix("fc00::/7")       // unique local (IsPrivate covers it too)
	embeddedNone = netip.Addr{}
)

// Special returns the class of a that makes it unsafe to dial on a
// client's behalf ("loopback", "private", "link-local", "multicast",
// "unspecified", "reserved"), or "" for an ordinary public unicast
// address. IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 addresses are
// judged by the IPv4 address they carry, so ::ffff:127.0.0.1 and
// 64:ff9b::a00:1 are caught; Teredo addresses are refused outright.
func Special(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid"
	}
	if a.Zone() != "" {
		return "link-local"
	}
	a = a.Unmap()
	if a.Is6() {
		if v4 := embeddedV4(a); v4 != embeddedNone {
			if c := Special(v4); c != "" {
				return c
			}
			if v4Compatible.Contains(a) {
				return "reserved"
			}
			return ""
		}
	}
	switch {
	case a.IsUnspecified(), thisNet.Contains(a):
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate(), sharedNet.Contains(a), siteLocal.Contains(a), uniqueLocal.Contains(a):
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case ietfNet.Contains(a), benchNet.Contains(a), reservedNet.Contains(a),
		teredo.Contains(a), discardV6.Contains(a), orchid.Contains(a), documentV6.Contains(a):
		return "reserved"
	}
	return ""
}

// embeddedV4 returns the IPv4 address inside an IPv4-compatible, NAT64 or
// 6to4 address, or the zero Addr.
func embeddedV4(a netip.Addr) netip.Addr {
	b := a.As16()
	switch {
	case v4Compatible.Contains(a):
		if a.IsUnspecified() || a.IsLoopback() {
			return embeddedNone
		}
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	case nat64.Contains(a), nat64Local.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	}
	return embeddedNone
}
