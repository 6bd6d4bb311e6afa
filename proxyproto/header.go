// Package proxyproto reads and writes the PROXY protocol, versions 1 (text)
// and 2 (binary), as specified by HAProxy
// (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt), and wraps
// a net.Listener so that connections from trusted layer-4 balancers report
// the client address carried in their header.
//
// The parser takes untrusted network input: every length is checked before
// it is used, TLVs are bounds-checked and kept raw, and no input makes it
// panic (see the fuzz targets).
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// Signatures that open a PROXY header (spec sections 2.1 and 2.2).
var (
	sigV1 = []byte("PROXY ")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// Limits from the spec.
const (
	// MaxV1Length is the longest v1 header, CRLF included (section 2.1).
	MaxV1Length = 107
	// v2HeaderLen is the fixed part of a v2 header: signature, version and
	// command, family and protocol, length.
	v2HeaderLen = 16
)

// Command says whether a header carries addresses (Proxy) or was sent by
// the proxy on its own behalf, e.g. a health check (Local).
type Command byte

// Commands of a v2 header; a v1 header is always Proxy.
const (
	Local Command = 0x0
	Proxy Command = 0x1
)

// Transport is the protocol of the proxied connection.
type Transport byte

// Transports. Unknown is v1's "UNKNOWN" and v2's AF_UNSPEC: the receiver
// must use the connection's real addresses.
const (
	Unknown Transport = iota
	TCP
	UDP
)

func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "unknown"
}

// TLV is one type-length-value extension of a v2 header, kept raw.
type TLV struct {
	Type  byte
	Value []byte
}

// Header is one PROXY protocol header.
type Header struct {
	// Version is 1 or 2; WriteTo and Append use it to pick the format.
	Version int
	// Command is Proxy or Local (Local is v2 only).
	Command Command
	// Transport is TCP, UDP (v2 only) or Unknown.
	Transport Transport
	// Source and Destination are the client's address and the address it
	// connected to. They are zero for Local and Unknown headers.
	Source, Destination netip.AddrPort
	// TLVs are the v2 extensions, in order, unparsed. Nil for v1.
	TLVs []TLV
}

// HasAddrs reports whether h carries addresses the receiver should use in
// place of the connection's own: a Proxy command over TCP or UDP.
func (h *Header) HasAddrs() bool {
	return h.Command == Proxy && h.Transport != Unknown && h.Source.IsValid() && h.Destination.IsValid()
}

// Errors returned by Read, to be tested with errors.Is.
var (
	// ErrNoProxyHeader means the input does not start with a PROXY signature.
	ErrNoProxyHeader = errors.New("no PROXY protocol signature")
	// ErrInvalidHeader means the input starts with a signature but the
	// header is malformed.
	ErrInvalidHeader = errors.New("invalid PROXY protocol header")
)

// Match is the result of Detect.
type Match int

// Results of Detect.
const (
	// NeedMore means the prefix is too short to tell.
	NeedMore Match = iota
	// NoSignature means the input does not start with a PROXY header.
	NoSignature
	// V1 and V2 mean the input starts with that version's signature.
	V1
	V2
)

// Detect tells from the first bytes of a connection whether it starts with a
// PROXY header, without consuming anything. It needs at most 12 bytes.
func Detect(prefix []byte) Match {
	if m := prefixMatch(prefix, sigV2); m != NoSignature {
		if m == V1 { // full match
			return V2
		}
		return m
	}
	if m := prefixMatch(prefix, sigV1); m != NoSignature {
		return m
	}
	return NoSignature
}

// prefixMatch returns V1 for a full match of sig, NeedMore for a proper
// prefix of it, NoSignature otherwise.
func prefixMatch(p, sig []byte) Match {
	n := min(len(p), len(sig))
	if !bytes.Equal(p[:n], sig[:n]) {
		return NoSignature
	}
	if n < len(sig) {
		return NeedMore
	}
	return V1
}

// Read reads one PROXY header (v1 or v2) from r. It consumes exactly the
// header, leaving what follows in r. If the input does not start with a
// signature, it returns an error wrapping ErrNoProxyHeader and consumes
// nothing that was not part of a signature prefix.
func Read(r *bufio.Reader) (*Header, error) {
	// Peek as much of the longest signature as is there.
	var prefix []byte
	for {
		p, err := r.Peek(len(prefix) + 1)
		if err != nil {
			if len(p) == 0 && len(prefix) == 0 {
				return nil, fmt.Errorf("read PROXY header: %w", err)
			}
			return nil, fmt.Errorf("read PROXY header after %q: %w", p, noEOF(err))
		}
		prefix = p
		switch Detect(prefix) {
		case NoSignature:
			return nil, fmt.Errorf("read PROXY header: %w (starts with %q)", ErrNoProxyHeader, prefix)
		case V1:
			return readV1(r)
		case V2:
			return readV2(r)
		}
	}
}

// noEOF turns an EOF inside a header into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidHeader, fmt.Sprintf(format, args...))
}

// readV1 reads a text header: "PROXY TCP4 src dst sport dport\r\n" or
// "PROXY UNKNOWN ...\r\n", at most 107 bytes.
func readV1(r *bufio.Reader) (*Header, error) {
	// Find the CRLF within the first MaxV1Length bytes, peeking only what
	// has arrived so a short header is not waited for beyond its end.
	var line []byte
	for n := len(sigV1); ; n++ {
		if n > MaxV1Length {
			return nil, invalid("v1 header longer than %d bytes", MaxV1Length)
		}
		p, err := r.Peek(n)
		if err != nil {
			return nil, fmt.Errorf("read PROXY v1 header: %w", noEOF(err))
		}
		if p[n-1] == '\n' {
			if n < 2 || p[n-2] != '\r' {
				return nil, invalid("v1 header ends in LF without CR")
			}
			line = p[:n-2]
			break
		}
	}
	h, err := ParseV1(line)
	if err != nil {
		return nil, err
	}
	if _, err := r.Discard(len(line) + 2); err != nil {
		return nil, fmt.Errorf("read PROXY v1 header: %w", err)
	}
	return h, nil
}

// ParseV1 parses a v1 header line without its CRLF, e.g.
// "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443".
func ParseV1(line []byte) (*Header, error) {
	if !bytes.HasPrefix(line, sigV1) {
		return nil, invalid("v1 header does not start with %q", sigV1)
	}
	f := bytes.Split(line[len(sigV1):], []byte(" "))
	h := &Header{Version: 1, Command: Proxy}
	switch string(f[0]) {
	case "UNKNOWN":
		// The receiver must ignore anything after UNKNOWN (section 2.1).
		return h, nil
	case "TCP4", "TCP6":
	default:
		return nil, invalid("v1 protocol %q is not TCP4, TCP6 or UNKNOWN", f[0])
	}
	if len(f) != 5 {
		return nil, invalid("v1 %s header has %d fields, want 5", f[0], len(f))
	}
	v6 := string(f[0]) == "TCP6"
	src, err := parseV1Addr(f[1], v6)
	if err != nil {
		return nil, invalid("v1 source address: %v", err)
	}
	dst, err := parseV1Addr(f[2], v6)
	if err != nil {
		return nil, invalid("v1 destination address: %v", err)
	}
	sp, err := parseV1Port(f[3])
	if err != nil {
		return nil, invalid("v1 source port: %v", err)
	}
	dp, err := parseV1Port(f[4])
	if err != nil {
		return nil, invalid("v1 destination port: %v", err)
	}
	h.Transport = TCP
	h.Source = netip.AddrPortFrom(src, sp)
	h.Destination = netip.AddrPortFrom(dst, dp)
	return h, nil
}

func parseV1Addr(b []byte, v6 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone", b)
	}
	if v6 != a.Is6() || a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q is not of the header's family", b)
	}
	return a, nil
}

// parseV1Port parses a decimal port in 0..65535 without a sign or leading
// zeros (the spec forbids them).
func parseV1Port(b []byte) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') || b[0] < '0' || b[0] > '9' {
		return 0, fmt.Errorf("%q is not a port", b)
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port", b)
	}
	return uint16(n), nil
}

// readV2 reads a binary header.
func readV2(r *bufio.Reader) (*Header, error) {
	var fixed [v2HeaderLen]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, fmt.Errorf("read PROXY v2 header: %w", noEOF(err))
	}
	n := int(binary.BigEndian.Uint16(fixed[14:16]))
	buf := make([]byte, v2HeaderLen+n)
	copy(buf, fixed[:])
	if _, err := io.ReadFull(r, buf[v2HeaderLen:]); err != nil {
		return nil, fmt.Errorf("read PROXY v2 header body of %d bytes: %w", n, noEOF(err))
	}
	return ParseV2(buf)
}

// v2 address families and protocols (section 2.2).
const (
	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3
	protoUnsp = 0x0
	protoStrm = 0x1
	protoDgrm = 0x2
)

// ParseV2 parses a complete binary header, signature included, whose
// length field must match len(b).
func ParseV2(b []byte) (*Header, error) {
	if len(b) < v2HeaderLen || !bytes.Equal(b[:12], sigV2) {
		return nil, invalid("v2 header does not start with the v2 signature")
	}
	if v := b[12] >> 4; v != 2 {
		return nil, invalid("v2 version %d, want 2", v)
	}
	cmd := Command(b[12] & 0xf)
	if cmd != Local && cmd != Proxy {
		return nil, invalid("v2 command %#x is neither LOCAL nor PROXY", byte(cmd))
	}
	fam, proto := b[13]>>4, b[13]&0xf
	n := int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) != v2HeaderLen+n {
		return nil, invalid("v2 length field %d does not match %d bytes", n, len(b)-v2HeaderLen)
	}
	body := b[v2HeaderLen:]
	h := &Header{Version: 2, Command: cmd}
	var addrLen int
	switch fam {
	case famUnspec:
	case famInet:
		addrLen = 12
	case famInet6:
		addrLen = 36
	case famUnix:
		addrLen = 216
	default:
		return nil, invalid("v2 address family %#x is unknown", fam)
	}
	if proto > protoDgrm {
		return nil, invalid("v2 transport protocol %#x is unknown", proto)
	}
	if len(body) < addrLen {
		return nil, invalid("v2 body of %d bytes is too short for its %d-byte addresses", len(body), addrLen)
	}
	tlvs, err := parseTLVs(body[addrLen:])
	if err != nil {
		return nil, err
	}
	h.TLVs = tlvs
	// A LOCAL header's addresses must be ignored (section 2.2), and so
	// must unix-socket and unspecified ones: the receiver keeps the real
	// connection's addresses.
	if cmd == Local || fam == famUnspec || fam == famUnix || proto == protoUnsp {
		return h, nil
	}
	switch fam {
	case famInet:
		src := netip.AddrFrom4([4]byte(body[0:4]))
		dst := netip.AddrFrom4([4]byte(body[4:8]))
		h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10]))
		h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[10:12]))
	case famInet6:
		src := netip.AddrFrom16([16]byte(body[0:16]))
		dst := netip.AddrFrom16([16]byte(body[16:32]))
		h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34]))
		h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[34:36]))
	}
	if proto == protoStrm {
		h.Transport = TCP
	} else {
		h.Transport = UDP
	}
	return h, nil
}

// parseTLVs splits b into TLVs, checking every length against what is left.
func parseTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for len(b) > 0 {
		if len(b) < 3 {
			return nil, invalid("v2 TLV truncated: %d bytes left, need 3 for its type and length", len(b))
		}
		n := int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < 3+n {
			return nil, invalid("v2 TLV of type %#x claims %d bytes, %d left", b[0], n, len(b)-3)
		}
		out = append(out, TLV{Type: b[0], Value: b[3 : 3+n : 3+n]})
		b = b[3+n:]
	}
	return out, nil
}

// Append appends h in its Version's format to dst.
func (h *Header) Append(dst []byte) ([]byte, error) {
	switch h.Version {
	case 1:
		return h.appendV1(dst)
	case 2:
		return h.appendV2(dst)
	}
	return dst, fmt.Errorf("write PROXY header: version %d is not 1 or 2", h.Version)
}

// WriteTo writes h in its Version's format to w in one Write.
func (h *Header) WriteTo(w io.Writer) (int64, error) {
	var arr [128]byte
	b, err := h.Append(arr[:0])
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	if err != nil {
		return int64(n), fmt.Errorf("write PROXY v%d header: %w", h.Version, err)
	}
	return int64(n), nil
}

func (h *Header) appendV1(dst []byte) ([]byte, error) {
	if h.Command != Proxy || h.Transport == Unknown {
		return append(dst, "PROXY UNKNOWN\r\n"...), nil
	}
	if h.Transport != TCP {
		return dst, fmt.Errorf("write PROXY v1 header: transport %s is not TCP", h.Transport)
	}
	src, dstA := h.Source.Addr().Unmap(), h.Destination.Addr().Unmap()
	if !src.IsValid() || !dstA.IsValid() || src.Is4() != dstA.Is4() {
		return dst, fmt.Errorf("write PROXY v1 header: addresses %v and %v are not of one family", h.Source, h.Destination)
	}
	fam := "TCP4"
	if src.Is6() {
		fam = "TCP6"
	}
	dst = append(dst, "PROXY "...)
	dst = append(dst, fam...)
	dst = append(dst, ' ')
	dst = src.WithZone("").AppendTo(dst)
	dst = append(dst, ' ')
	dst = dstA.WithZone("").AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Source.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Destination.Port()), 10)
	return append(dst, "\r\n"...), nil
}

func (h *Header) appendV2(dst []byte) ([]byte, error) {
	if h.Command != Local && h.Command != Proxy {
		return dst, fmt.Errorf("write PROXY v2 header: command %#x is neither LOCAL nor PROXY", byte(h.Command))
	}
	dst = append(dst, sigV2...)
	dst = append(dst, 0x20|byte(h.Command))
	var famProto byte
	var addrs []byte
	var buf [36]byte
	if h.Command == Proxy && h.Transport != Unknown {
		src, dstA := h.Source.Addr().Unmap(), h.Destination.Addr().Unmap()
		if !src.IsValid() || !dstA.IsValid() || src.Is4() != dstA.Is4() {
			return dst, fmt.Errorf("write PROXY v2 header: addresses %v and %v are not of one family", h.Source, h.Destination)
		}
		proto := byte(protoStrm)
		if h.Transport == UDP {
			proto = protoDgrm
		}
		if src.Is4() {
			famProto = famInet<<4 | proto
			s, d := src.As4(), dstA.As4()
			copy(buf[0:4], s[:])
			copy(buf[4:8], d[:])
			binary.BigEndian.PutUint16(buf[8:10], h.Source.Port())
			binary.BigEndian.PutUint16(buf[10:12], h.Destination.Port())
			addrs = buf[:12]
		} else {
			famProto = famInet6<<4 | proto
			s, d := src.As16(), dstA.As16()
			copy(buf[0:16], s[:])
			copy(buf[16:32], d[:])
			binary.BigEndian.PutUint16(buf[32:34], h.Source.Port())
			binary.BigEndian.PutUint16(buf[34:36], h.Destination.Port())
			addrs = buf[:36]
		}
	}
	n := len(addrs)
	for _, t := range h.TLVs {
		if len(t.Value) > 0xffff {
			return dst, fmt.Errorf("write PROXY v2 header: TLV %#x of %d bytes is too long", t.Type, len(t.Value))
		}
		n += 3 + len(t.Value)
	}
	if n > 0xffff {
		return dst, fmt.Errorf("write PROXY v2 header: body of %d bytes is too long", n)
	}
	dst = append(dst, famProto)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = append(dst, addrs...)
	for _, t := range h.TLVs {
		dst = append(dst, t.Type)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(t.Value)))
		dst = append(dst, t.Value...)
	}
	return dst, nil
}
