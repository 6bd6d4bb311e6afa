package loadtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/selfcdn/cdn/endpoints"
)

// httpClient is one simulated user: its own connections (one transport per
// site it talks to), its own source address in endpoints mode, and its own
// stub resolver cache.
type httpClient struct {
	cfg    Config
	wl     *workload
	rng    *rand.Rand
	tlsCfg *tls.Config
	src    netip.Addr // zero: the system chooses

	// URL mode.
	bases []*url.URL
	rt    http.RoundTripper

	// Endpoints mode.
	region     string
	sites      []string
	res        *resolver
	edges      map[netip.Addr]edgeInfo
	transports map[string]http.RoundTripper // by site, so TLS names the site

	closers []func()
}

var _ client = (*httpClient)(nil)

// edgeInfo is where an edge address belongs.
type edgeInfo struct {
	pop  string
	port int
}

// region is the clients of one PoP's area and the network they send from.
type region struct {
	name   string
	prefix netip.Prefix
}

func newHTTPClients(c Config) (clients []client, targets []string, objects int, err error) {
	tlsCfg, err := c.TLS.config()
	if err != nil {
		return nil, nil, 0, err
	}
	bases, objectURLs := splitTargets(c.URLs)
	if len(bases) == 0 {
		bases = basesOf(objectURLs)
	}
	wl, err := newWorkload(c.Workload, objectURLs, c.Seed)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("build workload: %w", err)
	}
	targets = c.URLs
	var regions []region
	var edges map[netip.Addr]edgeInfo
	if c.Endpoints != nil {
		regions, edges = endpointsLayout(c.Endpoints, c.Proto)
		targets = c.Sites
	} else if len(targets) == 0 {
		targets = hostsOf(c.Workload.Trace)
	}
	defer func() {
		if err != nil {
			for _, cl := range clients {
				cl.close()
			}
		}
	}()
	for k := range c.Concurrency {
		cl := &httpClient{cfg: c, wl: wl, rng: seedFor(c.Seed, k), tlsCfg: tlsCfg, bases: bases}
		clients = append(clients, cl)
		if c.Endpoints == nil {
			cl.rt, err = cl.newTransport(tlsCfg)
			if err != nil {
				return clients, nil, 0, err
			}
			continue
		}
		reg := regions[k%len(regions)]
		cl.region, cl.sites, cl.edges = reg.name, c.Sites, edges
		cl.src = randomAddr(reg.prefix, cl.rng)
		cl.res = newResolver(c.Endpoints.DNS, cl.src, c.Timeout, c.Now)
		cl.transports = map[string]http.RoundTripper{}
	}
	return clients, targets, len(objectURLs), nil
}

// endpointsLayout lists the regions clients come from and where each edge
// address belongs.
func endpointsLayout(f *endpoints.File, p Proto) ([]region, map[netip.Addr]edgeInfo) {
	var regions []region
	edges := map[netip.Addr]edgeInfo{}
	for _, pop := range f.PoPs {
		if pfx, err := netip.ParsePrefix(pop.ClientNetwork); err == nil {
			regions = append(regions, region{name: pop.Name, prefix: pfx.Masked()})
		}
		// Balancers are entry points of their PoP like its edges: GeoDNS
		// answers with them when the cluster puts them in front.
		for _, e := range append(append([]endpoints.Node(nil), pop.Edges...), pop.Balancers...) {
			if a, err := netip.ParseAddr(e.Address); err == nil {
				a = a.Unmap()
				if _, dup := edges[a]; !dup {
					edges[a] = edgeInfo{pop: pop.Name, port: edgePort(e, p)}
				}
			}
		}
	}
	return regions, edges
}

func (t TLSConfig) config() (*tls.Config, error) {
	c := &tls.Config{InsecureSkipVerify: t.Insecure, MinVersion: tls.VersionTLS12}
	switch {
	case t.RootCAs != nil:
		c.RootCAs = t.RootCAs
	case t.CAFile != "":
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", t.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// newTransport builds a transport speaking the run's protocol from the
// client's source address.
func (c *httpClient) newTransport(tlsCfg *tls.Config) (http.RoundTripper, error) {
	// Each transport gets its own copy: HTTP/2 setup writes NextProtos.
	tlsCfg = tlsCfg.Clone()
	if c.cfg.Proto == ProtoH3 {
		t := &http3.Transport{TLSClientConfig: tlsCfg, DisableCompression: true}
		if c.src.IsValid() {
			udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: c.src.AsSlice()})
			if err != nil {
				return nil, fmt.Errorf("bind UDP source address %s: %w", c.src, err)
			}
			qt := &quic.Transport{Conn: udp}
			t.Dial = func(ctx context.Context, addr string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				ua, err := net.ResolveUDPAddr("udp", addr)
				if err != nil {
					return nil, err
				}
				return qt.DialEarly(ctx, ua, tlsConf, qc)
			}
			c.closers = append(c.closers, func() { qt.Close(); udp.Close() })
		}
		c.closers = append(c.closers, func() { t.Close() })
		return t, nil
	}
	d := &net.Dialer{Timeout: c.cfg.Timeout, KeepAlive: 30 * time.Second}
	if c.src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: c.src.AsSlice()}
	}
	var protos http.Protocols
	switch c.cfg.Proto {
	case ProtoH2:
		protos.SetHTTP2(true)
	case ProtoH2C:
		protos.SetUnencryptedHTTP2(true)
	default:
		protos.SetHTTP1(true)
	}
	t := &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: c.cfg.Timeout,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		Protocols:           &protos,
	}
	c.closers = append(c.closers, t.CloseIdleConnections)
	return t, nil
}

func (c *httpClient) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

func (c *httpClient) do(ctx context.Context, i int64) (result, bool) {
	req, ok := c.wl.next(i, c.rng)
	if !ok {
		return result{}, false
	}
	res := result{region: c.region}
	rt, target, host, pop, err := c.route(ctx, req.target)
	res.pop = pop
	if err != nil {
		res.errKind = classify(err)
		return res, true
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, target, nil)
	if err != nil {
		res.errKind = errOther
		return res, true
	}
	for k, vs := range c.cfg.Header {
		if strings.EqualFold(k, "Host") && len(vs) > 0 {
			hreq.Host = vs[0]
			continue
		}
		hreq.Header[k] = vs
	}
	if host != "" {
		hreq.Host = host
	}
	resp, err := rt.RoundTrip(hreq)
	if err != nil {
		res.errKind = classify(err)
		return res, true
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	res.bytes = n
	if err != nil {
		res.errKind = errBodyShort
		if k := classify(err); k == errTimeout || k == errReset {
			res.errKind = k
		}
		return res, true
	}
	if resp.ContentLength >= 0 && n < resp.ContentLength && req.method != http.MethodHead {
		res.errKind = errBodyShort
		return res, true
	}
	res.responded = true
	res.status = strconv.Itoa(resp.StatusCode)
	res.proto = resp.Proto
	switch {
	case resp.StatusCode >= 500:
		res.errKind = errStatus5xx
	case resp.StatusCode >= 400:
		res.errKind = errStatus4xx
	}
	if vals := resp.Header.Values("Cache-Status"); len(vals) > 0 {
		if cs, ok := ParseCacheStatus(strings.Join(vals, ", ")); ok {
			res.cache = &cs
		}
	} else {
		res.noCache = true
	}
	return res, true
}

// route says where a request goes: the transport, the URL to send, the
// Host to send it with ("" for the URL's) and the PoP serving it.
func (c *httpClient) route(ctx context.Context, target string) (rt http.RoundTripper, u, host, pop string, err error) {
	if c.cfg.Endpoints == nil {
		if isAbsoluteURL(target) {
			return c.rt, target, "", "", nil
		}
		if len(c.bases) == 0 {
			return nil, "", "", "", errNoTarget
		}
		base := c.bases[c.rng.IntN(len(c.bases))]
		return c.rt, base.String() + target, "", "", nil
	}
	site, path := "", target
	if isAbsoluteURL(target) {
		pu, err := url.Parse(target)
		if err != nil {
			return nil, "", "", "", fmt.Errorf("parse trace URL %q: %w", target, err)
		}
		site, path = pu.Hostname(), pu.RequestURI()
	} else {
		site = c.sites[c.rng.IntN(len(c.sites))]
	}
	addr, err := c.res.resolve(ctx, site)
	if err != nil {
		return nil, "", "", "", err
	}
	e, ok := c.edges[addr]
	if !ok {
		return nil, "", "", "", &resolveError{fmt.Errorf("GeoDNS answered %s for %s: no edge in the endpoints file has that address", addr, site)}
	}
	rt = c.transports[site]
	if rt == nil {
		tc := c.tlsCfg.Clone()
		tc.ServerName = site
		if rt, err = c.newTransport(tc); err != nil {
			return nil, "", "", e.pop, err
		}
		c.transports[site] = rt
	}
	scheme := "http"
	if c.cfg.Proto == ProtoH2 || c.cfg.Proto == ProtoH3 {
		scheme = "https"
	}
	hostport := net.JoinHostPort(addr.String(), strconv.Itoa(e.port))
	return rt, scheme + "://" + hostport + path, site, e.pop, nil
}

// basesOf returns the scheme://host of each URL, deduplicated, so paths of
// a trace can go to the servers of an object list.
func basesOf(urls []string) []*url.URL {
	seen := map[string]bool{}
	var out []*url.URL
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || seen[u.Scheme+u.Host] {
			continue
		}
		seen[u.Scheme+u.Host] = true
		out = append(out, &url.URL{Scheme: u.Scheme, Host: u.Host})
	}
	return out
}

// hostsOf lists the scheme://host of a trace's absolute URLs.
func hostsOf(trace []TraceEntry) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range trace {
		u, err := url.Parse(e.Target)
		if err != nil || !isAbsoluteURL(e.Target) {
			continue
		}
		h := u.Scheme + "://" + u.Host
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// randomAddr draws a host address inside p, avoiding the network and
// broadcast addresses of IPv4 prefixes shorter than /31.
func randomAddr(p netip.Prefix, r *rand.Rand) netip.Addr {
	a := p.Addr()
	hostBits := a.BitLen() - p.Bits()
	if hostBits <= 1 {
		return a
	}
	if hostBits > 62 {
		hostBits = 62
	}
	n := uint64(1) << hostBits
	off := 1 + r.Uint64N(n-2)
	b := a.AsSlice()
	for i := len(b) - 1; i >= 0 && off > 0; i-- {
		sum := uint64(b[i]) + off&0xff
		b[i] = byte(sum)
		off = off>>8 + sum>>8
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}
