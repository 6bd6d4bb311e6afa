package geodns

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// signedConfig is testConfig with the simulation database and a fresh
// key pair; it returns the DS record too.
func signedConfig(t *testing.T) (Config, *dns.DS) {
	t.Helper()
	return signedConfigAlg(t, dns.ECDSAP256SHA256)
}

func signedConfigAlg(t *testing.T, alg uint8) (Config, *dns.DS) {
	t.Helper()
	k, priv, ds, err := GenerateKeyAlgorithm(testZone, alg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := testConfig()
	cfg.GeoIPPath = writeCityDB(t, simPlaces...)
	cfg.DNSSEC = DNSSECConfig{KeyFile: filepath.Join(dir, "k.key"), PrivateFile: filepath.Join(dir, "k.private")}
	if err := os.WriteFile(cfg.DNSSEC.KeyFile, []byte("; comment\n"+k.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DNSSEC.PrivateFile, []byte(priv), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, ds
}

// verifySections checks every RRset of the answer and authority sections
// against key, and that each has a signature.
func verifySections(t *testing.T, r *dns.Msg, key *dns.DNSKEY) {
	t.Helper()
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		sets := map[string][]dns.RR{}
		sigs := map[string]*dns.RRSIG{}
		for _, rr := range sec {
			h := rr.Header()
			if sig, ok := rr.(*dns.RRSIG); ok {
				sigs[strings.ToLower(h.Name)+dns.TypeToString[sig.TypeCovered]] = sig
				continue
			}
			k := strings.ToLower(h.Name) + dns.TypeToString[h.Rrtype]
			sets[k] = append(sets[k], rr)
		}
		for k, set := range sets {
			if set[0].Header().Rrtype == dns.TypeNS && !r.Authoritative {
				continue // a referral's NS is not signed
			}
			sig := sigs[k]
			if sig == nil {
				t.Errorf("%s unsigned in %v", k, r)
				continue
			}
			if err := sig.Verify(key, set); err != nil {
				t.Errorf("%s: %v", k, err)
			}
			if !sig.ValidityPeriod(time.Now()) || sig.Inception > uint32(time.Now().Add(-30*time.Minute).Unix()) {
				t.Errorf("%s: validity %d..%d, want an inception margin", k, sig.Inception, sig.Expiration)
			}
		}
	}
}

// TestDNSSECSigned: with DO, answers, NODATA, the compact denial of a
// missing name, DNSKEY and referrals are signed and verify; without DO
// nothing is signed and NXDOMAIN stays NXDOMAIN.
func TestDNSSECSigned(t *testing.T) {
	cfg, _ := signedConfig(t)
	s := startServer(t, cfg, Options{})
	do := func(name string, qtype uint16) *dns.Msg {
		m := query(name, qtype, 1232)
		m.IsEdns0().SetDo()
		return m
	}
	r := exchange(t, s.Addr(), "tcp", do(testZone, dns.TypeDNSKEY), nil)
	if len(r.Answer) != 2 {
		t.Fatalf("DNSKEY answer %v", r.Answer)
	}
	key := r.Answer[0].(*dns.DNSKEY)
	verifySections(t, r, key)
	for _, tc := range []struct {
		name  string
		qtype uint16
		check func(r *dns.Msg) string
	}{
		{"edge.cdn.example.com.", dns.TypeA, func(r *dns.Msg) string {
			if len(answerAddrs(r)) == 0 {
				return "no addresses"
			}
			return ""
		}},
		{"assets.cdn.example.com.", dns.TypeA, nil},
		{testZone, dns.TypeSOA, nil},
		{testZone, dns.TypeNS, nil},
		{"edge.cdn.example.com.", dns.TypeMX, func(r *dns.Msg) string { return nsecTypes(r, "edge.cdn.example.com.", "A TXT AAAA RRSIG NSEC") }},
		{"nowhere.cdn.example.com.", dns.TypeA, func(r *dns.Msg) string {
			if r.Rcode != dns.RcodeSuccess {
				return "rcode " + dns.RcodeToString[r.Rcode] + ", want NOERROR (RFC 9824)"
			}
			return nsecTypes(r, "nowhere.cdn.example.com.", "RRSIG NSEC NXNAME")
		}},
		{"a.b.cdn.example.com.", dns.TypeA, func(r *dns.Msg) string { return nsecTypes(r, "a.b.cdn.example.com.", "RRSIG NSEC") }},
		{"x.sub.cdn.example.com.", dns.TypeA, func(r *dns.Msg) string { return nsecTypes(r, "sub.cdn.example.com.", "NS RRSIG NSEC") }},
		{testZone, dns.TypeANY, nil},
	} {
		for _, via := range []string{"udp", "tcp"} {
			r := exchange(t, s.Addr(), via, do(tc.name, tc.qtype), nil)
			if r.AuthenticatedData {
				t.Errorf("%s %s: AD set", tc.name, dns.TypeToString[tc.qtype])
			}
			if o := r.IsEdns0(); o == nil || !o.Do() {
				t.Errorf("%s: DO not echoed", tc.name)
			}
			verifySections(t, r, key)
			if tc.check != nil {
				if msg := tc.check(r); msg != "" {
					t.Errorf("%s %s over %s: %s: %v", tc.name, dns.TypeToString[tc.qtype], via, msg, r)
				}
			}
		}
	}
	// Without DO: no signatures, a real NXDOMAIN.
	r = exchange(t, s.Addr(), "udp", query("nowhere.cdn.example.com.", dns.TypeA, 1232), nil)
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("without DO: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	for _, rr := range append(r.Answer, r.Ns...) {
		if rr.Header().Rrtype == dns.TypeRRSIG || rr.Header().Rrtype == dns.TypeNSEC {
			t.Errorf("without DO: %v", rr)
		}
	}
	// Signatures are cached: the same rotation is signed once.
	a := exchange(t, s.Addr(), "udp", do(testZone, dns.TypeSOA), nil)
	b := exchange(t, s.Addr(), "udp", do(testZone, dns.TypeSOA), nil)
	if a.Answer[1].(*dns.RRSIG).Signature != b.Answer[1].(*dns.RRSIG).Signature {
		t.Error("the SOA was signed twice (ECDSA signatures differ each time)")
	}
}

// nsecTypes checks the authority NSEC of a denial: its owner and types.
func nsecTypes(r *dns.Msg, owner, types string) string {
	for _, rr := range r.Ns {
		if n, ok := rr.(*dns.NSEC); ok {
			var got []string
			for _, t := range n.TypeBitMap {
				got = append(got, dns.Type(t).String())
			}
			if n.Hdr.Name != owner || strings.Join(got, " ") != types || n.NextDomain != "\\000."+owner {
				return fmt.Sprintf("NSEC %v, want owner %s types %s", n, owner, types)
			}
			return ""
		}
	}
	return "no NSEC"
}

// TestDelvValidates: BIND's validator, given only the DS record as trust
// anchor, fully validates answers from three PoPs (queried from
// 127.1.0.1, 127.2.0.1 and 127.3.0.1, which the database places in
// London, New York and Tokyo), a NODATA and a missing name.
func TestDelvValidates(t *testing.T) {
	delv, err := exec.LookPath("delv")
	if err != nil {
		t.Skip("delv not installed (apt-get install bind9-dnsutils)")
	}
	cfg, ds := signedConfig(t)
	s := startServer(t, cfg, Options{})
	host, port, _ := net.SplitHostPort(s.Addr())
	anchor := filepath.Join(t.TempDir(), "anchor.conf")
	digest := ds.Digest
	if err := os.WriteFile(anchor, fmt.Appendf(nil, "trust-anchors {\n  %s static-ds %d %d %d \"%s\";\n};\n",
		testZone, ds.KeyTag, ds.Algorithm, ds.DigestType, digest), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(src, name, qtype string) string {
		t.Helper()
		cmd := exec.Command(delv, "@"+host, "-p", port, "-b", src, "-a", anchor, "+root="+testZone, "+tcp", name, qtype)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("delv %s %s from %s: %v\n%s", name, qtype, src, err, out.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("delv %s %s from %s: timed out\n%s", name, qtype, src, out.String())
		}
		return out.String()
	}
	for src, want := range map[string]string{"127.1.0.1": "10.1.0.", "127.2.0.1": "10.2.0.", "127.3.0.1": "10.3.0."} {
		out := run(src, "edge.cdn.example.com.", "A")
		if !strings.Contains(out, "; fully validated") || !strings.Contains(out, want) {
			t.Errorf("from %s, want %s* fully validated:\n%s", src, want, out)
		}
	}
	for _, q := range [][2]string{{"edge.cdn.example.com.", "MX"}, {"nowhere.cdn.example.com.", "A"}} {
		out := run("127.1.0.1", q[0], q[1])
		if !strings.Contains(out, "negative response, fully validated") && !strings.Contains(out, "; fully validated") {
			t.Errorf("%s %s not validated:\n%s", q[0], q[1], out)
		}
	}
}

// An Ed25519 key (algorithm 15) signs answers as a P-256 one does.
func TestEd25519KeySigns(t *testing.T) {
	cfg, ds := signedConfigAlg(t, dns.ED25519)
	if ds.Algorithm != dns.ED25519 {
		t.Fatalf("DS algorithm %d", ds.Algorithm)
	}
	s := startServer(t, cfg, Options{})
	m := query(testZone, dns.TypeDNSKEY, 1232)
	m.IsEdns0().SetDo()
	r := exchange(t, s.Addr(), "tcp", m, nil)
	if len(r.Answer) != 2 {
		t.Fatalf("DNSKEY answer %v", r.Answer)
	}
	key := r.Answer[0].(*dns.DNSKEY)
	if key.Algorithm != dns.ED25519 {
		t.Fatalf("DNSKEY algorithm %d", key.Algorithm)
	}
	verifySections(t, r, key)
	if _, _, _, err := GenerateKeyAlgorithm(testZone, dns.RSASHA256); err == nil {
		t.Error("RSA accepted")
	}
}
