package fwdproxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// servePAC writes a proxy auto-config file (the FindProxyForURL function
// browsers evaluate): plain host names and Config.PACDirect go direct,
// everything else through this proxy. It returns the bytes written.
func (p *Proxy) servePAC(w http.ResponseWriter, r *http.Request) int64 {
	proxy := p.cfg.PACProxy
	if proxy == "" {
		proxy = r.Host
	}
	var b strings.Builder
	b.WriteString("function FindProxyForURL(url, host) {\n")
	b.WriteString("  if (isPlainHostName(host)) return \"DIRECT\";\n")
	for _, d := range p.cfg.PACDirect {
		d = strings.ToLower(d)
		if strings.HasPrefix(d, ".") {
			fmt.Fprintf(&b, "  if (dnsDomainIs(host, %s) || host == %s) return \"DIRECT\";\n", strconv.Quote(d), strconv.Quote(d[1:]))
		} else {
			fmt.Fprintf(&b, "  if (host == %s) return \"DIRECT\";\n", strconv.Quote(d))
		}
	}
	fmt.Fprintf(&b, "  return %s;\n}\n", strconv.Quote("PROXY "+proxy))
	h := w.Header()
	h.Set("Content-Type", "application/x-ns-proxy-autoconfig")
	h.Set("Cache-Control", "max-age=300")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	if r.Method == http.MethodHead {
		return 0
	}
	n, _ := w.Write([]byte(b.String()))
	return int64(n)
}
