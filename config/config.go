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
	// Cache sizes the memory and disk tiers of every edge and shield.
	Cache Cache `yaml:"cache"`
	// Upstream holds connection settings for requests to shields and origins.
	Upstream Upstream `yaml:"upstream"`
	// GeoDNS configures the authoritative DNS nodes.
	GeoDNS GeoDNS `yaml:"geodns"`
	// Purge configures the purge API and its message bus.
	Purge Purge `yaml:"purge"`
	// TLS configures HTTPS on edges.
	TLS TLS `yaml:"tls"`
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
}

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
	// MaxIdlePerHost is the keep-alive pool size per upstream. Default 256.
	MaxIdlePerHost int `yaml:"max_idle_per_host"`
	// Retries is how many other upstreams an idempotent request may try
	// after a failure. Default 2.
	Retries int `yaml:"retries"`
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
	dec.KnownFields(true)
	var c Cluster
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty cluster file")
		}
		return nil, fmt.Errorf("decode: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode: more than one YAML document")
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
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
