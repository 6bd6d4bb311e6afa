package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/selfcdn/cdn/cache"
	"github.com/selfcdn/cdn/purge"
)

// PurgeOptions connect a node to the purge bus.
type PurgeOptions struct {
	// URLs of the NATS servers.
	URLs []string
	// Stream is the JetStream stream; empty means purge.DefaultStream.
	Stream string
	// Token guards the admin purge API; empty refuses every purge (503).
	Token string
	// Timeout is how long the API waits for every node to confirm.
	Timeout time.Duration
	// Logger defaults to the node's; the purge node and API add the
	// node's name to every line themselves.
	Logger *slog.Logger
}

// AttachPurge makes the node a member of the purge bus: a durable
// consumer applies every purge to this node's rules (ApplyPurge), and the
// admin listener serves the purge API (POST /purge, GET /purge/{id}).
// While the node is not in sync with the bus (starting, or cut off from
// NATS), cached content is revalidated before use rather than served as
// is, so a purge it may have missed cannot leave old content in service.
// Call it before Run, which then runs the consumer for as long as the
// node runs.
func (n *Node) AttachPurge(o PurgeOptions) error {
	if o.Logger == nil {
		o.Logger = n.cfg.Logger
	}
	node, err := purge.NewNode(purge.NodeConfig{
		Name:   n.cfg.Name,
		Role:   string(n.cfg.Role),
		URLs:   o.URLs,
		Stream: o.Stream,
		Apply: func(ev purge.Event) error {
			err := n.ApplyPurge(ev)
			n.p.purges.add(ev, n.cfg.Now(), err)
			return err
		},
		// Cached content survives restarts only with a disk tier; rules do
		// not, so such a node rebuilds them from the whole log.
		ReplayAll:  n.p.disk != nil,
		LogHorizon: n.p.inv.SetHorizon,
		Logger:     o.Logger,
		Registerer: n.reg,
		Now:        n.cfg.Now,
	})
	if err != nil {
		return err
	}
	api, err := purge.NewAPI(purge.APIConfig{
		Token:      o.Token,
		URLs:       o.URLs,
		Stream:     o.Stream,
		Timeout:    o.Timeout,
		ValidURL:   n.p.validPurgeURL,
		ValidSite:  n.p.validPurgeSite,
		Name:       n.cfg.Name,
		Logger:     o.Logger,
		Registerer: n.reg,
		Now:        n.cfg.Now,
	})
	if err != nil {
		return err
	}
	n.HandleAdmin("/purge", api)
	n.HandleAdmin("/purge/", api)
	n.p.store.SetSynced(node.Synced)
	n.mu.Lock()
	n.background = append(n.background, func(ctx context.Context) {
		defer api.Close()
		if err := node.Run(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("purge consumer stopped", "err", err)
		}
	})
	n.mu.Unlock()
	return nil
}

// HandleAdmin adds a handler to the admin listener. Call it before Run.
func (n *Node) HandleAdmin(pattern string, h http.Handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.adminExtra == nil {
		n.adminExtra = map[string]http.Handler{}
	}
	n.adminExtra[pattern] = h
}

// ApplyPurge installs the rules of a purge event: for URLs and prefixes
// in both schemes and under each site's cache-key options, for tags, and
// for whole sites. Content that left the origin at or before the event's
// time is gone (or stale, for a soft purge) on this node from now on.
func (s *Proxy) ApplyPurge(ev purge.Event) error {
	rule := cache.Rule{At: ev.Time, Soft: ev.Soft}
	if ev.Time.IsZero() {
		return errors.New("purge event without a time")
	}
	var errs []error
	for _, raw := range ev.URLs {
		u, st, err := s.purgeTarget(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, scheme := range []string{"http", "https"} {
			key := cache.PrimaryKey(scheme, s.siteHost(st, u.Host), u.EscapedPath(), u.RawQuery, st.Key)
			s.inv.PurgeKey(key, rule)
			if !ev.Soft {
				s.store.Remove(key) // free the space now; the rule covers every other copy
			}
		}
	}
	for _, raw := range ev.Prefixes {
		u, st, err := s.purgeTarget(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, scheme := range []string{"http", "https"} {
			p := cache.PrimaryKey(scheme, s.siteHost(st, u.Host), u.EscapedPath(), "", cache.KeyOptions{})
			if u.RawQuery != "" || u.ForceQuery {
				p += "?" + u.RawQuery
			}
			s.inv.PurgePrefix(p, rule)
		}
	}
	for _, t := range ev.Tags {
		s.inv.PurgeTag(t, rule)
	}
	for _, h := range ev.Sites {
		st := s.route(h)
		if st == nil {
			errs = append(errs, fmt.Errorf("site %q is not served here", h))
			continue
		}
		s.inv.PurgeSite(s.siteHost(st, h), rule)
	}
	return errors.Join(errs...)
}

// siteHost is the host under which a site's objects are stored: the
// site's canonical host, or for the quick-mode wildcard site the host
// itself.
func (s *Proxy) siteHost(st *site, host string) string {
	if st.Host == "*" {
		return hostOnly(host)
	}
	return st.Host
}

func (s *Proxy) purgeTarget(raw string) (*url.URL, *site, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, nil, fmt.Errorf("purge URL %q: not an absolute URL", raw)
	}
	st := s.route(u.Host)
	if st == nil {
		return nil, nil, fmt.Errorf("purge URL %q: no site for host %q", raw, hostOnly(u.Host))
	}
	return u, st, nil
}

func (s *Proxy) validPurgeURL(raw string) error {
	_, _, err := s.purgeTarget(raw)
	return err
}

func (s *Proxy) validPurgeSite(host string) error {
	if s.route(host) == nil {
		return fmt.Errorf("no site %q", host)
	}
	return nil
}
