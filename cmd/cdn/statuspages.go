package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/selfcdn/cdn/fwdproxy"
	"github.com/selfcdn/cdn/l4"
	"github.com/selfcdn/cdn/statuspage"
)

// l4StatusPage serves a balancer's admin "/": its backends.
func l4StatusPage(name string, b *l4.Balancer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sec := statuspage.Section{
			Title:   "Backends",
			Columns: []string{"Backend", "Address", "Available", "Healthy", "Ejected", "Ejections", "Flows", "Last probe error"},
			Empty:   "no backends",
		}
		for _, s := range b.Backends() {
			sec.Rows = append(sec.Rows, statuspage.Row{Bad: !s.Available, Cells: []string{
				s.Name, s.Addr, statuspage.YesNo(s.Available), statuspage.YesNo(s.Healthy), statuspage.YesNo(s.Ejected),
				strconv.FormatInt(s.Ejections, 10), strconv.FormatInt(s.Inflight, 10), s.LastProbeError,
			}})
		}
		statuspage.Serve(w, statuspage.Page{Role: "l4", Node: name, Version: statuspage.Version(),
			Uptime: statuspage.ProcessUptime(), Sections: []statuspage.Section{sec}})
	}
}

// proxyStatusPage serves a forward proxy's admin "/": tunnels and rules.
func proxyStatusPage(name string, p *fwdproxy.Proxy) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := p.Status()
		tunnels := statuspage.Section{Title: "Tunnels", Columns: []string{"Open"},
			Rows: []statuspage.Row{{Cells: []string{strconv.FormatInt(st.TunnelsOpen, 10)}}}}
		rules := statuspage.Section{
			Title:   "Access rules (first match wins)",
			Columns: []string{"#", "Action", "Clients", "Users / groups", "Hosts", "Ports", "Methods", "Schemes"},
			Empty:   "no rules: everything is denied",
		}
		join := func(ss []string) string {
			if len(ss) == 0 {
				return "any"
			}
			return strings.Join(ss, " ")
		}
		for i, r := range st.Rules {
			var clients []string
			for _, c := range r.Clients {
				clients = append(clients, c.String())
			}
			rules.Rows = append(rules.Rows, statuspage.Row{Bad: r.Action == "deny", Cells: []string{
				fmt.Sprint(i), r.Action, join(clients), join(append(append([]string(nil), r.Users...), r.Groups...)),
				join(r.Hosts), join(r.Ports), join(r.Methods), join(r.Schemes),
			}})
		}
		statuspage.Serve(w, statuspage.Page{Role: "proxy", Node: name, Version: statuspage.Version(),
			Uptime: statuspage.ProcessUptime(), Sections: []statuspage.Section{tunnels, rules}})
	}
}

// statusName is the node's name, or def in quick mode.
func statusName(node, def string) string {
	if node != "" {
		return node
	}
	return def
}
