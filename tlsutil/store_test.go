package tlsutil

import (
	"context"
	"crypto/tls"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeFixture is a store over three sites: a.example.test (first, so
// the fallback), b.example.test, *.w.example.test, and an IP-only
// certificate for 127.0.0.1.
type storeFixture struct {
	ca    *testCA
	dir   string
	pairs map[string]Pair
	store *Store
	addr  string
}

func newStoreFixture(t *testing.T, cfg StoreConfig) *storeFixture {
	t.Helper()
	f := &storeFixture{ca: newTestCA(t), dir: t.TempDir(), pairs: map[string]Pair{}}
	f.pairs["a"] = f.ca.writePair(t, f.dir, "a", "a.example.test")
	f.pairs["b"] = f.ca.writePair(t, f.dir, "b", "b.example.test", "www.b.example.test")
	f.pairs["w"] = f.ca.writePair(t, f.dir, "w", "*.w.example.test")
	f.pairs["ip"] = f.ca.writePair(t, f.dir, "ip", "127.0.0.1")
	cfg.Certificates = []Pair{f.pairs["a"], f.pairs["b"], f.pairs["w"], f.pairs["ip"]}
	s, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.store = s
	f.addr = serveTLS(t, "", ServerConfig(s.GetCertificate, nil))
	return f
}

// served returns the leaf served for sni (no SNI if empty), without
// verifying it.
func (f *storeFixture) served(t *testing.T, sni string) string {
	t.Helper()
	st, err := handshake(f.addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with SNI %q: %v", sni, err)
	}
	return st.PeerCertificates[0].SerialNumber.String()
}

func (f *storeFixture) serial(t *testing.T, site string) string {
	t.Helper()
	b, err := os.ReadFile(f.pairs[site].CertFile)
	if err != nil {
		t.Fatal(err)
	}
	return leafOf(t, b).SerialNumber.String()
}

// TestStoreSNI checks certificate selection by SNI over real handshakes:
// exact names case-insensitively (RFC 6066 §3: host names compare
// case-insensitively), wildcards covering exactly one label (RFC 6125
// §6.4.3), IP SANs for handshakes without SNI, else the first pair.
func TestStoreSNI(t *testing.T) {
	f := newStoreFixture(t, StoreConfig{})
	tests := []struct {
		sni, want string
	}{
		{"a.example.test", "a"},
		{"b.example.test", "b"},
		{"WWW.B.Example.Test", "b"},
		{"x.w.example.test", "w"},
		{"X-1.W.EXAMPLE.TEST", "w"},
		{"w.example.test", "a"},       // a wildcard does not cover its parent
		{"y.x.w.example.test", "a"},   // nor two labels
		{"unknown.example.test", "a"}, // unknown names fall back to the first
		{"", "ip"},                    // no SNI: the certificate for the address dialled
	}
	for _, tt := range tests {
		t.Run(tt.sni, func(t *testing.T) {
			if got, want := f.served(t, tt.sni), f.serial(t, tt.want); got != want {
				t.Errorf("SNI %q: served serial %s, want %s (%s)", tt.sni, got, want, tt.want)
			}
		})
	}

	// A verifying client accepts what it gets for each configured name.
	for _, sni := range []string{"a.example.test", "www.b.example.test", "z.w.example.test"} {
		if _, err := handshake(f.addr, &tls.Config{ServerName: sni, RootCAs: f.ca.pool}); err != nil {
			t.Errorf("verified handshake for %s: %v", sni, err)
		}
	}
}

// TestStoreLookupNormalisation covers what a real client will not send:
// a trailing dot, and a hello without a connection.
func TestStoreLookupNormalisation(t *testing.T) {
	f := newStoreFixture(t, StoreConfig{})
	tests := []struct {
		hello *tls.ClientHelloInfo
		want  string
	}{
		{&tls.ClientHelloInfo{ServerName: "b.example.test."}, "b"},
		{&tls.ClientHelloInfo{ServerName: "q.w.example.test."}, "w"},
		{&tls.ClientHelloInfo{}, "a"},
		{nil, "a"},
		{&tls.ClientHelloInfo{ServerName: "."}, "a"},
		{&tls.ClientHelloInfo{ServerName: ".example.test"}, "a"},
		{&tls.ClientHelloInfo{ServerName: "\u212a.w.example.test"}, "a"}, // Kelvin sign is not "k"
		{&tls.ClientHelloInfo{ServerName: "*.w.example.test"}, "a"},      // a wildcard is not a label
		{&tls.ClientHelloInfo{ServerName: "a b.w.example.test"}, "a"},
	}
	for _, tt := range tests {
		c, err := f.store.GetCertificate(tt.hello)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Leaf.SerialNumber.String(), f.serial(t, tt.want); got != want {
			t.Errorf("hello %+v: got serial %s, want %s (%s)", tt.hello, got, want, tt.want)
		}
	}
}

// TestStoreFirstListedWins checks that when two pairs claim one name, the
// one listed first is served.
func TestStoreFirstListedWins(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	p1 := ca.writePair(t, dir, "one", "dup.example.test")
	p2 := ca.writePair(t, dir, "two", "dup.example.test")
	s, err := NewStore(StoreConfig{Certificates: []Pair{p2, p1}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "dup.example.test"})
	if got := s.Certificates()[0].SerialNumber; c.Leaf.SerialNumber.Cmp(got) != 0 {
		t.Errorf("served %s, want the first listed %s", c.Leaf.SerialNumber, got)
	}
}

// TestNewStoreErrors checks that a bad pair is refused with an error that
// names the file at fault.
func TestNewStoreErrors(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	good := ca.writePair(t, dir, "good", "good.example.test")
	other := ca.writePair(t, dir, "other", "other.example.test")
	garbage := dir + "/garbage.pem"
	writeFile(t, garbage, []byte("not a pem file\n"))
	tests := []struct {
		name     string
		pairs    []Pair
		wantFile string
	}{
		{"no pairs", nil, "certificates"},
		{"empty key name", []Pair{{CertFile: good.CertFile}}, "certificates[0].key"},
		{"missing cert", []Pair{{CertFile: dir + "/missing.pem", KeyFile: good.KeyFile}}, dir + "/missing.pem"},
		{"missing key", []Pair{good, {CertFile: good.CertFile, KeyFile: dir + "/nokey.pem"}}, dir + "/nokey.pem"},
		{"garbage cert", []Pair{{CertFile: garbage, KeyFile: good.KeyFile}}, garbage},
		{"garbage key", []Pair{{CertFile: good.CertFile, KeyFile: garbage}}, garbage},
		{"key swapped with cert", []Pair{{CertFile: good.KeyFile, KeyFile: good.CertFile}}, good.KeyFile},
		{"mismatched key", []Pair{{CertFile: good.CertFile, KeyFile: other.KeyFile}}, other.KeyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewStore(StoreConfig{Certificates: tt.pairs})
			if err == nil {
				t.Fatal("NewStore succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantFile) {
				t.Errorf("error %q does not name %s", err, tt.wantFile)
			}
		})
	}
}

// TestStoreWatchReload rewrites a site's files and waits for Watch to
// serve the new certificate, including when the certificate is written
// before its key (the pair is invalid in between).
func TestStoreWatchReload(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newStoreFixture(t, StoreConfig{Registerer: reg, MetricLabels: prometheus.Labels{"node": "edge-1"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.store.Watch(ctx, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })

	before := f.served(t, "b.example.test")
	certPEM, keyPEM := f.ca.issue(t, "b.example.test")
	want := leafOf(t, certPEM).SerialNumber.String()

	// Certificate first: it does not match the old key, so the reload
	// fails and the old certificate stays.
	writeFile(t, f.pairs["b"].CertFile, certPEM)
	waitFor(t, "failed reload counted", func() bool {
		return metricValue(t, reg, "cdn_tls_reloads_total", "result", "error") >= 1
	})
	if got := f.served(t, "b.example.test"); got != before {
		t.Fatalf("after a half-written pair, served %s, want the old %s", got, before)
	}

	// Then the key: the next poll reloads.
	writeFile(t, f.pairs["b"].KeyFile, keyPEM)
	waitFor(t, "new certificate served", func() bool { return f.served(t, "b.example.test") == want })
	if got := f.served(t, "a.example.test"); got != f.serial(t, "a") {
		t.Errorf("other site changed: %s", got)
	}
	if got := metricValue(t, reg, "cdn_tls_reloads_total", "result", "ok"); got != 1 {
		t.Errorf("cdn_tls_reloads_total{result=ok} = %v, want 1", got)
	}
}

// TestStoreReloadBadFileKeepsOld checks that a bad new file keeps the old
// certificate and that the error names the file.
func TestStoreReloadBadFileKeepsOld(t *testing.T) {
	f := newStoreFixture(t, StoreConfig{})
	before := f.served(t, "a.example.test")
	writeFile(t, f.pairs["a"].CertFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"))
	newB, newBKey := f.ca.issue(t, "b.example.test")
	writeFile(t, f.pairs["b"].CertFile, newB)
	writeFile(t, f.pairs["b"].KeyFile, newBKey)

	err := f.store.Reload()
	if err == nil || !strings.Contains(err.Error(), f.pairs["a"].CertFile) {
		t.Fatalf("Reload error %v does not name %s", err, f.pairs["a"].CertFile)
	}
	if got := f.served(t, "a.example.test"); got != before {
		t.Errorf("served %s after a bad reload, want the old %s", got, before)
	}
	// The good pair was still updated.
	if got, want := f.served(t, "b.example.test"), leafOf(t, newB).SerialNumber.String(); got != want {
		t.Errorf("b: served %s, want the reloaded %s", got, want)
	}
	// Removing the file behaves the same.
	if err := os.Remove(f.pairs["a"].KeyFile); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Reload(); err == nil || !strings.Contains(err.Error(), f.pairs["a"].KeyFile) {
		t.Errorf("Reload error %v does not name %s", err, f.pairs["a"].KeyFile)
	}
	if got := f.served(t, "a.example.test"); got != before {
		t.Errorf("served %s after a missing key, want the old %s", got, before)
	}
}

// TestStoreMetrics checks the expiry gauge and the fallback counter.
func TestStoreMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newStoreFixture(t, StoreConfig{Registerer: reg})
	f.served(t, "nobody.example.test")
	if got := metricValue(t, reg, "cdn_tls_sni_fallback_total", "", ""); got != 1 {
		t.Errorf("cdn_tls_sni_fallback_total = %v, want 1", got)
	}
	want := float64(f.store.Certificates()[1].NotAfter.Unix())
	if got := metricValue(t, reg, "cdn_tls_certificate_not_after_seconds", "name", "b.example.test"); got != want {
		t.Errorf("cdn_tls_certificate_not_after_seconds{name=b.example.test} = %v, want %v", got, want)
	}
	if got := metricValue(t, reg, "cdn_tls_certificate_not_after_seconds", "cert_file", f.pairs["w"].CertFile); got <= 0 {
		t.Errorf("no expiry series for %s", f.pairs["w"].CertFile)
	}
}

// metricValue returns the value of the series of name that has the label
// key=value (any series when key is empty), or -1 if there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name, key, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := key == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == key && l.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// waitFor polls cond until it holds or 10 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
