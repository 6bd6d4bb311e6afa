package fwdproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Target is where a client asked the proxy to go: the scheme ("http" for
// absolute-form requests, "https" for CONNECT tunnels), the host as a
// lowercase name or IP literal, and the port.
type Target struct {
	Scheme string
	Host   string
	Port   uint16
	// IP is set when Host is an IP literal.
	IP netip.Addr
}

// Authority is host:port with IPv6 literals in brackets.
func (t Target) Authority() string {
	if t.IP.Is6() {
		return "[" + t.Host + "]:" + strconv.Itoa(int(t.Port))
	}
	return t.Host + ":" + strconv.Itoa(int(t.Port))
}

var errEmptyHost = errors.New("empty host")

// ParseAuthority parses a CONNECT request-target (RFC 9110 §9.3.6: the
// authority-form host:port, port required). It refuses userinfo, paths,
// zones in IPv6 literals, ports outside 1-65535 and host names that are
// not DNS names, so that what the rules see is what is dialled.
func ParseAuthority(s string) (Target, error) {
	host, port, err := splitHostPort(s)
	if err != nil {
		return Target{}, fmt.Errorf("CONNECT target %q: %w", s, err)
	}
	if port == "" {
		return Target{}, fmt.Errorf("CONNECT target %q: port required", s)
	}
	return newTarget("https", host, port, s)
}

// parseAbsolute turns the URL of an absolute-form request (RFC 9112
// §3.2.2) into a Target. Only http is proxied this way; https goes
// through CONNECT.
func parseAbsolute(u *url.URL) (Target, error) {
	if u.Scheme != "http" {
		return Target{}, fmt.Errorf("request target %q: scheme %q is not proxied (use CONNECT for https)", u.String(), u.Scheme)
	}
	if u.User != nil {
		return Target{}, fmt.Errorf("request target %q: userinfo is not allowed", u.Redacted())
	}
	host, port, err := splitHostPort(u.Host)
	if err != nil {
		return Target{}, fmt.Errorf("request target host %q: %w", u.Host, err)
	}
	if port == "" {
		port = "80"
	}
	return newTarget("http", host, port, u.Host)
}

// splitHostPort splits host[:port] where host may be a bracketed IPv6
// literal; port is "" when absent.
func splitHostPort(s string) (host, port string, err error) {
	if s == "" {
		return "", "", errEmptyHost
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '/' || c == '@' || c == '?' || c == '#' || c == '%' || c == '\\' {
			return "", "", fmt.Errorf("invalid character %q", c)
		}
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("missing ] in IPv6 literal")
		}
		host, rest := s[1:end], s[end+1:]
		switch {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
			if port == "" {
				return "", "", errors.New("empty port")
			}
		default:
			return "", "", errors.New("junk after IPv6 literal")
		}
		if host == "" {
			return "", "", errEmptyHost
		}
		return host, port, nil
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if strings.IndexByte(host, ':') >= 0 {
			return "", "", errors.New("IPv6 literal must be in brackets")
		}
		if port == "" {
			return "", "", errors.New("empty port")
		}
	} else {
		host = s
	}
	if host == "" {
		return "", "", errEmptyHost
	}
	return host, port, nil
}

func newTarget(scheme, host, port, orig string) (Target, error) {
	t := Target{Scheme: scheme}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 || port[0] == '+' || port[0] == '-' {
			return Target{}, fmt.Errorf("target %q: port %q is not 1-65535", orig, port)
		}
		t.Port = uint16(n)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return Target{}, fmt.Errorf("target %q: IPv6 zones are not allowed", orig)
		}
		t.IP, t.Host = ip, ip.String()
		return t, nil
	}
	if strings.Contains(host, ":") {
		return Target{}, fmt.Errorf("target %q: not an IP address: %q", orig, host)
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if !validName(h) {
		return Target{}, fmt.Errorf("target %q: not a host name: %q", orig, host)
	}
	t.Host = h
	return t, nil
}

// validName reports whether s is a DNS host name: dot-separated labels of
// letters, digits, '-' and '_', none empty or longer than 63, at most 253
// bytes in all.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0
}
