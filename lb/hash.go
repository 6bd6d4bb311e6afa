package lb

import (
	"math"
	"math/bits"
	"net/netip"
)

// Hashing must give the same answer in every process on every machine, so
// that every edge sends a cache key to the same shield. hash/maphash and the
// runtime's map hash are seeded per process and cannot be used; this file
// carries XXH64 (the published xxHash 64-bit algorithm, seed 0 unless stated)
// and the SplitMix64 finalizer, both fixed functions of their input.

const (
	xxPrime1 uint64 = 11400714785074694791
	xxPrime2 uint64 = 14029467366897019727
	xxPrime3 uint64 = 1609587929392839161
	xxPrime4 uint64 = 9650029242287828579
	xxPrime5 uint64 = 2870177450012600261
)

// HashString returns the XXH64 hash (seed 0) of s. It is the hash every
// policy applies to Request.Key, and callers that hash a key once and select
// several times can put its result in Request.Hash.
func HashString(s string) uint64 {
	return xxh64String(s, 0)
}

// HashBytes returns the XXH64 hash (seed 0) of b; HashBytes(b) equals
// HashString(string(b)).
func HashBytes(b []byte) uint64 {
	return xxh64String(string(b), 0)
}

// Mix64 is the SplitMix64 finalizer: a bijection on uint64 with full
// avalanche, used to derive independent-looking values from one hash.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hashIP hashes the 16-byte form of a (IPv4 addresses unmapped first, so
// ::ffff:192.0.2.1 and 192.0.2.1 hash alike) after masking it to the given
// prefix lengths. An invalid address hashes to 0.
func hashIP(a netip.Addr, v4Bits, v6Bits int) uint64 {
	if !a.IsValid() {
		return 0
	}
	a = a.Unmap()
	bitsLen := v6Bits
	if a.Is4() {
		bitsLen = v4Bits
	}
	if p, err := a.Prefix(bitsLen); err == nil {
		a = p.Addr()
	}
	b := a.As16()
	return xxh64String(string(b[:]), 0)
}

// unit01 maps a 64-bit hash to a float64 in the open interval (0, 1), using
// its top 53 bits, so that math.Log of it is finite and negative.
func unit01(h uint64) float64 {
	return (float64(h>>11) + 0.5) * (1.0 / (1 << 53))
}

// weightedScore is the logarithmic method of weighted rendezvous hashing
// (Schindelhauer and Schomaker; Resch, "Weighted rendezvous hashing"): with
// u uniform in (0,1), -w/ln(u) makes each backend win with probability
// proportional to its weight. The result is positive.
func weightedScore(h uint64, weight int) float64 {
	return -float64(weight) / math.Log(unit01(h))
}

// pairHash combines a key hash and a backend hash into one score.
func pairHash(key, backend uint64) uint64 {
	return Mix64(key ^ backend)
}

func xxRound(acc, input uint64) uint64 {
	acc += input * xxPrime2
	acc = bits.RotateLeft64(acc, 31)
	return acc * xxPrime1
}

func xxMergeRound(acc, val uint64) uint64 {
	val = xxRound(0, val)
	acc ^= val
	return acc*xxPrime1 + xxPrime4
}

// xxh64String is XXH64 of s with the given seed.
func xxh64String(s string, seed uint64) uint64 {
	n := len(s)
	var h uint64
	p := 0
	if n >= 32 {
		v1 := seed + xxPrime1 + xxPrime2
		v2 := seed + xxPrime2
		v3 := seed
		v4 := seed - xxPrime1
		for ; p+32 <= n; p += 32 {
			v1 = xxRound(v1, le64(s, p))
			v2 = xxRound(v2, le64(s, p+8))
			v3 = xxRound(v3, le64(s, p+16))
			v4 = xxRound(v4, le64(s, p+24))
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) +
			bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = xxMergeRound(h, v1)
		h = xxMergeRound(h, v2)
		h = xxMergeRound(h, v3)
		h = xxMergeRound(h, v4)
	} else {
		h = seed + xxPrime5
	}
	h += uint64(n)
	for ; p+8 <= n; p += 8 {
		k1 := xxRound(0, le64(s, p))
		h ^= k1
		h = bits.RotateLeft64(h, 27)*xxPrime1 + xxPrime4
	}
	if p+4 <= n {
		h ^= uint64(le32(s, p)) * xxPrime1
		h = bits.RotateLeft64(h, 23)*xxPrime2 + xxPrime3
		p += 4
	}
	for ; p < n; p++ {
		h ^= uint64(s[p]) * xxPrime5
		h = bits.RotateLeft64(h, 11) * xxPrime1
	}
	h ^= h >> 33
	h *= xxPrime2
	h ^= h >> 29
	h *= xxPrime3
	h ^= h >> 32
	return h
}

func le64(s string, p int) uint64 {
	_ = s[p+7]
	return uint64(s[p]) | uint64(s[p+1])<<8 | uint64(s[p+2])<<16 | uint64(s[p+3])<<24 |
		uint64(s[p+4])<<32 | uint64(s[p+5])<<40 | uint64(s[p+6])<<48 | uint64(s[p+7])<<56
}

func le32(s string, p int) uint32 {
	_ = s[p+3]
	return uint32(s[p]) | uint32(s[p+1])<<8 | uint32(s[p+2])<<16 | uint32(s[p+3])<<24
}
