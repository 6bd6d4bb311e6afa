package fwdproxy

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/selfcdn/cdn/config"
)

// RulesFromConfig turns the cluster file's proxies.rules into Rules. An
// empty list gives nil (DefaultRules).
func RulesFromConfig(rules []config.ProxyRule) ([]Rule, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	var errs []error
	out := make([]Rule, 0, len(rules))
	prefixes := func(i int, field string, in []string) []netip.Prefix {
		var ps []netip.Prefix
		for j, s := range in {
			p, err := config.ParsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("rules[%d].%s[%d]: %q: %w", i, field, j, s, err))
				continue
			}
			ps = append(ps, p)
		}
		return ps
	}
	for i, r := range rules {
		out = append(out, Rule{
			Action:           r.Action,
			Clients:          prefixes(i, "clients", r.Clients),
			Users:            r.Users,
			Groups:           r.Groups,
			Hosts:            r.Hosts,
			Ports:            r.Ports,
			Methods:          r.Methods,
			Schemes:          r.Schemes,
			Private:          prefixes(i, "private", r.Private),
			ForwardedHeaders: r.ForwardedHeaders,
			Reason:           r.Reason,
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if _, err := compileRules(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ConfigFromCluster returns the Config of a proxy node described by the
// cluster file's proxies section: rules, groups, authentication, limits
// and PAC. The caller adds the cache, loggers, registry and clock.
func ConfigFromCluster(p config.Proxies, name string) (Config, error) {
	rules, err := RulesFromConfig(p.Rules)
	if err != nil {
		return Config{}, fmt.Errorf("proxies.%w", err)
	}
	return Config{
		Name:              name,
		Rules:             rules,
		Groups:            p.Groups,
		Htpasswd:          p.Htpasswd,
		Realm:             p.Realm,
		AuthFailures:      p.AuthFailures,
		AuthWindow:        p.AuthWindow.D(),
		DialTimeout:       p.DialTimeout.D(),
		HeaderTimeout:     p.HeaderTimeout.D(),
		MaxConnsPerClient: p.MaxConnsPerClient,
		MaxTunnels:        p.MaxTunnels,
		TunnelIdleTimeout: p.TunnelIdleTimeout.D(),
		PACProxy:          p.PAC.Proxy,
		PACDirect:         p.PAC.Direct,
	}, nil
}
