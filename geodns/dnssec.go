package geodns

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DNSSEC defaults (RFC 6781 §4.4 on validity and clock skew).
const (
	// DefaultSigValidity is how long a signature is valid from its
	// inception.
	DefaultSigValidity = 48 * time.Hour
	// sigInceptionSkew backdates every inception so that validators whose
	// clocks are behind ours accept the signature.
	sigInceptionSkew = time.Hour
	// dynamicSigs bounds the signatures of synthesized records (NSEC of
	// denials, RFC 8482 HINFO) kept per snapshot.
	dynamicSigs = 65536
)

// DNSSECConfig names the zone's signing key. Empty files: unsigned.
type DNSSECConfig struct {
	// KeyFile holds the DNSKEY record in zone-file syntax.
	KeyFile string
	// PrivateFile holds the private key in BIND's Private-key-format.
	PrivateFile string
	// Validity is how long a signature is valid from its inception; one
	// is renewed when a third of that has passed. Default 48h.
	Validity time.Duration
}

// zoneKey is a loaded signing key: one combined signing key (CSK) signs
// every RRset, DNSKEY included.
type zoneKey struct {
	dnskey *dns.DNSKEY
	signer crypto.Signer
	tag    uint16
}

// loadZoneKey reads and checks a key pair for zone.
func loadZoneKey(zone string, c DNSSECConfig) (*zoneKey, error) {
	pub, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("read DNSSEC key: %w", err)
	}
	rr, err := dns.NewRR(strings.TrimSpace(stripComments(string(pub))))
	if err != nil {
		return nil, fmt.Errorf("parse DNSSEC key %s: %w", c.KeyFile, err)
	}
	k, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, fmt.Errorf("parse DNSSEC key %s: a %s record, not DNSKEY", c.KeyFile, dns.TypeToString[rr.Header().Rrtype])
	}
	if canonical(k.Hdr.Name) != zone {
		return nil, fmt.Errorf("DNSSEC key %s is for %s, not zone %s", c.KeyFile, k.Hdr.Name, zone)
	}
	if k.Algorithm != dns.ECDSAP256SHA256 && k.Algorithm != dns.ED25519 {
		return nil, fmt.Errorf("DNSSEC key %s: algorithm %d; need 13 (ECDSAP256SHA256) or 15 (ED25519)", c.KeyFile, k.Algorithm)
	}
	f, err := os.Open(c.PrivateFile)
	if err != nil {
		return nil, fmt.Errorf("read DNSSEC private key: %w", err)
	}
	defer f.Close()
	priv, err := k.ReadPrivateKey(f, c.PrivateFile)
	if err != nil {
		return nil, fmt.Errorf("parse DNSSEC private key %s: %w", c.PrivateFile, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("DNSSEC private key %s cannot sign", c.PrivateFile)
	}
	// The pair must match: sign the key with itself and verify.
	probe := &dns.RRSIG{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 60},
		Algorithm: k.Algorithm, SignerName: zone, KeyTag: k.KeyTag(), Inception: 1, Expiration: 1 << 31}
	if err := probe.Sign(signer, []dns.RR{k}); err != nil {
		return nil, fmt.Errorf("sign with DNSSEC private key %s: %w", c.PrivateFile, err)
	}
	if err := probe.Verify(k, []dns.RR{k}); err != nil {
		return nil, fmt.Errorf("DNSSEC private key %s does not match key %s: %w", c.PrivateFile, c.KeyFile, err)
	}
	return &zoneKey{dnskey: k, signer: signer, tag: k.KeyTag()}, nil
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, ";") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// GenerateKey makes an ECDSA P-256 (algorithm 13) combined signing key for
// zone and returns the DNSKEY record, the private key in BIND's format,
// and the DS record (SHA-256) for the parent zone.
func GenerateKey(zone string) (dnskey *dns.DNSKEY, private string, ds *dns.DS, err error) {
	return GenerateKeyAlgorithm(zone, dns.ECDSAP256SHA256)
}

// GenerateKeyAlgorithm is GenerateKey for algorithm 13 (ECDSAP256SHA256)
// or 15 (ED25519).
func GenerateKeyAlgorithm(zone string, alg uint8) (dnskey *dns.DNSKEY, private string, ds *dns.DS, err error) {
	if alg != dns.ECDSAP256SHA256 && alg != dns.ED25519 {
		return nil, "", nil, fmt.Errorf("DNSSEC algorithm %d: need 13 (ECDSAP256SHA256) or 15 (ED25519)", alg)
	}
	zone = canonical(zone)
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: dns.ZONE | dns.SEP, Protocol: 3, Algorithm: alg}
	priv, err := k.Generate(256)
	if err != nil {
		return nil, "", nil, fmt.Errorf("generate DNSSEC key for %s: %w", zone, err)
	}
	switch priv.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, "", nil, fmt.Errorf("generate DNSSEC key for %s: unexpected key type %T", zone, priv)
	}
	return k, k.PrivateKeyString(priv), k.ToDS(dns.SHA256), nil
}

// signed is one RRSIG and when to make a new one.
type signed struct {
	rrsig   *dns.RRSIG
	renewAt time.Time
}

// sigSlot caches the signature of one RRset that lives as long as the
// slot: a static RRset of the zone, or one rotation of a PoP's answer.
type sigSlot struct{ p atomic.Pointer[signed] }

// zoneSigner signs RRsets for one snapshot.
type zoneSigner struct {
	key      *zoneKey
	zone     string
	validity time.Duration
	now      func() time.Time

	mu      sync.Mutex
	dynamic map[dynKey]*sigSlot // guarded by mu: synthesized records
}

type dynKey struct {
	name  string
	rtype uint16
	bits  string // NSEC type bitmap, as the types' bytes
}

func newZoneSigner(key *zoneKey, zone string, validity time.Duration, now func() time.Time) *zoneSigner {
	return &zoneSigner{key: key, zone: zone, validity: validity, now: now, dynamic: map[dynKey]*sigSlot{}}
}

// sign returns the RRSIG over rrs (one RRset), from slot while it is
// fresh. Concurrent queries may both sign; either result is valid.
func (z *zoneSigner) sign(slot *sigSlot, rrs []dns.RR) (dns.RR, error) {
	now := z.now()
	if s := slot.p.Load(); s != nil && now.Before(s.renewAt) {
		return s.rrsig, nil
	}
	h := rrs[0].Header()
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		Algorithm:  z.key.dnskey.Algorithm,
		SignerName: z.zone,
		KeyTag:     z.key.tag,
		Inception:  uint32(now.Add(-sigInceptionSkew).Unix()),
		Expiration: uint32(now.Add(z.validity).Unix()),
	}
	if err := sig.Sign(z.key.signer, rrs); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", h.Name, dns.TypeToString[h.Rrtype], err)
	}
	slot.p.Store(&signed{rrsig: sig, renewAt: now.Add(z.validity / 3)})
	return sig, nil
}

// dynamicSlot is the slot of a synthesized record; the map is bounded
// with random eviction.
func (z *zoneSigner) dynamicSlot(k dynKey) *sigSlot {
	z.mu.Lock()
	defer z.mu.Unlock()
	if s, ok := z.dynamic[k]; ok {
		return s
	}
	if len(z.dynamic) >= dynamicSigs {
		for old := range z.dynamic {
			delete(z.dynamic, old)
			break
		}
	}
	s := &sigSlot{}
	z.dynamic[k] = s
	return s
}

// nxname is the NXNAME meta type of RFC 9824 §2: in a compact denial's
// NSEC it says the name does not exist.
const nxname = 128

// denialNSEC is the compact denial of RFC 9824 (the "black lies" NSEC):
// owner the query name, next name its immediate successor \000.name, so
// it covers nothing else, and the types present at the name.
func denialNSEC(name string, ttl uint32, types []uint16) *dns.NSEC {
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: "\\000." + name,
		TypeBitMap: types,
	}
}
