package lb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// Request describes what a policy may hash on. A nil *Request is treated
// as the zero Request.
type Request struct {
	// Key is what consistent-hashing policies hash, such as a cache key.
	Key string
	// Hash, if non-zero, is used instead of HashString(Key), so a caller that
	// selects several times for one key hashes it once.
	Hash uint64
	// ClientIP is what IPHash hashes.
	ClientIP netip.Addr
}

// KeyHash returns r.Hash if it is non-zero, else HashString(r.Key).
func (r *Request) KeyHash() uint64 {
	if r == nil {
		return HashString("")
	}
	if r.Hash != 0 {
		return r.Hash
	}
	return HashString(r.Key)
}

// Selector picks a backend for a request. Implementations are safe for
// concurrent use, skip backends that are not Available, and return nil when
// none is.
type Selector interface {
	Select(r *Request) *Backend
}

// Orderer is implemented by the hashing policies. Order appends to dst every
// backend exactly once, available or not, in this request's order of
// preference, and returns the extended slice (pass buf[:0] to reuse a
// buffer). A caller fails over by trying them in order and skipping those
// that are not Available. The policy's Select returns the first Available
// backend of Order (BoundedLoad: the first one under its load bound), and
// every process with the same backends computes the same order.
type Orderer interface {
	Order(r *Request, dst []*Backend) []*Backend
}

// Policy names accepted by NewSelector and PoolConfig.Policy.
const (
	PolicyRoundRobin         = "round_robin"
	PolicyWeightedRoundRobin = "weighted_round_robin"
	PolicyLeastConn          = "least_conn"
	PolicyPowerOfTwo         = "p2c"
	PolicyIPHash             = "ip_hash"
	PolicyMaglev             = "maglev"
	PolicyRendezvous         = "rendezvous"
	PolicyBoundedLoad        = "bounded_load"
)

// Policies returns the policy names NewSelector accepts.
func Policies() []string {
	return []string{
		PolicyRoundRobin, PolicyWeightedRoundRobin, PolicyLeastConn, PolicyPowerOfTwo,
		PolicyIPHash, PolicyMaglev, PolicyRendezvous, PolicyBoundedLoad,
	}
}

// Defaults for Options fields left zero.
const (
	DefaultMaglevTableSize = 65537
	DefaultVirtualNodes    = 100
	DefaultLoadFactor      = 0.25
	DefaultIPv4PrefixLen   = 32
	DefaultIPv6PrefixLen   = 64

	// MaxMaglevTableSize bounds Options.TableSize (a table of 2^24 entries
	// already serves 167,772 backends).
	MaxMaglevTableSize = 1 << 24
)

// Options tunes the policies; each field matters to the policies named in
// its comment, and a zero field takes its default.
type Options struct {
	// TableSize is Maglev's lookup-table size M: a prime of at least 100 ×
	// the number of backends. Default 65537.
	TableSize uint64 `yaml:"table_size,omitempty" json:"table_size,omitempty"`
	// VirtualNodes is BoundedLoad's ring points per unit of weight.
	// Default 100.
	VirtualNodes int `yaml:"virtual_nodes,omitempty" json:"virtual_nodes,omitempty"`
	// LoadFactor is BoundedLoad's ε: no backend takes more than
	// ceil((1+ε) × mean load). Default 0.25.
	LoadFactor float64 `yaml:"load_factor,omitempty" json:"load_factor,omitempty"`
	// IPv4PrefixLen and IPv6PrefixLen are how many leading bits of the
	// client address IPHash hashes. Defaults 32 and 64 (a /64 is one
	// subscriber, whose privacy addresses rotate inside it).
	IPv4PrefixLen int `yaml:"ipv4_prefix_len,omitempty" json:"ipv4_prefix_len,omitempty"`
	IPv6PrefixLen int `yaml:"ipv6_prefix_len,omitempty" json:"ipv6_prefix_len,omitempty"`
	// Rand is PowerOfTwo's random source. If nil, the runtime's
	// goroutine-safe generator is used. Tests inject a seeded source.
	// PowerOfTwo locks around it, and so does a Pool across the selectors
	// it rebuilds; a source also used elsewhere must be safe for
	// concurrent use.
	Rand rand.Source `yaml:"-" json:"-"`
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.TableSize == 0 {
		o.TableSize = DefaultMaglevTableSize
	}
	if o.VirtualNodes == 0 {
		o.VirtualNodes = DefaultVirtualNodes
	}
	if o.LoadFactor == 0 {
		o.LoadFactor = DefaultLoadFactor
	}
	if o.IPv4PrefixLen == 0 {
		o.IPv4PrefixLen = DefaultIPv4PrefixLen
	}
	if o.IPv6PrefixLen == 0 {
		o.IPv6PrefixLen = DefaultIPv6PrefixLen
	}
	return o
}

// Validate reports every invalid field, each named by its path under
// "options". Checks that depend on the backend count (Maglev's M ≥ 100·N)
// are made by the constructors.
func (o Options) Validate() error {
	d := o.withDefaults()
	var errs []error
	switch {
	case d.TableSize > MaxMaglevTableSize:
		errs = append(errs, fmt.Errorf("options.table_size: %d exceeds the maximum %d", d.TableSize, uint64(MaxMaglevTableSize)))
	case !isPrime(d.TableSize):
		errs = append(errs, fmt.Errorf("options.table_size: %d is not prime", d.TableSize))
	}
	if d.VirtualNodes < 1 {
		errs = append(errs, fmt.Errorf("options.virtual_nodes: must be > 0, got %d", d.VirtualNodes))
	}
	if !(d.LoadFactor > 0) || d.LoadFactor > 1e6 {
		errs = append(errs, fmt.Errorf("options.load_factor: must be > 0, got %v", d.LoadFactor))
	}
	if d.IPv4PrefixLen < 1 || d.IPv4PrefixLen > 32 {
		errs = append(errs, fmt.Errorf("options.ipv4_prefix_len: must be in 1..32, got %d", d.IPv4PrefixLen))
	}
	if d.IPv6PrefixLen < 1 || d.IPv6PrefixLen > 128 {
		errs = append(errs, fmt.Errorf("options.ipv6_prefix_len: must be in 1..128, got %d", d.IPv6PrefixLen))
	}
	return errors.Join(errs...)
}

// NewSelector builds the policy named policy (one of Policies()) over
// backends. It validates opts and the backends and names the policy in its
// errors.
func NewSelector(policy string, backends []*Backend, opts Options) (Selector, error) {
	switch policy {
	case PolicyRoundRobin:
		return NewRoundRobin(backends)
	case PolicyWeightedRoundRobin:
		return NewWeightedRoundRobin(backends)
	case PolicyLeastConn:
		return NewLeastConn(backends)
	case PolicyPowerOfTwo:
		return NewPowerOfTwo(backends, opts)
	case PolicyIPHash:
		return NewIPHash(backends, opts)
	case PolicyMaglev:
		return NewMaglev(backends, opts)
	case PolicyRendezvous:
		return NewRendezvous(backends)
	case PolicyBoundedLoad:
		return NewBoundedLoad(backends, opts)
	}
	return nil, fmt.Errorf("unknown load-balancing policy %q (known: %s)", policy, strings.Join(Policies(), ", "))
}

// isPrime reports whether n is prime, by trial division (n is a table size,
// at most MaxMaglevTableSize, so this takes at most 2048 divisions).
func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	if n%2 == 0 {
		return n == 2
	}
	for d := uint64(3); d <= n/d; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}
