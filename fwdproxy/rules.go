package fwdproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Rule is one access rule. Rules are tried in order and the first whose
// every condition holds decides (like Squid's http_access); a request no
// rule matches is denied. An empty condition matches everything.
type Rule struct {
	// Action is "allow" or "deny".
	Action string
	// Clients are the client address ranges the rule applies to.
	Clients []netip.Prefix
	// Users are authenticated user names; "*" is any authenticated user.
	Users []string
	// Groups are group names (see Config.Groups).
	Groups []string
	// Hosts are destination hosts: "example.com" exactly, ".example.com"
	// for it and every name below it, "~regexp" for a regular expression
	// matched against the whole lowercase host, or an IP literal.
	Hosts []string
	// Ports are destination ports or ranges ("443", "8000-8999"). An allow
	// rule without ports allows CONNECT to 443 only (the safe default of
	// a forward proxy); name other ports to tunnel to them.
	Ports []string
	// Methods are request methods, e.g. GET, CONNECT.
	Methods []string
	// Schemes are "http" (absolute-form requests) and "https" (CONNECT).
	Schemes []string
	// Private are address ranges that an allowed request may dial even
	// though they are loopback, private, link-local or otherwise special
	// (see Special). Empty: such destinations are refused after DNS.
	Private []netip.Prefix
	// ForwardedHeaders adds Via, X-Forwarded-For and Forwarded to requests
	// this rule allows (a transparent corporate setup). Default off: the
	// client's identity is hidden.
	ForwardedHeaders bool
	// Reason is the short text a deny rule sends with its 403.
	Reason string
}

// CheckRules reports every problem in rules, as Reload and New would.
func CheckRules(rules []Rule) error {
	_, err := compileRules(rules)
	return err
}

// ruleSet is a compiled, immutable rule list.
type ruleSet struct {
	rules []compiledRule
}

type compiledRule struct {
	Rule
	index   int
	exact   map[string]bool
	suffix  []string
	regexps []*regexp.Regexp
	ports   [][2]uint16
	methods map[string]bool
}

// request is what rules are matched against.
type request struct {
	client netip.Addr
	user   string
	groups []string
	target Target
	method string
}

// verdict is the outcome of matching a request against the rules.
type verdict struct {
	allow  bool
	rule   *compiledRule // nil when no rule matched
	reason string
}

func compileRules(rules []Rule) (*ruleSet, error) {
	rs := &ruleSet{}
	var errs []error
	for i, r := range rules {
		c := compiledRule{Rule: r, index: i, exact: map[string]bool{}, methods: map[string]bool{}}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("rules[%d]: "+format, append([]any{i}, args...)...))
		}
		if r.Action != "allow" && r.Action != "deny" {
			bad("action must be allow or deny, got %q", r.Action)
		}
		for _, h := range r.Hosts {
			switch {
			case strings.HasPrefix(h, "~"):
				re, err := regexp.Compile("^(?:" + h[1:] + ")$")
				if err != nil {
					bad("host regexp %q: %v", h, err)
					continue
				}
				c.regexps = append(c.regexps, re)
			case strings.HasPrefix(h, "."):
				s := strings.ToLower(strings.TrimSuffix(h, "."))
				if !validName(s[1:]) {
					bad("host suffix %q is not a domain", h)
				}
				c.suffix = append(c.suffix, s)
			default:
				if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
					c.exact[ip.String()] = true
					continue
				}
				s := strings.ToLower(strings.TrimSuffix(h, "."))
				if !validName(s) {
					bad("host %q is not a host name, .suffix, ~regexp or IP address", h)
				}
				c.exact[s] = true
			}
		}
		for _, p := range r.Ports {
			lo, hi, ok := strings.Cut(p, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.ParseUint(lo, 10, 16)
			b, err2 := strconv.ParseUint(hi, 10, 16)
			if err1 != nil || err2 != nil || a == 0 || a > b {
				bad("port %q is not a port or range such as 8000-8999", p)
				continue
			}
			c.ports = append(c.ports, [2]uint16{uint16(a), uint16(b)})
		}
		for _, m := range r.Methods {
			if m == "" || strings.ToUpper(m) != m {
				bad("method %q must be upper case, e.g. GET", m)
			}
			c.methods[m] = true
		}
		for _, s := range r.Schemes {
			if s != "http" && s != "https" {
				bad("scheme %q must be http or https", s)
			}
		}
		for _, u := range r.Users {
			if u == "" {
				bad("empty user name")
			}
		}
		if r.Action == "deny" && (len(r.Private) > 0 || r.ForwardedHeaders) {
			bad("private and forwarded_headers only apply to allow rules")
		}
		rs.rules = append(rs.rules, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

// match returns the first rule that matches q, or a denial if none does.
func (rs *ruleSet) match(q *request) verdict {
	for i := range rs.rules {
		r := &rs.rules[i]
		if !r.matches(q) {
			continue
		}
		if r.Action == "deny" {
			reason := r.Reason
			if reason == "" {
				reason = fmt.Sprintf("denied by rule %d", r.index)
			}
			return verdict{rule: r, reason: reason}
		}
		return verdict{allow: true, rule: r}
	}
	if q.method == "CONNECT" && q.target.Port != 443 {
		return verdict{reason: "CONNECT is allowed to port 443 only"}
	}
	return verdict{reason: "no rule allows this destination"}
}

func (r *compiledRule) matches(q *request) bool {
	if len(r.Clients) > 0 && !slices.ContainsFunc(r.Clients, func(p netip.Prefix) bool { return p.Contains(q.client.Unmap()) }) {
		return false
	}
	if len(r.Users) > 0 && !(q.user != "" && (slices.Contains(r.Users, "*") || slices.Contains(r.Users, q.user))) {
		return false
	}
	if len(r.Groups) > 0 && !slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(q.groups, g) }) {
		return false
	}
	if len(r.Methods) > 0 && !r.methods[q.method] {
		return false
	}
	if len(r.Schemes) > 0 && !slices.Contains(r.Schemes, q.target.Scheme) {
		return false
	}
	if len(r.ports) > 0 {
		if !slices.ContainsFunc(r.ports, func(pr [2]uint16) bool { return q.target.Port >= pr[0] && q.target.Port <= pr[1] }) {
			return false
		}
	} else if r.Action == "allow" && q.method == "CONNECT" && q.target.Port != 443 {
		return false
	}
	if len(r.Hosts) > 0 && !r.matchHost(q.target.Host) {
		return false
	}
	return true
}

func (r *compiledRule) matchHost(h string) bool {
	if r.exact[h] {
		return true
	}
	for _, s := range r.suffix {
		if h == s[1:] || strings.HasSuffix(h, s) {
			return true
		}
	}
	for _, re := range r.regexps {
		if re.MatchString(h) {
			return true
		}
	}
	return false
}

// allowsPrivate reports whether rule r lets a dial reach a.
func (r *compiledRule) allowsPrivate(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = a.Unmap()
	return slices.ContainsFunc(r.Private, func(p netip.Prefix) bool { return p.Contains(a) })
}
