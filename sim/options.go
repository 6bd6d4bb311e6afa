package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfcdn/cdn/config"
)

// Options configure a simulation. The zero value runs the default topology
// on the default ports in $TMPDIR/cdn-sim.
type Options struct {
	// Cluster is the cluster file to run; every edge, shield and GeoDNS
	// node of it is started in-process, and origin servers at
	// OriginAddress are served by the project's origin. If nil,
	// DefaultCluster(opts) is used. Start works on a copy.
	Cluster *config.Cluster
	// HTTPPort, AdminPort and DNSPort are the ports of the default
	// topology (ignored with Cluster). Defaults 8080, 9090, 5353.
	HTTPPort, AdminPort, DNSPort int
	// TLS turns on HTTPS and HTTP/3 for the default topology, with
	// certificates from a development CA made in WorkDir/tls.
	TLS bool
	// L4 puts two layer-4 balancers (cdn l4) in front of each PoP's edges
	// in the default topology, with PROXY protocol toward the edges, and
	// GeoDNS answers with the balancers' addresses.
	L4 bool
	// HTTPSPort is the edges' HTTPS (and HTTP/3) port with TLS. Default 8443.
	HTTPSPort int
	// NATSPort is the embedded purge bus's port in the default topology.
	// Default 4222.
	NATSPort int
	// WorkDir holds the generated GeoIP database and the endpoints file.
	// Default $TMPDIR/cdn-sim. It is created if missing.
	WorkDir string
	// EndpointsFile is where Start writes the endpoints file (JSON, see
	// package endpoints). Default WorkDir/endpoints.json.
	EndpointsFile string
	// GeoIP, when set, is a City database used instead of generating one.
	GeoIP string
	// Regions are the client networks written into the generated GeoIP
	// database. Default: DefaultRegions for the default topology,
	// RegionsFor(Cluster) otherwise.
	Regions []Region
	// Latency is the added round-trip time per 1000 km of great-circle
	// distance on the links edge→shield, edge→origin and shield→origin
	// (e.g. 20ms). Zero adds none.
	Latency time.Duration
	// LinkDelay, if set, replaces the distance model: it returns the
	// one-way delay of the link from node from to upstream to (a shield's
	// node name or an origin pool's name). Returning 0 leaves the link
	// direct. It is called once per link at start and must not block.
	LinkDelay func(from, to string) time.Duration
	// Places are the locations of shields and origin pools by name, for
	// the distance model; edges are at their PoP. Default: the default
	// topology's places (shield-1 and the origin in Ashburn, shield-2 in
	// Frankfurt). A link whose ends have no known place gets no delay.
	Places map[string]config.Location
	// AdminToken is the admin API's bearer token. Default: the variable
	// named by the cluster's purge.token_env (CDN_ADMIN_TOKEN), else a
	// random token made at start.
	AdminToken string
	// Purge, if set, is run once every node is ready (for example to
	// drive purges in a test); it runs until ctx is done and must return
	// promptly after. The purge bus itself starts before the nodes (the
	// embedded NATS server unless the cluster file names NATS URLs).
	Purge func(ctx context.Context, cl *config.Cluster) error
	// Logger receives every node's logs. If nil, logs are discarded.
	Logger *slog.Logger
	// Registerer receives every node's metrics, each wrapped with a
	// node label. If nil, metrics are kept only on each node's admin
	// listener.
	Registerer prometheus.Registerer
	// AccessLog logs every request of every edge and shield.
	AccessLog bool
	// ReadyTimeout bounds the wait for every node to listen. Default 20s.
	ReadyTimeout time.Duration
}

func (o *Options) applyDefaults() {
	if o.HTTPPort == 0 {
		o.HTTPPort = DefaultHTTPPort
	}
	if o.AdminPort == 0 {
		o.AdminPort = DefaultAdminPort
	}
	if o.DNSPort == 0 {
		o.DNSPort = DefaultDNSPort
	}
	if o.HTTPSPort == 0 {
		o.HTTPSPort = 8443
	}
	if o.NATSPort == 0 {
		o.NATSPort = DefaultNATSPort
	}
	if o.WorkDir == "" {
		o.WorkDir = DefaultWorkDir()
	}
	if o.Places == nil {
		o.Places = defaultPlaces
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 20 * time.Second
	}
}

// Validate reports every problem in the options, each naming its field.
func (o *Options) Validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		v    int
	}{{"HTTPPort", o.HTTPPort}, {"AdminPort", o.AdminPort}, {"DNSPort", o.DNSPort}, {"NATSPort", o.NATSPort}, {"HTTPSPort", o.HTTPSPort}} {
		if p.v < 0 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("%s: must be a port number 1-65535, got %d", p.name, p.v))
		}
	}
	if o.HTTPPort != 0 && o.HTTPPort == o.AdminPort {
		errs = append(errs, fmt.Errorf("AdminPort: must differ from HTTPPort (%d)", o.HTTPPort))
	}
	if o.Latency < 0 {
		errs = append(errs, fmt.Errorf("Options.Latency: must not be negative, got %s", o.Latency))
	}
	for i, r := range o.Regions {
		if !r.Network.IsValid() || !r.Network.Addr().Is4() || !r.Network.Addr().IsLoopback() {
			errs = append(errs, fmt.Errorf("Regions[%d].Network: want an IPv4 loopback network such as 127.1.0.0/16, got %s", i, r.Network))
		}
	}
	if o.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("ReadyTimeout: must not be negative"))
	}
	return errors.Join(errs...)
}

// DefaultWorkDir is $TMPDIR/cdn-sim.
func DefaultWorkDir() string { return filepath.Join(os.TempDir(), "cdn-sim") }

// geoIPPath is where the database is read from: GeoIP if set, else the
// generated file in the work dir.
func (o *Options) geoIPPath() string {
	if o.GeoIP != "" {
		return o.GeoIP
	}
	return filepath.Join(o.WorkDir, "geoip-city.mmdb")
}

// EndpointsPath is where Start writes the endpoints file: EndpointsFile,
// else endpoints.json in the work dir.
func (o *Options) EndpointsPath() string {
	if o.EndpointsFile != "" {
		return o.EndpointsFile
	}
	wd := o.WorkDir
	if wd == "" {
		wd = DefaultWorkDir()
	}
	return filepath.Join(wd, "endpoints.json")
}

// adminToken returns the token to use: AdminToken, the cluster's token or
// its variable, else 32 random hex digits.
func (o *Options) adminToken(cl *config.Cluster) (string, error) {
	if o.AdminToken != "" {
		return o.AdminToken, nil
	}
	if t := cl.AdminToken(); t != "" {
		return t, nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make admin token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
