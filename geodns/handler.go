package geodns

import (
	"net"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
)

// EDNS(0) payload sizes (RFC 6891 §6.2.5; 1232 is the DNS Flag Day 2020
// size that avoids IP fragmentation).
const (
	ourUDPSize = 1232
	minUDPSize = dns.MinMsgSize // 512
	maxChase   = 8              // CNAME hops followed inside the zone
)

// scratch is the per-query working memory, pooled so that a query costs
// few allocations: the response message, its OPT and ECS records, the
// section slices and the output buffer.
type scratch struct {
	req    dns.Msg
	msg    dns.Msg
	opt    dns.OPT
	ecs    dns.EDNS0_SUBNET
	subnet clientSubnet
	optBuf [1]dns.EDNS0
	ans    []dns.RR
	ns     []dns.RR
	extra  []dns.RR
	buf    []byte
	// counter is the last query counter the fast path resolved; it may
	// outlive a query, and is checked against the server's metrics.
	counter counterMemo
}

// scratchPool is safe to share between servers: a scratch holds nothing
// between queries but a counter memo that names its server's metrics.
var scratchPool = sync.Pool{New: func() any { return newScratch() }}

func newScratch() *scratch {
	return &scratch{
		ans:   make([]dns.RR, 0, 16),
		ns:    make([]dns.RR, 0, 4),
		extra: make([]dns.RR, 0, 8),
		buf:   make([]byte, 0, 4096),
	}
}

// result is what a query was answered with, for metrics.
type result struct {
	pop   string
	rcode int
}

// ServeDNS answers one parsed query; it lets the server be a miekg/dns
// handler for tests and fuzzers. Responses (QR set) are dropped, as by
// the listeners.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if r.Response {
		s.metrics.dropped.WithLabelValues("response").Inc()
		return
	}
	var client netip.Addr
	tcp := false
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		client, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		client, _ = netip.AddrFromSlice(a.IP)
		tcp = true
	}
	sc := scratchPool.Get().(*scratch)
	out := s.answer(r, client.Unmap(), tcp, sc)
	if out != nil {
		if _, err := w.Write(out); err != nil {
			s.log.Debug("write DNS response", "client", client, "err", err)
		}
	}
	sc.reset()
	scratchPool.Put(sc)
}

// Handle answers one query packet from client and returns the response
// packet, or nil when the packet gets no answer: shorter than a DNS
// header, a response (QR set: answering those lets two servers loop on
// one forged packet), or an unassigned opcode. A packet that parses badly
// is answered with FORMERR. The returned slice is the caller's.
func (s *Server) Handle(req []byte, client netip.Addr, tcp bool) []byte {
	sc := scratchPool.Get().(*scratch)
	defer func() { sc.reset(); scratchPool.Put(sc) }()
	out := s.respond(req, client.Unmap(), tcp, sc)
	if out == nil {
		return nil
	}
	return append([]byte(nil), out...)
}

// respond answers one request packet into sc.buf and returns the
// response, or nil when the packet is dropped unanswered.
func (s *Server) respond(req []byte, client netip.Addr, tcp bool, sc *scratch) []byte {
	if len(req) < headerLen {
		s.metrics.dropped.WithLabelValues("short").Inc()
		return nil
	}
	if req[2]&0x80 != 0 {
		// RFC 1035 §4.1.1 QR: a response. BIND, NSD and Knot drop these.
		s.metrics.dropped.WithLabelValues("response").Inc()
		return nil
	}
	w, werr := walkMsg(req)
	if op := int(req[2]>>3) & 0xF; op != dns.OpcodeQuery {
		if !assignedOpcode(op) {
			s.metrics.dropped.WithLabelValues("opcode").Inc()
			return nil
		}
		return s.errorReply(req, w, dns.RcodeNotImplemented, sc)
	}
	if werr != nil {
		s.metrics.malformed.Inc()
		return s.errorReply(req, w, dns.RcodeFormatError, sc)
	}
	if out := s.fastAnswer(req, w, client, tcp, sc); out != nil {
		return out
	}
	sc.reset()
	r := &sc.req
	if err := r.Unpack(req); err != nil {
		// Structurally sound, but a record's data is bad (an ECS option
		// too short, of family 3 or with prefix 33...).
		s.metrics.malformed.Inc()
		return s.errorReply(req, w, dns.RcodeFormatError, sc)
	}
	return s.answer(r, client, tcp, sc)
}

// errorReply is the response with rcode and only the question and OPT.
func (s *Server) errorReply(req []byte, w wireInfo, rcode int, sc *scratch) []byte {
	s.metrics.query("", w.qtype, rcode)
	out := errorReply(sc.buf[:0], req, w, rcode)
	sc.buf = out[:0]
	return out
}

func (sc *scratch) reset() {
	clear(sc.ans[:cap(sc.ans)])
	clear(sc.ns[:cap(sc.ns)])
	clear(sc.extra[:cap(sc.extra)])
	sc.msg = dns.Msg{}
	sc.req = dns.Msg{}
	sc.ecs = dns.EDNS0_SUBNET{}
	sc.opt = dns.OPT{}
	sc.optBuf[0] = nil
	if cap(sc.buf) > 64<<10 {
		sc.buf = make([]byte, 0, 4096)
	}
}

// answer builds and packs the response to r into sc.buf and records the
// query in the metrics. It returns nil only if packing fails.
func (s *Server) answer(r *dns.Msg, client netip.Addr, tcp bool, sc *scratch) []byte {
	sn := s.snap.Load()
	m := &sc.msg
	res := s.build(sn, r, client, tcp, sc)
	var qtype uint16
	if len(r.Question) == 1 {
		qtype = r.Question[0].Qtype
	}
	s.metrics.query(res.pop, qtype, res.rcode)

	limit := dns.MaxMsgSize
	if !tcp {
		limit = minUDPSize
		if opt := r.IsEdns0(); opt != nil {
			limit = int(max(min(opt.UDPSize(), ourUDPSize), minUDPSize))
		}
	}
	m.Compress = true
	out, err := m.PackBuffer(sc.buf[:cap(sc.buf)])
	if err == nil && len(out) > limit {
		// RFC 2181 §9 and RFC 1035 §4.2.1: drop what does not fit and set
		// TC, so the client retries over TCP.
		m.Truncate(limit)
		out, err = m.PackBuffer(sc.buf[:cap(sc.buf)])
	}
	if err != nil {
		s.log.Error("pack DNS response", "question", r.Question, "err", err)
		return nil
	}
	sc.buf = out[:0]
	return out
}

// build fills sc.msg with the response to r.
func (s *Server) build(sn *snapshot, r *dns.Msg, client netip.Addr, tcp bool, sc *scratch) result {
	m := &sc.msg
	m.Id = r.Id
	m.Response = true
	m.Opcode = r.Opcode
	m.RecursionDesired = r.RecursionDesired
	m.CheckingDisabled = r.CheckingDisabled
	m.Question = r.Question
	m.Answer, m.Ns, m.Extra = sc.ans[:0], sc.ns[:0], sc.extra[:0]

	fail := func(rcode int) result {
		m.Rcode = rcode
		m.Answer, m.Ns = m.Answer[:0], m.Ns[:0]
		return result{rcode: rcode}
	}

	// EDNS(0), RFC 6891, first: every response to a query with an OPT
	// carries one (§7), errors included.
	var opt *dns.OPT
	opts := 0
	for _, rr := range r.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if opt == nil {
				opt = o
			}
			opts++
		}
	}
	if opt != nil {
		sc.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: ourUDPSize}
		if opt.Do() {
			sc.opt.SetDo() // RFC 3225 §3: copy DO
		}
		m.Extra = append(m.Extra, &sc.opt)
	}

	// Header checks (RFC 1035 §4.1.1): a query has QR clear and exactly
	// one question; only QUERY is implemented.
	if r.Response {
		return fail(dns.RcodeFormatError)
	}
	if r.Opcode != dns.OpcodeQuery {
		return fail(dns.RcodeNotImplemented)
	}
	// IXFR carries the client's SOA in the authority section (RFC 1995 §3).
	ixfr := len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeIXFR
	if len(r.Question) != 1 || len(r.Answer) != 0 || (len(r.Ns) != 0 && !ixfr) {
		if len(r.Question) > 1 {
			m.Question = nil
		}
		return fail(dns.RcodeFormatError)
	}

	var subnet *clientSubnet
	var ecs *dns.EDNS0_SUBNET
	if opt != nil {
		if opts > 1 {
			return fail(dns.RcodeFormatError) // §6.1.1: one OPT at most
		}
		if opt.Hdr.Name != "." {
			return fail(dns.RcodeFormatError)
		}
		if opt.Version() != 0 {
			// §6.1.3. BADVERS is 16: Pack puts its upper bits in the OPT.
			m.Rcode = dns.RcodeBadVers
			return result{rcode: dns.RcodeBadVers}
		}
		if ecs = findECS(opt); ecs != nil {
			cs, err := parseECS(ecs)
			if err != nil {
				// RFC 7871 §7.1.2 / §6: malformed options are rejected.
				return fail(dns.RcodeFormatError)
			}
			sc.subnet = cs
			subnet = &sc.subnet
			// Echo the option (§7.2.1) with scope 0 until an answer
			// depends on the location.
			sc.ecs = dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: ecs.Family, SourceNetmask: ecs.SourceNetmask, Address: ecs.Address}
			sc.optBuf[0] = &sc.ecs
			sc.opt.Option = sc.optBuf[:]
		}
	}

	q := r.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		return fail(dns.RcodeRefused)
	}
	switch q.Qtype {
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return fail(dns.RcodeFormatError)
	case dns.TypeAXFR, dns.TypeIXFR:
		return fail(dns.RcodeRefused) // no zone transfers
	}
	name := canonical(q.Name)
	z := sn.zone
	if !z.inZone(name) {
		return fail(dns.RcodeRefused) // not authoritative, no recursion
	}
	m.Authoritative = true

	qs := querySource{client: client, subnet: subnet}
	res := result{rcode: dns.RcodeSuccess}
	// DNSSEC (RFC 4035 §3.1): signatures only for a DO query to a signed
	// zone; AD is never set by an authoritative server.
	var sg *zoneSigner
	if opt != nil && opt.Do() {
		sg = sn.signer
	}
	signFailed := false
	add := func(sec *[]dns.RR, set []dns.RR, slot *sigSlot) {
		*sec = append(*sec, set...)
		if sg == nil || slot == nil || len(set) == 0 {
			return
		}
		sig, err := sg.sign(slot, set)
		if err != nil {
			s.log.Error("DNSSEC signing failed", "err", err)
			signFailed = true
			return
		}
		*sec = append(*sec, sig)
	}
	// deny adds the authority of a negative answer: the SOA and, when
	// signing, the compact denial NSEC of RFC 9824 for name.
	deny := func(name string, types []uint16) {
		add(&m.Ns, z.negSOA, &z.negSOASig)
		if sg == nil {
			return
		}
		ttl := z.negSOA[0].Header().Ttl
		nsec := denialNSEC(name, ttl, types)
		add(&m.Ns, []dns.RR{nsec}, sg.dynamicSlot(dynKey{name: name, rtype: dns.TypeNSEC, bits: typesKey(types)}))
	}
	defer func() {
		if signFailed {
			// Never hand out an answer a validator would reject as bogus.
			m.Answer, m.Ns, m.Extra = m.Answer[:0], m.Ns[:0], m.Extra[:1]
			m.Rcode = dns.RcodeServerFailure
		}
	}()
	for hop := 0; ; hop++ {
		node, cut := z.lookup(name)
		if cut != "" && !(q.Qtype == dns.TypeDS && cut == name) {
			// Referral (RFC 1034 §4.3.2): not authoritative below a cut.
			if len(m.Answer) == 0 {
				m.Authoritative = false
			}
			m.Ns = append(m.Ns, z.nodes[cut].rrsets[dns.TypeNS]...)
			if sg != nil {
				// An insecure delegation: prove there is no DS (RFC 4035
				// §3.1.4).
				nsec := denialNSEC(cut, z.negSOA[0].Header().Ttl, []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC})
				add(&m.Ns, []dns.RR{nsec}, sg.dynamicSlot(dynKey{name: cut, rtype: dns.TypeNSEC, bits: "cut"}))
			}
			for _, rr := range z.nodes[cut].rrsets[dns.TypeNS] {
				if glue := z.nodes[canonical(rr.(*dns.NS).Ns)]; glue != nil {
					m.Extra = append(m.Extra, glue.rrsets[dns.TypeA]...)
					m.Extra = append(m.Extra, glue.rrsets[dns.TypeAAAA]...)
				}
			}
			return res
		}
		if node == nil {
			if sg != nil {
				// RFC 9824: NXDOMAIN is answered as NODATA whose NSEC
				// says NXNAME, so no zone walking and online signing.
				deny(name, []uint16{dns.TypeRRSIG, dns.TypeNSEC, nxname})
				return res
			}
			// RFC 6604: the rcode describes the last name of the chain.
			res.rcode = dns.RcodeNameError
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, z.negSOA...)
			return res
		}
		if q.Qtype == dns.TypeANY && (node.geo >= 0 || len(node.rrsets) > 0) {
			if cn := node.rrsets[dns.TypeCNAME]; len(cn) > 0 {
				add(&m.Answer, cn, node.sigs[dns.TypeCNAME])
				return res
			}
			var slot *sigSlot
			if sg != nil {
				slot = sg.dynamicSlot(dynKey{name: name, rtype: dns.TypeHINFO})
			}
			add(&m.Answer, []dns.RR{s.anyAnswer(sn, name)}, slot)
			return res
		}
		if node.geo >= 0 && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA) {
			rrs, slot, pop, scope := s.geoAnswer(sn, node.geo, q.Qtype, &qs)
			res.pop = pop
			if ecs != nil {
				sc.ecs.SourceScope = scope
			}
			if len(rrs) == 0 {
				deny(name, sn.nodeTypes(name, node))
				return res
			}
			add(&m.Answer, rrs, slot)
			return res
		}
		if set := node.rrsets[q.Qtype]; len(set) > 0 {
			add(&m.Answer, set, node.sigs[q.Qtype])
			if q.Qtype == dns.TypeNS {
				for _, rr := range set {
					if glue := z.nodes[canonical(rr.(*dns.NS).Ns)]; glue != nil {
						m.Extra = append(m.Extra, glue.rrsets[dns.TypeA]...)
						m.Extra = append(m.Extra, glue.rrsets[dns.TypeAAAA]...)
					}
				}
			}
			return res
		}
		if cn := node.rrsets[dns.TypeCNAME]; len(cn) > 0 {
			// RFC 1034 §3.6.2 / §4.3.2: answer the CNAME and follow it
			// while the target is inside the zone.
			add(&m.Answer, cn[:1], node.sigs[dns.TypeCNAME])
			target := canonical(cn[0].(*dns.CNAME).Target)
			if !z.inZone(target) || hop+1 >= maxChase {
				return res
			}
			name = target
			continue
		}
		// The name exists without this type: NODATA (RFC 2308 §2.2).
		deny(name, sn.nodeTypes(name, node))
		return res
	}
}

// anyAnswer is the RFC 8482 §4.2 minimal answer to an ANY query at a
// name without a CNAME: a synthesized HINFO.
func (s *Server) anyAnswer(sn *snapshot, name string) dns.RR {
	return &dns.HINFO{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: uint32(sn.cfg.TTL.Seconds())},
		Cpu: "RFC8482",
	}
}
