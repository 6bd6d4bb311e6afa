package edge

import (
	"net/http"
	"net/netip"
	"strings"
)

// Forwarding headers.
//
// An edge facing clients must not let them choose what the origin
// believes about the request: a client sending X-Forwarded-Proto: http to
// an origin that redirects plain-HTTP requests to HTTPS would get that
// redirect stored under the HTTPS URL, for everyone (cache poisoning). So
// the fields that describe the client's connection are rewritten from
// what this node saw itself, and honoured from the peer only when the peer
// is trusted: another node of the cluster, or a proxy listed in the
// cluster file's trusted_proxies (a load balancer in front of the edges;
// behind the layer-4 balancer with PROXY protocol, the peer address is
// the client's own and nothing needs trusting). None of these fields is
// part of the cache key, which is why none may come from a client.

// overrideHeaders are request fields some frameworks read to rewrite the
// URL or method; they go upstream unkeyed, so they are dropped unless a
// site lists them in forward_headers.
var overrideHeaders = []string{
	"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Forwarded-Port", "X-Forwarded-Scheme", "X-Forwarded-Ssl", "X-Forwarded-Server", "X-Url-Scheme", "Front-End-Https",
}

// forwardingHeaders describe the client's connection; always rewritten.
var forwardingHeaders = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", "X-Real-Ip"}

// peerAddr is the TCP peer's address (the client, a trusted proxy, or
// another node).
func peerAddr(r *http.Request) netip.Addr { return remoteAddr(r.RemoteAddr) }

// remoteAddr parses a connection's peer address (host:port, or a bare
// address).
func remoteAddr(s string) netip.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, _ := netip.ParseAddr(s)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// trusted reports whether a peer may tell us about the client.
func (s *Proxy) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientView is what the node believes about the client of a request.
type clientView struct {
	addr  netip.Addr
	proto string // http or https
	host  string
	// chain is the X-Forwarded-For list to send on: the trusted proxies'
	// list followed by the peer; for an untrusted peer, the peer alone.
	chain string
}

// client works out the client's address, scheme and host, believing the
// forwarding fields only from a trusted peer.
func (s *Proxy) client(r *http.Request) clientView {
	peer := peerAddr(r)
	v := clientView{addr: peer, proto: schemeOf(r), host: r.Host}
	if peer.IsValid() {
		v.chain = peer.String()
	}
	if !peer.IsValid() || !s.trusted(peer) {
		return v
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(h, ",") {
			if part = strings.TrimSpace(part); part != "" {
				hops = append(hops, part)
			}
		}
	}
	if len(hops) > 0 {
		v.chain = strings.Join(hops, ", ") + ", " + v.chain
		// The client is the rightmost address no trusted proxy owns.
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(hops[i])
			if err != nil {
				break
			}
			v.addr = a.Unmap()
			if !s.trusted(v.addr) {
				break
			}
		}
	}
	if p := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
		v.proto = p
	}
	if h := strings.TrimSpace(r.Header.Get("X-Forwarded-Host")); h != "" && !strings.ContainsAny(h, " ,/") {
		v.host = h
	}
	return v
}

// clientIP is the client's address as the node trusts it (for ip_hash and
// logs).
func (s *Proxy) clientIP(r *http.Request) netip.Addr { return s.client(r).addr }

// setForwarding replaces every forwarding field of out with what this
// node knows, and drops URL-override fields the site does not forward.
func (s *Proxy) setForwarding(out *http.Request, r *http.Request, st *site) {
	v := s.client(r)
	h := out.Header
	for _, f := range forwardingHeaders {
		delete(h, f)
	}
	for _, f := range overrideHeaders {
		if !st.forwards(f) {
			delete(h, f)
		}
	}
	if v.chain != "" {
		h.Set("X-Forwarded-For", v.chain)
	}
	h.Set("X-Forwarded-Proto", v.proto)
	h.Set("X-Forwarded-Host", v.host)
	fwd := "proto=" + v.proto + ";host=" + quoteForwarded(v.host)
	if v.addr.IsValid() {
		fwd = "for=" + forwardedNode(v.addr) + ";" + fwd
	}
	h.Set("Forwarded", fwd)
}

// forwards reports whether the site forwards the override field f.
func (st *site) forwards(f string) bool {
	for _, k := range st.ForwardHeaders {
		if strings.EqualFold(k, f) {
			return true
		}
	}
	return false
}

// forwardedNode formats an address for Forwarded's for= (RFC 7239 §6:
// IPv6 in brackets, quoted).
func forwardedNode(a netip.Addr) string {
	if a.Is6() {
		return `"[` + a.String() + `]"`
	}
	return a.String()
}

// quoteForwarded quotes a Forwarded value unless it is a token.
func quoteForwarded(v string) string {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return `"` + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `"`, `\"`) + `"`
		}
	}
	return v
}
