package tlsutil

import (
	"github.com/prometheus/client_golang/prometheus"
)

// storeCollector exports a Store's state at scrape time, so that the
// hot path only bumps atomics and no gauge needs updating on reload.
type storeCollector struct {
	s         *Store
	notAfter  *prometheus.Desc
	reloads   *prometheus.Desc
	fallbacks *prometheus.Desc
}

var _ prometheus.Collector = (*storeCollector)(nil)

func newStoreCollector(s *Store, labels prometheus.Labels) *storeCollector {
	return &storeCollector{
		s: s,
		notAfter: prometheus.NewDesc("cdn_tls_certificate_not_after_seconds",
			"Expiry (Unix time) of each served certificate, by certificate file and first name.",
			[]string{"cert_file", "name"}, labels),
		reloads: prometheus.NewDesc("cdn_tls_reloads_total",
			"Certificate reloads, by result: ok (a certificate changed) or error (a pair failed to load and kept its previous certificate).",
			[]string{"result"}, labels),
		fallbacks: prometheus.NewDesc("cdn_tls_sni_fallback_total",
			"Handshakes whose SNI was absent or matched no certificate and got the first certificate.",
			nil, labels),
	}
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.notAfter
	ch <- c.reloads
	ch <- c.fallbacks
}

// Collect implements prometheus.Collector.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.s.idx.Load().entries {
		leaf := e.cert.Leaf
		name := leaf.Subject.CommonName
		if len(leaf.DNSNames) > 0 {
			name = leaf.DNSNames[0]
		}
		ch <- prometheus.MustNewConstMetric(c.notAfter, prometheus.GaugeValue,
			float64(leaf.NotAfter.Unix()), e.pair.CertFile, name)
	}
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(c.s.reloadsOK.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(c.s.reloadsFailed.Load()), "error")
	ch <- prometheus.MustNewConstMetric(c.fallbacks, prometheus.CounterValue, float64(c.s.fallbacks.Load()))
}
