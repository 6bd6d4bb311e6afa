package disk

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
)

// Layout of the store's folder:
//
//	Dir/FORMAT            format name and version
//	Dir/lock              flock'd while a store has the folder open
//	Dir/tmp/              files being written (removed at start)
//	Dir/ab/c/<hash>       metadata of the object whose key hashes to abc…
//	Dir/ab/c/<hash>.<gen> its body; gen is unique per write
//
// <hash> is the hex of the first 16 bytes of SHA-256(key): file names
// never contain request text, and 128 bits make collisions impossible in
// practice (the key is also stored and compared). The fan-out (256 × 16
// folders) keeps folders near 500 files at a million objects.
const (
	formatFile    = "FORMAT"
	formatText    = "selfcdn disk cache, format 1\n"
	lockFile      = "lock"
	tmpDirName    = "tmp"
	tmpOldPrefix  = "tmp.old."
	hashHexLen    = 32
	genHexLen     = 16
	bodyNameLen   = hashHexLen + 1 + genHexLen
	diskBlockSize = 4096
)

// keyHash identifies a key on disk and in the index.
type keyHash [16]byte

func hashKey(key string) keyHash {
	sum := sha256.Sum256([]byte(key))
	var h keyHash
	copy(h[:], sum[:])
	return h
}

func (h keyHash) String() string { return hex.EncodeToString(h[:]) }

// leafDir is the folder holding h's files.
func (s *Store) leafDir(h keyHash) string {
	x := h.String()
	return filepath.Join(s.dir, x[0:2], x[2:3])
}

func (s *Store) metaPath(h keyHash) string {
	return filepath.Join(s.leafDir(h), h.String())
}

func (s *Store) bodyPath(h keyHash, gen uint64) string {
	return filepath.Join(s.leafDir(h), bodyName(h, gen))
}

func bodyName(h keyHash, gen uint64) string {
	g := strconv.FormatUint(gen, 16)
	b := make([]byte, 0, bodyNameLen)
	b = hex.AppendEncode(b, h[:])
	b = append(b, '.')
	for i := len(g); i < genHexLen; i++ {
		b = append(b, '0')
	}
	return string(append(b, g...))
}

// parseName tells what a file in a leaf folder is: a metadata file (gen
// 0, body false), a body (its gen), or neither (ok false).
func parseName(name string) (h keyHash, gen uint64, body, ok bool) {
	switch len(name) {
	case hashHexLen:
	case bodyNameLen:
		if name[hashHexLen] != '.' {
			return h, 0, false, false
		}
		g, err := strconv.ParseUint(name[hashHexLen+1:], 16, 64)
		if err != nil || g == 0 {
			return h, 0, false, false
		}
		gen, body = g, true
	default:
		return h, 0, false, false
	}
	if _, err := hex.Decode(h[:], []byte(name[:hashHexLen])); err != nil {
		return h, 0, false, false
	}
	return h, gen, body, true
}

// cost is what a file of n bytes is charged: its size rounded up to the
// file system's usual block, which is what it occupies (du), not less.
func cost(n int64) int64 {
	return (n + diskBlockSize - 1) &^ (diskBlockSize - 1)
}
