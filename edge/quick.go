package edge

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
)

// QuickOptions describe a node without a cluster file (quick mode, `cdn
// edge --listen --origin`): one edge in front of one origin, for every
// host. The fields are the command's quick-mode flags.
type QuickOptions struct {
	Name   string // node name (Cache-Status, Via, CDN-Loop); default "edge-1"
	Listen string // HTTP listen address. Required.
	Origin string // the origin's base URL. Required.
	Admin  string // admin listen address; empty: none

	Memory   int64  // memory tier budget; 0: the default
	DiskDir  string // disk tier folder; empty: memory only
	DiskSize int64  // most bytes the disk tier holds; 0: the default

	// TrustedProxies are proxies in front whose forwarding fields are
	// believed.
	TrustedProxies []netip.Prefix

	// HTTPS on TLSListen, with certificates from one of: TLSCert and
	// TLSKey; a development CA in TLSDir (SelfSigned); or an ACME CA
	// (ACME.Hosts set; challenges on Listen and TLSListen).
	TLSListen, TLSCert, TLSKey string
	SelfSigned                 bool
	TLSDir                     string
	ACME                       ACMEOptions

	// Token guards the purge API (empty: it refuses every purge and says
	// so); with ProtectAdmin, /metrics and /status too.
	Token        string
	ProtectAdmin bool
	// NoPurge leaves the admin listener without the purge API.
	NoPurge bool

	Logger    *slog.Logger
	AccessLog bool
	// Adjust, if non-nil, may change the Config before the node is built
	// (the command line's overrides shared with cluster nodes).
	Adjust func(*Config)
	// OnTLS, if non-nil, is told of the TLS setup (to print the
	// development CA's path).
	OnTLS func(*TLSSetup)
}

// QuickOptionError is NewQuick's error for options that are missing or
// cannot go together; it names the `cdn edge` flags they come from.
type QuickOptionError string

func (e QuickOptionError) Error() string { return string(e) }

// NewQuick builds a quick-mode node: its Config (QuickConfig and the
// options), its certificates, and a purge API for itself alone (a purge
// bus of its own in the process). `cdn edge --listen --origin` builds its
// node here, as cluster nodes are built by NewFromCluster.
func NewQuick(o QuickOptions) (*Node, error) {
	if o.Listen == "" || o.Origin == "" {
		return nil, QuickOptionError("--listen and --origin are required in quick mode")
	}
	if o.Name == "" {
		o.Name = "edge-1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := QuickConfig(o.Name, o.Listen, o.Origin)
	cfg.Admin = o.Admin
	if o.Memory > 0 {
		cfg.Memory = o.Memory
	}
	cfg.TrustedProxies = o.TrustedProxies
	if o.DiskDir != "" {
		cfg.DiskDir, cfg.DiskSize = o.DiskDir, o.DiskSize
	}
	cfg.TLSListen, cfg.TLSCert, cfg.TLSKey = o.TLSListen, o.TLSCert, o.TLSKey
	if o.Adjust != nil {
		o.Adjust(&cfg)
	}
	ts, err := quickTLS(&cfg, o)
	if err != nil {
		return nil, err
	}
	if ts != nil && o.OnTLS != nil {
		o.OnTLS(ts)
	}
	cfg.AccessLog, cfg.Logger = o.AccessLog, o.Logger
	if o.ProtectAdmin {
		if o.Token == "" {
			return nil, QuickOptionError("--protect-admin needs an admin token")
		}
		cfg.AdminToken = o.Token
	}
	n, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Admin != "" && !o.NoPurge {
		if err := n.AttachLocalPurge(o.Token); err != nil {
			n.p.close()
			return nil, err
		}
	}
	if ts != nil {
		n.addTLSJobs(ts)
	}
	return n, nil
}

// quickTLS sets up HTTPS for a quick-mode node: files, a development CA,
// or ACME.
func quickTLS(cfg *Config, o QuickOptions) (*TLSSetup, error) {
	bad := func(msg string) error { return QuickOptionError(msg) }
	acme := len(o.ACME.Hosts) > 0
	switch {
	case acme && (cfg.TLSListen == "" || o.SelfSigned || o.TLSCert != ""):
		return nil, bad("--acme-hosts needs --tls-listen, and excludes --self-signed and --tls-cert")
	case acme:
		a := o.ACME
		a.HTTPAddr, a.TLSAddr = cfg.Listen, cfg.TLSListen
		if a.Logger == nil {
			a.Logger = o.Logger
		}
		ts, err := ACMETLS(a)
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig, cfg.WrapHTTP = ts.Config, ts.WrapHTTP
		return ts, nil
	case o.SelfSigned && cfg.TLSListen == "":
		return nil, bad("--self-signed needs --tls-listen")
	case o.SelfSigned && (o.TLSCert != "" || o.TLSKey != ""):
		return nil, bad("--self-signed and --tls-cert/--tls-key are exclusive")
	case o.SelfSigned:
		host, _, err := net.SplitHostPort(cfg.TLSListen)
		if err != nil {
			return nil, bad(fmt.Sprintf("--tls-listen %q: %v", cfg.TLSListen, err))
		}
		hosts := []string{"localhost", "127.0.0.1"}
		if host != "" && host != "0.0.0.0" && host != "::" {
			hosts = append(hosts, host)
		}
		dir := o.TLSDir
		if dir == "" {
			dir = "cdn-tls"
		}
		ts, err := SelfSignedTLS(dir, hosts, o.Logger)
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig = ts.Config
		return ts, nil
	case cfg.TLSListen != "" && cfg.TLSConfig == nil && (o.TLSCert == "" || o.TLSKey == ""):
		return nil, bad("--tls-listen needs --tls-cert and --tls-key, or --self-signed")
	}
	return nil, nil
}
