package geodns

import (
	"encoding/binary"
	"errors"

	"github.com/miekg/dns"
)

// headerLen is the size of a DNS message header (RFC 1035 §4.1.1).
const headerLen = 12

// Errors of the structural walk; each gets FORMERR.
var (
	errShortMsg   = errors.New("message ends inside a name or record")
	errBadLabel   = errors.New("bad label type")
	errLongName   = errors.New("name longer than 255 octets")
	errTrailing   = errors.New("trailing bytes after the last record")
	errOPTNotRoot = errors.New("OPT owner is not the root")
)

// wireInfo is what a structural walk of a request finds: the sections end
// where the header counts say, or the walk fails.
type wireInfo struct {
	qEnd     int    // end of the first question; 0 if it did not parse or holds a pointer
	qtype    uint16 // of the first question, if it parsed
	opt      bool   // an OPT record was found in the additional section
	optTTL   uint32 // its TTL field: extended rcode, version, DO
	optCount int
}

// skipName returns the offset after the name at off, and whether it ends
// in a compression pointer.
func skipName(b []byte, off int) (int, bool, error) {
	n := 0
	for {
		if off >= len(b) {
			return 0, false, errShortMsg
		}
		c := int(b[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1, false, nil
			}
			n += c + 1
			if n > 254 {
				return 0, false, errLongName
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(b) {
				return 0, false, errShortMsg
			}
			return off + 2, true, nil
		default:
			return 0, false, errBadLabel
		}
	}
}

// walkMsg checks that the sections of b hold exactly as many questions
// and records as the header counts and nothing after them (RFC 1035
// §4.1), and finds the first question and the OPT record. It fills as
// much of wireInfo as it could read even when it fails, so that an error
// response can still echo the question and carry an OPT.
func walkMsg(b []byte) (wireInfo, error) {
	var w wireInfo
	if len(b) < headerLen {
		return w, errShortMsg
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rrs := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	off := headerLen
	for i := range qd {
		end, ptr, err := skipName(b, off)
		if err != nil || end+4 > len(b) {
			return w, errShortMsg
		}
		if i == 0 {
			w.qtype = binary.BigEndian.Uint16(b[end:])
			if !ptr {
				w.qEnd = end + 4
			}
		}
		off = end + 4
	}
	for i := range rrs + ar {
		start := off
		end, _, err := skipName(b, off)
		if err != nil {
			return w, err
		}
		if end+10 > len(b) {
			return w, errShortMsg
		}
		typ := binary.BigEndian.Uint16(b[end:])
		rdlen := int(binary.BigEndian.Uint16(b[end+8:]))
		if end+10+rdlen > len(b) {
			return w, errShortMsg
		}
		if i >= rrs && typ == dns.TypeOPT {
			w.optCount++
			if !w.opt {
				w.opt = true
				w.optTTL = binary.BigEndian.Uint32(b[end+4:])
			}
			if end != start+1 || b[start] != 0 {
				return w, errOPTNotRoot
			}
		}
		off = end + 10 + rdlen
	}
	if off != len(b) {
		return w, errTrailing
	}
	return w, nil
}

// errorReply appends to dst a response to req with rcode and nothing but
// the question (when it could be read) and, when the request has an OPT
// record, our own OPT (RFC 6891 §7: every response to an EDNS query
// carries one). AA, TC, RA, AD and Z are clear; RD and CD are copied.
func errorReply(dst, req []byte, w wireInfo, rcode int) []byte {
	var h [headerLen]byte
	copy(h[:2], req[:2])
	h[2] = 0x80 | req[2]&0x79 // QR, opcode, RD
	h[3] = req[3]&0x10 | byte(rcode&0xF)
	if w.qEnd > 0 {
		h[5] = 1
	}
	if w.opt {
		h[11] = 1
	}
	dst = append(dst, h[:]...)
	if w.qEnd > 0 {
		dst = append(dst, req[headerLen:w.qEnd]...)
	}
	if w.opt {
		dst = appendOPT(dst, rcode, w.optTTL&doBit != 0)
	}
	return dst
}

// doBit is the DO flag in an OPT record's TTL field (RFC 3225).
const doBit = 1 << 15

// appendOPT appends an OPT record with our payload size, the upper bits
// of rcode, version 0 and the DO bit, and no options.
func appendOPT(dst []byte, rcode int, do bool) []byte {
	var ttl uint32
	ttl |= uint32(rcode>>4) << 24
	if do {
		ttl |= doBit
	}
	dst = append(dst, 0, 0, byte(dns.TypeOPT), byte(ourUDPSize>>8), byte(ourUDPSize&0xFF))
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	return append(dst, 0, 0)
}

// assignedOpcode reports whether an opcode is assigned by IANA: QUERY,
// IQUERY, STATUS, NOTIFY, UPDATE and DSO. Those get NOTIMP; unassigned
// ones are dropped, as a packet with an unassigned opcode is no query.
func assignedOpcode(op int) bool {
	switch op {
	case dns.OpcodeQuery, dns.OpcodeIQuery, dns.OpcodeStatus, dns.OpcodeNotify, dns.OpcodeUpdate, 6:
		return true
	}
	return false
}
