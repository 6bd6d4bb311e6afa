// Package config reads and checks the cluster file: one YAML document that
// describes the whole CDN (sites, origins, shields, PoPs, DNS zone, purge bus).
// Every process reads the same file and is told its own node name.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Cluster is the whole cluster file. See docs/CONFIG.md for every key and
// its default.
type Cluster struct {
	// Zone is the DNS zone GeoDNS is authoritative for (trailing dot optional).
	Zone string `yaml:"zone"`
	// Sites are the hostnames the CDN serves; any other Host is refused.
	Sites []Site `yaml:"sites"`
	// Origins are the customer's server pools, by name.
	Origins map[string]Origin `yaml:"origins"`
	// Shields is the mid tier between edges and origins. Empty: edges go
	// straight to the origins.
	Shields Shields `yaml:"shields"`
	// PoPs are the points of presence and their edges.
	PoPs []PoP `yaml:"pops"`
	// Ports are shared by every edge and shield: DNS carries no ports.
	Ports Ports `yaml:"ports"`
	// Admin configures the admin listeners.
	Admin Admin `yaml:"admin"`
	// Cache sizes the memory and disk tiers of every edge and shield.
	Cache Cache `yaml:"cache"`
	// Upstream holds connection settings for requests to shields and origins.
	Upstream Upstream `yaml:"upstream"`
	// Limits protect every edge and shield from what its clients can make
	// it do.
	Limits Limits `yaml:"limits"`
	// TrustedProxies are CIDRs (or addresses) of proxies in front of the
	// edges whose X-Forwarded-For, -Proto and -Host are believed, besides
	// the cluster's own nodes.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// GeoDNS configures the authoritative DNS nodes.
	GeoDNS GeoDNS `yaml:"geodns"`
	// Purge configures the purge API and its message bus.
	Purge Purge `yaml:"purge"`
	// TLS configures HTTPS on edges.
	TLS TLS `yaml:"tls"`
	// L4 configures the layer-4 balancers of pops[].balancers.
	L4 L4 `yaml:"l4"`
	// Proxies are forward proxy nodes (cdn proxy): they act for clients,
	// not for origins. Empty: none.
	Proxies Proxies `yaml:"proxies"`
}

// Site is one hostname served by the CDN.
type Site struct {
	// Host is what clients ask for, e.g. assets.example.com.
	Host string `yaml:"host"`
	// Aliases are further hostnames served as the same site (same cache).
	Aliases []string `yaml:"aliases"`
	// Origin names an entry of origins.
	Origin string `yaml:"origin"`
	// Cache holds the per-site caching policy.
	Cache SiteCache `yaml:"cache"`
	// ForwardHeaders are URL- or method-override request fields
	// (X-Original-URL, X-HTTP-Method-Override, X-Forwarded-Port, ...)
	// sent to the origin; by default they are dropped.
	ForwardHeaders []string `yaml:"forward_headers"`
}

// SiteCache holds per-site caching knobs.
type SiteCache struct {
	// IgnoreQuery drops the query string from the cache key.
	IgnoreQuery bool `yaml:"ignore_query"`
	// SortQuery sorts query parameters in the cache key, so ?a=1&b=2 and
	// ?b=2&a=1 share one object.
	SortQuery bool `yaml:"sort_query"`
	// CacheSetCookie stores responses that carry Set-Cookie, without it.
	// Default false: such responses are passed through, not stored.
	CacheSetCookie bool `yaml:"cache_set_cookie"`
	// DefaultTTL is the lifetime of cacheable responses that state none.
	// Default 0: such responses get only heuristic freshness.
	DefaultTTL Duration `yaml:"default_ttl"`
	// MaxHeuristic caps heuristic freshness (RFC 9111 §4.2.2). Default 24h.
	MaxHeuristic Duration `yaml:"max_heuristic"`
	// IgnoreCDNCacheControl ignores the CDN-Cache-Control field (RFC 9213).
	IgnoreCDNCacheControl bool `yaml:"ignore_cdn_cache_control"`
	// StaleOnError is how long past its freshness a stored response may
	// still answer when the origin fails, unless a directive forbids it
	// (RFC 9111 §4.2.4). Default 1h; at most 7 days; -1s turns it off.
	StaleOnError Duration `yaml:"stale_on_error"`
	// Slices fetches and stores a large object in aligned parts when
	// clients ask for ranges of it (RFC 9111 §3.3, §3.4), so a range costs
	// the origin a slice, not the whole object. Default true.
	Slices *bool `yaml:"slices"`
	// SliceSize is the size of those parts. Default 1MiB; from 64KiB to
	// 64MiB, and at most the largest memory object.
	SliceSize ByteSize `yaml:"slice_size"`
}

// SlicesOn reports whether ranges of the site's objects are fetched and
// stored as slices.
func (c SiteCache) SlicesOn() bool { return c.Slices == nil || *c.Slices }

// Origin is a pool of origin servers.
type Origin struct {
	// Policy picks a server: round_robin (default), weighted_round_robin,
	// least_conn, p2c, ip_hash, maglev, rendezvous, bounded_load.
	Policy string `yaml:"policy"`
	// Servers are the pool's members.
	Servers []Server `yaml:"servers"`
	// Health configures active health checks of the servers.
	Health HealthCheck `yaml:"health"`
	// HostHeader, when set, replaces the Host sent to the origin.
	HostHeader string `yaml:"host_header"`
	// Balancing tunes the hashing policies.
	Balancing Balancing `yaml:"balancing"`
	// Passive ejects a server after consecutive failures.
	Passive Passive `yaml:"passive"`
}

// Balancing tunes a pool's hashing policies.
type Balancing struct {
	// TableSize is Maglev's lookup table size: a prime of at least 100
	// times the number of servers. Default 65537.
	TableSize int `yaml:"table_size"`
	// VirtualNodes is bounded_load's ring points per unit of weight.
	// Default 100.
	VirtualNodes int `yaml:"virtual_nodes"`
	// LoadFactor is bounded_load's ε: no server takes more than
	// (1+ε) × the mean load. Default 0.25.
	LoadFactor float64 `yaml:"load_factor"`
	// IPv4Prefix and IPv6Prefix are the leading bits of the client
	// address ip_hash hashes. Defaults 32 and 64.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

// Passive configures ejection on failed requests (connection errors,
// timeouts, 5xx answers to idempotent requests; never a client's fault).
type Passive struct {
	// MaxFails is the consecutive failures that eject a server; -1 turns
	// passive ejection off. Default 3.
	MaxFails int `yaml:"max_fails"`
	// CoolDown is how long an ejection lasts. Default 10s.
	CoolDown Duration `yaml:"cool_down"`
}

// Server is one origin server.
type Server struct {
	// URL is the server's base URL, http://host:port or https://host:port.
	URL string `yaml:"url"`
	// Weight is its share for weighted policies. Default 1.
	Weight int `yaml:"weight"`
	// MaxConns caps concurrent requests to it; 0 means no cap.
	MaxConns int `yaml:"max_conns"`
}

// HealthCheck configures an active HTTP health check.
type HealthCheck struct {
	// Path is probed with GET. Empty disables active checks.
	Path string `yaml:"path"`
	// Interval between probes. Default 2s.
	Interval Duration `yaml:"interval"`
	// Timeout of one probe. Default 1s.
	Timeout Duration `yaml:"timeout"`
	// Rise is the consecutive successes that mark a server up. Default 2.
	Rise int `yaml:"rise"`
	// Fall is the consecutive failures that mark a server down. Default 2.
	Fall int `yaml:"fall"`
}

// Shields is the shield tier.
type Shields struct {
	// Policy is the consistent hash of the cache key: maglev (default),
	// rendezvous or bounded_load.
	Policy string `yaml:"policy"`
	// Nodes are the shields.
	Nodes []Node `yaml:"nodes"`
	// Health configures active checks of the shields (path default /healthz).
	Health HealthCheck `yaml:"health"`
	// Balancing tunes the consistent hash.
	Balancing Balancing `yaml:"balancing"`
	// Passive ejects a shield after consecutive failures.
	Passive Passive `yaml:"passive"`
}

// PoP is a point of presence: a place with edges.
type PoP struct {
	// Name identifies the PoP, e.g. eu-west.
	Name string `yaml:"name"`
	// Location is where it is; GeoDNS sends clients to the nearest PoP.
	Location Location `yaml:"location"`
	// Weight scales the PoP's pull on clients (capacity). Default 1.
	Weight float64 `yaml:"weight"`
	// Countries are ISO codes whose clients go here before any nearer PoP.
	Countries []string `yaml:"countries"`
	// Continents are continent codes (EU, NA, ...) sent here first.
	Continents []string `yaml:"continents"`
	// Edges are the PoP's edge nodes.
	Edges []Node `yaml:"edges"`
	// Balancers are the PoP's layer-4 balancers (cdn l4) in front of its edges.
	Balancers []Node `yaml:"balancers"`
}

// Location is a point on the globe in degrees.
type Location struct {
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
}

// Node is one process of the CDN: an edge, a shield or a GeoDNS server.
type Node struct {
	// Name is unique across the cluster; a process is told its own.
	Name string `yaml:"name"`
	// Address is the node's IP address; it listens there on the shared ports.
	Address string `yaml:"address"`
}

// Ports are the ports every edge and shield listens on.
type Ports struct {
	// HTTP serves HTTP/1.1 and cleartext HTTP/2. Default 80.
	HTTP int `yaml:"http"`
	// HTTPS serves TLS (HTTP/1.1, HTTP/2) and HTTP/3 over UDP. Default 443;
	// used only when tls is configured.
	HTTPS int `yaml:"https"`
	// Admin serves /metrics, /healthz and the purge API. Default 9090.
	Admin int `yaml:"admin"`
	// HTTPEngine serves HTTP/1.1 on the http port: "fast" answers plain
	// hits with the edge's own HTTP/1.1 engine and hands every other
	// request to net/http; "stdlib" leaves every request to net/http.
	// Default fast.
	HTTPEngine string `yaml:"http_engine"`
}

// Admin configures every node's admin listener.
type Admin struct {
	// Bind is the address the admin listener binds (with ports.admin),
	// e.g. 127.0.0.1 to keep it off the network. Default: the node's own
	// address.
	Bind string `yaml:"bind"`
	// Protect requires the admin token (purge.token or purge.token_env)
	// as a bearer token on /metrics and /status. /healthz stays open for
	// health checks. Default false.
	Protect bool `yaml:"protect"`
	// Pprof serves Go's profiler (net/http/pprof) under /debug/pprof/ on
	// edges and shields, behind the admin token when one is set. Default
	// false.
	Pprof bool `yaml:"pprof"`
}

// Cache sizes the cache tiers of each node.
type Cache struct {
	// Memory is the memory tier's budget. Default 512MiB.
	Memory ByteSize `yaml:"memory"`
	// MaxMemoryObject is the largest object kept in memory. Default 16MiB.
	MaxMemoryObject ByteSize `yaml:"max_memory_object"`
	// Disk configures the disk tier; no path means memory only.
	Disk Disk `yaml:"disk"`
}

// Disk configures the disk tier.
type Disk struct {
	// Path is the folder; each node uses Path/<node name>.
	Path string `yaml:"path"`
	// Size is the most bytes stored on disk. Default 10GiB.
	Size ByteSize `yaml:"size"`
	// MaxObject is the largest object stored. Default 1GiB.
	MaxObject ByteSize `yaml:"max_object"`
}

// Upstream configures requests to shields and origins.
type Upstream struct {
	// ConnectTimeout bounds dialling. Default 2s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// HeaderTimeout bounds the wait for response headers. Default 30s.
	HeaderTimeout Duration `yaml:"header_timeout"`
	// IdleTimeout closes idle pooled connections. Default 90s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// AckTimeout fails a connection whose sent data is not acknowledged
	// for this long (TCP_USER_TIMEOUT): a silently dropping upstream costs
	// this, not the header timeout. Default 2s.
	AckTimeout Duration `yaml:"ack_timeout"`
	// MaxIdlePerHost is the keep-alive pool size per upstream. Default 256.
	MaxIdlePerHost int `yaml:"max_idle_per_host"`
	// Retries is how many other upstreams an idempotent request may try
	// after a failure. Default 2.
	Retries int `yaml:"retries"`
}

// Limits bound what one client can make a node hold or cause upstream.
type Limits struct {
	// MaxFetchesPerConn bounds the upstream fetches one client connection
	// has in progress; further misses on it wait. Default 32.
	MaxFetchesPerConn int `yaml:"max_fetches_per_conn"`
	// MaxAbandonedPerConn closes a client connection that has given up
	// this many requests whose fetches it started (HTTP/2 rapid reset).
	// Default 100; -1 disables.
	MaxAbandonedPerConn int `yaml:"max_abandoned_per_conn"`
	// H2MaxStreams bounds concurrent HTTP/2 streams per connection.
	// Default 128.
	H2MaxStreams int `yaml:"h2_max_streams"`
	// FetchTimeout bounds one upstream fetch, headers to last byte.
	// Default 10m.
	FetchTimeout Duration `yaml:"fetch_timeout"`
	// BodyIdleTimeout fails an upstream body that sends nothing for this
	// long. Default 30s.
	BodyIdleTimeout Duration `yaml:"body_idle_timeout"`
	// StreamWindow is what a body that is not stored may buffer ahead of
	// its slowest reader. Default 256KiB.
	StreamWindow ByteSize `yaml:"stream_window"`
	// MaxHeaderBytes bounds a request's header section; larger gets 431.
	// Default 64KiB.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	// MaxHeaderCount bounds a request's header fields; more get 431.
	// Default 101.
	MaxHeaderCount int `yaml:"max_header_count"`
	// ClientBodyTimeout fails a request body that sends nothing for this
	// long. Default 60s.
	ClientBodyTimeout Duration `yaml:"client_body_timeout"`
	// SendTimeout abandons a response the client does not read for this
	// long. Default 60s.
	SendTimeout Duration `yaml:"send_timeout"`
	// MaxConnsPerClient bounds connections per client address. Default
	// 256; -1: no limit.
	MaxConnsPerClient int `yaml:"max_conns_per_client"`
}

// GeoDNS configures the DNS tier.
type GeoDNS struct {
	// Nodes are the name servers (NS records, with glue when in the zone).
	Nodes []Node `yaml:"nodes"`
	// Port is the DNS port. Default 53.
	Port int `yaml:"port"`
	// GeoIP is the path of a MaxMind City (or Country) database.
	GeoIP string `yaml:"geoip"`
	// TTL of answers. Default 30s.
	TTL Duration `yaml:"ttl"`
	// NegativeTTL is the SOA minimum, for NXDOMAIN and NODATA. Default 60s.
	NegativeTTL Duration `yaml:"negative_ttl"`
	// MaxAnswers is how many edges one answer holds. Default 2.
	MaxAnswers int `yaml:"max_answers"`
	// DefaultPoPs serve clients whose location is unknown. Default: all,
	// in file order.
	DefaultPoPs []string `yaml:"default_pops"`
	// Names are further names in the zone answered with the nearest PoP,
	// besides the sites that lie inside the zone.
	Names []string `yaml:"names"`
	// Records are static records in the zone.
	Records []Record `yaml:"records"`
	// Health configures probes of edges' /healthz.
	Health HealthCheck `yaml:"health"`
	// Admin is the port of the metrics and health listener. Default: ports.admin.
	Admin int `yaml:"admin"`
	// Serial is the SOA serial. Default 0: derived from the zone's
	// content, the same on every node.
	Serial uint32 `yaml:"serial"`
	// Answer is what a PoP is answered with: "edges" (default) or
	// "balancers" (its healthy balancers, when it has any).
	Answer string `yaml:"answer"`
	// DNSSEC signs answers online; no key files means unsigned.
	DNSSEC DNSSEC `yaml:"dnssec"`
}

// DNSSEC configures online signing of the GeoDNS zone.
type DNSSEC struct {
	// Key is the public key file (DNSKEY, as cdn geodns keygen writes it).
	Key string `yaml:"key"`
	// Private is the private key file.
	Private string `yaml:"private"`
	// Validity is how long a signature is valid from its inception.
	// Default 48h.
	Validity Duration `yaml:"validity"`
}

// Record is a static DNS record.
type Record struct {
	// Name, relative to the zone or absolute with a trailing dot; "@" is the apex.
	Name string `yaml:"name"`
	// Type is A, AAAA, CNAME, TXT, MX, ...
	Type string `yaml:"type"`
	// TTL defaults to geodns.ttl.
	TTL Duration `yaml:"ttl"`
	// Value is the record data in zone-file syntax.
	Value string `yaml:"value"`
}

// Purge configures the purge API and bus.
type Purge struct {
	// NATS is the bus.
	NATS NATS `yaml:"nats"`
	// Token is the admin API's bearer token. Prefer token_env.
	Token string `yaml:"token"`
	// TokenEnv names an environment variable holding the token.
	// Default CDN_ADMIN_TOKEN.
	TokenEnv string `yaml:"token_env"`
	// Timeout is how long the API waits for nodes to confirm. Default 5s.
	Timeout Duration `yaml:"timeout"`
}

// NATS configures the purge bus.
type NATS struct {
	// Embedded runs a NATS server inside the process. Default true when
	// urls is empty.
	Embedded *bool `yaml:"embedded"`
	// URLs of an external NATS cluster.
	URLs []string `yaml:"urls"`
	// Listen is the embedded server's address. Default 127.0.0.1:4222.
	Listen string `yaml:"listen"`
	// StoreDir keeps the embedded server's JetStream data.
	StoreDir string `yaml:"store_dir"`
	// Stream is the JetStream stream name. Default CDN_PURGE.
	Stream string `yaml:"stream"`
}

// TLS configures HTTPS on edges.
type TLS struct {
	// SelfSigned makes a local CA and certificates at start (development).
	SelfSigned bool `yaml:"self_signed"`
	// Dir holds the self-signed CA and certificates. Default ./cdn-tls.
	Dir string `yaml:"dir"`
	// Certificates are certificate and key files, chosen by SNI.
	Certificates []Certificate `yaml:"certificates"`
	// HTTP3 serves HTTP/3 on the HTTPS port (UDP). Default true with TLS.
	HTTP3 *bool `yaml:"http3"`
	// Allow0RTT accepts QUIC 0-RTT early data on HTTP/3, for safe methods
	// only (others get 425 Too Early). Default false.
	Allow0RTT bool `yaml:"allow_0rtt"`
	// ACME obtains and renews certificates from an ACME CA.
	ACME *ACME `yaml:"acme"`
}

// ACME configures certificates from an ACME CA (Let's Encrypt by default).
type ACME struct {
	// Hosts to obtain certificates for. Default: every site host and alias.
	Hosts []string `yaml:"hosts"`
	// Email is the account's contact address.
	Email string `yaml:"email"`
	// CA is the ACME directory URL. Default Let's Encrypt production.
	CA string `yaml:"ca"`
	// CARoot is a PEM file of roots trusted for a private CA's HTTPS.
	CARoot string `yaml:"ca_root"`
	// Storage keeps the account, keys and certificates. Default cdn-acme;
	// nodes sharing it share certificates.
	Storage string `yaml:"storage"`
}

// Certificate is one certificate and key pair in PEM files.
type Certificate struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Proxies configures the forward proxy role: CONNECT tunnels, caching of
// plain HTTP, ordered access rules and authentication.
type Proxies struct {
	// Nodes are the proxy nodes; each listens on its address.
	Nodes []Node `yaml:"nodes"`
	// Port is where clients connect (HTTP/1.1 and h2c). Default 3128.
	Port int `yaml:"port"`
	// Admin is the port of /metrics and /healthz. Default 9091.
	Admin int `yaml:"admin"`
	// Rules are the access rules, first match wins; no match is a denial.
	// Empty: clients on loopback only.
	Rules []ProxyRule `yaml:"rules"`
	// Htpasswd is an htpasswd file of bcrypt hashes; when set every request
	// needs Proxy-Authorization: Basic. Reloaded when it changes.
	Htpasswd string `yaml:"htpasswd"`
	// Realm is sent in Proxy-Authenticate. Default "proxy".
	Realm string `yaml:"realm"`
	// Groups name sets of users for rules' groups.
	Groups map[string][]string `yaml:"groups"`
	// AuthFailures is how many failed logins one client address may make
	// per auth_window before it gets 429. Default 10; -1 disables.
	AuthFailures int `yaml:"auth_failures"`
	// AuthWindow is the period auth_failures counts over. Default 1m.
	AuthWindow Duration `yaml:"auth_window"`
	// Memory is the cache budget for plain HTTP responses. Default 256MiB.
	Memory ByteSize `yaml:"memory"`
	// MaxObject is the largest response cached. Default 8MiB.
	MaxObject ByteSize `yaml:"max_object"`
	// DialTimeout bounds DNS and connecting to a destination. Default 5s.
	DialTimeout Duration `yaml:"dial_timeout"`
	// HeaderTimeout bounds the wait for a response header. Default 30s.
	HeaderTimeout Duration `yaml:"header_timeout"`
	// MaxConnsPerClient caps connections from one client address.
	// Default 256; -1 disables.
	MaxConnsPerClient int `yaml:"max_conns_per_client"`
	// MaxTunnels caps open CONNECT tunnels per node. Default 10000; -1
	// disables.
	MaxTunnels int `yaml:"max_tunnels"`
	// TunnelIdleTimeout closes a tunnel quiet in both directions. Default 5m.
	TunnelIdleTimeout Duration `yaml:"tunnel_idle_timeout"`
	// PAC configures /proxy.pac.
	PAC ProxyPAC `yaml:"pac"`
	// AccessLog is a file for the JSON access log; "-" is standard output.
	// Empty: no access log.
	AccessLog string `yaml:"access_log"`
}

// ProxyRule is one access rule of the forward proxy; an empty condition
// matches everything.
type ProxyRule struct {
	// Action is allow or deny.
	Action string `yaml:"action"`
	// Clients are client address ranges (CIDR or single addresses).
	Clients []string `yaml:"clients"`
	// Users are authenticated user names; "*" is any user.
	Users []string `yaml:"users"`
	// Groups are names from proxies.groups.
	Groups []string `yaml:"groups"`
	// Hosts are destinations: exact, ".suffix", "~regexp" or an IP address.
	Hosts []string `yaml:"hosts"`
	// Ports are ports or ranges ("443", "8000-8999"). An allow rule with
	// none allows CONNECT to 443 only.
	Ports []string `yaml:"ports"`
	// Methods are request methods (GET, CONNECT, ...).
	Methods []string `yaml:"methods"`
	// Schemes are http (absolute-form) and https (CONNECT).
	Schemes []string `yaml:"schemes"`
	// Private are loopback, private or other special address ranges that
	// requests this rule allows may reach. Default none.
	Private []string `yaml:"private"`
	// ForwardedHeaders sends Via, X-Forwarded-For and Forwarded. Default false.
	ForwardedHeaders bool `yaml:"forwarded_headers"`
	// Reason is the text of a deny rule's 403.
	Reason string `yaml:"reason"`
}

// ProxyPAC configures the proxy auto-config file.
type ProxyPAC struct {
	// Proxy is the host:port the PAC file names. Default: the Host the
	// browser fetched the PAC file from.
	Proxy string `yaml:"proxy"`
	// Direct are hosts reached without the proxy ("intranet", ".corp").
	Direct []string `yaml:"direct"`
}

// Load reads, decodes, defaults and validates a cluster file.
func Load(path string) (*Cluster, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cluster file: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("cluster file %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a cluster file strictly (an unknown key is an error),
// applies defaults and validates it. The error lists every problem found.
func Parse(b []byte) (*Cluster, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty cluster file")
		}
		return nil, fmt.Errorf("decode: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode: more than one YAML document")
	}
	probs, at := checkTree(&root, reflect.TypeFor[Cluster]())
	if len(probs) > 0 {
		return nil, probs
	}
	var c Cluster
	if err := root.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		var vp Problems
		if errors.As(err, &vp) {
			return nil, vp.withLines(at)
		}
		return nil, err
	}
	return &c, nil
}

// withLines adds the line of each problem's field, where the file has it:
// "pops[1].edges[0].address (line 12): not an IP address".
func (p Problems) withLines(at lines) Problems {
	out := make(Problems, len(p))
	for i, msg := range p {
		out[i] = msg
		path, rest, ok := strings.Cut(msg, ": ")
		if !ok || strings.Contains(path, " ") {
			continue
		}
		if n := at.at(path); n > 0 {
			out[i] = fmt.Sprintf("%s (line %d): %s", path, n, rest)
		}
	}
	return out
}

// Marshal writes the cluster file as YAML.
func (c *Cluster) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
