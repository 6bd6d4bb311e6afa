package geodns

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
)

// The fast path answers the common query (one A or AAAA question for a geo
// name, class IN, no or one OPT of version 0 with no option or one ECS
// option) from responses kept as wire bytes, patching only the ID, the RD
// and CD flags, the question's case and the ECS address. Anything else,
// and any response that would not fit, goes through miekg/dns.

// wireKey identifies one cached response: the answer RRset (its signature
// slot is unique to one rotation of one PoP's answer set, or to one
// all-down set), the ECS shape and scope, and the OPT flags.
type wireKey struct {
	slot    *sigSlot
	signed  *signed // the signature the bytes hold; nil unsigned
	scope   uint8
	family  uint8 // 0: no ECS option
	source  uint8
	opt     bool
	do      bool
	nameLen uint8
}

// wireShards and wireEntries bound the response cache of one snapshot.
const (
	wireShards  = 32
	wireEntries = 65536
)

type wireCache struct {
	shards [wireShards]wireShard
}

type wireShard struct {
	mu sync.RWMutex
	m  map[wireKey][]byte // guarded by mu
}

func newWireCache() *wireCache {
	c := &wireCache{}
	for i := range c.shards {
		c.shards[i].m = map[wireKey][]byte{}
	}
	return c
}

func (c *wireCache) shard(k *wireKey) *wireShard {
	h := uint32(k.scope)*31 + uint32(k.family)*7 + uint32(k.source)*13 + uint32(k.nameLen)
	return &c.shards[h%wireShards]
}

func (c *wireCache) get(k wireKey) []byte {
	s := c.shard(&k)
	s.mu.RLock()
	b := s.m[k]
	s.mu.RUnlock()
	return b
}

func (c *wireCache) put(k wireKey, b []byte) {
	s := c.shard(&k)
	s.mu.Lock()
	if len(s.m) >= wireEntries/wireShards {
		for old := range s.m {
			delete(s.m, old)
			break
		}
	}
	s.m[k] = b
	s.mu.Unlock()
}

// fastQuery is what the fast path reads from a request.
type fastQuery struct {
	nameEnd int // end of the question name
	qtype   uint16
	opt     bool
	do      bool
	udpSize int
	ecsAddr []byte // the request's ECS address bytes; nil without ECS
	subnet  clientSubnet
	family  uint8
	source  uint8
}

// parseFast reads a request that walkMsg accepted; ok is false for
// anything the fast path does not handle.
func parseFast(req []byte, w wireInfo) (fq fastQuery, ok bool) {
	if w.qEnd == 0 || binary.BigEndian.Uint16(req[4:]) != 1 || binary.BigEndian.Uint16(req[6:]) != 0 ||
		binary.BigEndian.Uint16(req[8:]) != 0 {
		return fq, false
	}
	ar := binary.BigEndian.Uint16(req[10:])
	fq.nameEnd = w.qEnd - 4
	fq.qtype = binary.BigEndian.Uint16(req[fq.nameEnd:])
	if (fq.qtype != dns.TypeA && fq.qtype != dns.TypeAAAA) || binary.BigEndian.Uint16(req[fq.nameEnd+2:]) != dns.ClassINET {
		return fq, false
	}
	fq.udpSize = minUDPSize
	switch {
	case ar == 0:
		return fq, len(req) == w.qEnd
	case ar != 1 || !w.opt:
		return fq, false
	}
	o := req[w.qEnd:]
	if len(o) < 11 || o[0] != 0 || o[5] != 0 || o[6] != 0 { // root owner, extended rcode 0, version 0
		return fq, false
	}
	fq.opt = true
	fq.do = o[7]&0x80 != 0
	fq.udpSize = int(max(min(binary.BigEndian.Uint16(o[3:]), ourUDPSize), minUDPSize))
	rd := o[11:]
	if len(rd) == 0 {
		return fq, true
	}
	if len(rd) < 8 || binary.BigEndian.Uint16(rd) != dns.EDNS0SUBNET || int(binary.BigEndian.Uint16(rd[2:]))+4 != len(rd) {
		return fq, false
	}
	fam, src, scope := binary.BigEndian.Uint16(rd[4:]), rd[6], rd[7]
	addr := rd[8:]
	if scope != 0 || src == 0 || len(addr) != (int(src)+7)/8 {
		return fq, false // leave the unusual to miekg/dns
	}
	var a netip.Addr
	switch fam {
	case 1:
		if src > 32 {
			return fq, false
		}
		var b [4]byte
		copy(b[:], addr)
		a = netip.AddrFrom4(b)
	case 2:
		if src > 128 {
			return fq, false
		}
		var b [16]byte
		copy(b[:], addr)
		a = netip.AddrFrom16(b)
	default:
		return fq, false
	}
	p := netip.PrefixFrom(a, int(src))
	if p.Masked().Addr() != a {
		return fq, false
	}
	fq.subnet = clientSubnet{prefix: p, reserved: -1}
	for _, r := range noClientAddress {
		if r.Bits() <= int(src) && r.Contains(a) {
			fq.subnet.reserved = r.Bits()
			break
		}
	}
	fq.ecsAddr, fq.family, fq.source = addr, uint8(fam), src
	return fq, true
}

// fastAnswer answers req from the wire cache, building and caching the
// response on a miss. It returns nil when the slow path must answer.
func (s *Server) fastAnswer(req []byte, w wireInfo, client netip.Addr, tcp bool, sc *scratch) []byte {
	fq, ok := parseFast(req, w)
	if !ok {
		return nil
	}
	sn := s.snap.Load()
	var lower [255]byte
	name := req[headerLen:fq.nameEnd]
	if len(name) > len(lower) {
		return nil
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	geo, ok := sn.geoWire[string(lower[:len(name)])]
	if !ok {
		return nil
	}
	qs := querySource{client: client}
	if fq.family != 0 {
		sc.subnet = fq.subnet // in the scratch, so fq stays on the stack
		qs.subnet = &sc.subnet
	}
	rrs, slot, pop, scope := s.geoAnswer(sn, geo, fq.qtype, &qs)
	if len(rrs) == 0 {
		return nil
	}
	if fq.family == 0 {
		scope = 0
	}
	signing := fq.do && sn.signer != nil
	key := wireKey{slot: slot, scope: scope, family: fq.family, source: fq.source, opt: fq.opt, do: fq.do, nameLen: uint8(len(name))}
	if signing {
		if cur := slot.p.Load(); cur != nil && s.now().Before(cur.renewAt) {
			key.signed = cur
		}
	}
	limit := dns.MaxMsgSize
	if !tcp {
		limit = fq.udpSize
	}
	cached := sn.wire.get(key)
	if cached == nil || signing && key.signed == nil {
		b, sig := s.buildWire(sn, sn.zone.geoNames[geo], &fq, rrs, slot, scope, signing, sc)
		if b == nil {
			return nil
		}
		key.signed = sig
		cached = append([]byte(nil), b...)
		sn.wire.put(key, cached)
	}
	if len(cached) > limit {
		return nil // truncation is the slow path's
	}
	out := append(sc.buf[:0], cached...)
	out[0], out[1] = req[0], req[1]
	out[2] = out[2]&^0x01 | req[2]&0x01 // RD
	out[3] = out[3]&^0x10 | req[3]&0x10 // CD
	copy(out[headerLen:], name)         // the question's case (0x20)
	if fq.ecsAddr != nil {
		copy(out[len(out)-len(fq.ecsAddr):], fq.ecsAddr)
	}
	sc.buf = out[:0]
	s.metrics.queryMemo(&sc.counter, pop, fq.qtype, dns.RcodeSuccess)
	return out
}

// buildWire packs the response for a fast-path query with miekg/dns. The
// ECS option is the last thing in the packet, so its address can be
// patched from the end.
func (s *Server) buildWire(sn *snapshot, qname string, fq *fastQuery, rrs []dns.RR, slot *sigSlot, scope uint8, signing bool, sc *scratch) ([]byte, *signed) {
	m := &sc.msg
	*m = dns.Msg{}
	m.Id = 0
	m.Response, m.Authoritative, m.Compress = true, true, true
	m.Question = []dns.Question{{Name: qname, Qtype: fq.qtype, Qclass: dns.ClassINET}}
	m.Answer = append(sc.ans[:0], rrs...)
	var sig *signed
	if signing {
		rrsig, err := sn.signer.sign(slot, rrs)
		if err != nil {
			return nil, nil
		}
		m.Answer = append(m.Answer, rrsig)
		sig = slot.p.Load()
	}
	if fq.opt {
		sc.opt = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: ourUDPSize}}
		if fq.do {
			sc.opt.SetDo()
		}
		if fq.family != 0 {
			sc.ecs = dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: uint16(fq.family), SourceNetmask: fq.source,
				SourceScope: scope, Address: fq.subnet.prefix.Addr().AsSlice()}
			sc.optBuf[0] = &sc.ecs
			sc.opt.Option = sc.optBuf[:]
		}
		m.Extra = append(sc.extra[:0], &sc.opt)
	}
	out, err := m.PackBuffer(sc.buf[:cap(sc.buf)])
	if err != nil {
		s.log.Error("pack DNS response", "err", err)
		return nil, nil
	}
	return out, sig
}
