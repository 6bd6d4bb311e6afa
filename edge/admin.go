package edge

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/selfcdn/cdn/lb"
)

// adminHandler serves /metrics, /healthz, /status and the HTML status
// page at exactly "/".
func (n *Node) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.adminAuth(promhttp.HandlerFor(n.registry, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /healthz", n.p.healthz)
	n.mu.Lock()
	for p, h := range n.adminExtra {
		mux.Handle(p, h)
	}
	n.mu.Unlock()
	mux.Handle("GET /status", n.adminAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.status())
	})))
	mux.Handle("GET /{$}", n.adminAuth(http.HandlerFunc(n.statusPage)))
	if n.cfg.Pprof {
		mux.Handle("/debug/pprof/", n.adminAuth(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", n.adminAuth(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("/debug/pprof/profile", n.adminAuth(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", n.adminAuth(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", n.adminAuth(http.HandlerFunc(pprof.Trace)))
	}
	return mux
}

// adminAuth requires AdminToken, when one is set: as a bearer token, or
// as the password of HTTP Basic authentication (any user name), so that a
// browser opening the status page asks for it.
func (n *Node) adminAuth(h http.Handler) http.Handler {
	if n.cfg.AdminToken == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !adminTokenOK(r, n.cfg.AdminToken) {
			w.Header().Add("WWW-Authenticate", `Bearer realm="cdn admin"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="cdn admin: any user, the admin token as password", charset="UTF-8"`)
			http.Error(w, "admin token required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// adminTokenOK reports whether r carries token, as a bearer token or as
// a Basic password, compared in constant time.
func adminTokenOK(r *http.Request, token string) bool {
	if _, pass, ok := r.BasicAuth(); ok {
		return subtle.ConstantTimeCompare([]byte(pass), []byte(token)) == 1
	}
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) == 1
}

// Status is the node's state as the admin /status endpoint reports it.
type Status struct {
	Name        string                        `json:"name"`
	Role        Role                          `json:"role"`
	MemoryBytes int64                         `json:"memory_bytes"`
	Upstreams   map[string][]lb.BackendStatus `json:"upstreams"`
}

func (n *Node) status() Status {
	st := Status{Name: n.cfg.Name, Role: n.cfg.Role, MemoryBytes: n.p.mem.Used(), Upstreams: map[string][]lb.BackendStatus{}}
	for _, set := range n.p.routes.Load().sets {
		st.Upstreams[set.name] = set.pool.Status()
	}
	return st
}
