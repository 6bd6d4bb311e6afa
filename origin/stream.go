package origin

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"io"
)

// The synthetic body is a pure function of a 32-byte key (see objectKey) and
// the byte offset, so any range of any object can be produced without
// generating what precedes it, and two servers with the same seed produce the
// same bytes.
//
// Binary bodies are an AES-128-CTR keystream: a fixed AES key (so every
// server produces the same bytes), and a counter block made of 8 bytes of the
// object key followed by the 64-bit block number. Byte i is in counter block
// i/16, so a stream can start at any offset, and the AES instructions of the
// CPU do the work.
// Text bodies are 64-byte lines, line j built from words of a small
// vocabulary chosen by splitmix64's output mixer seeded with line j, padded
// with spaces and ended with a newline, so they are printable and compress
// about as well as prose.

const (
	golden = 0x9e3779b97f4a7c15

	// textLine is the length of one generated text line, newline included.
	textLine = 64

	// chunkSize is the unit in which bodies are generated and written.
	chunkSize = 32 << 10
)

// mix64 is splitmix64's output function: a bijection with good avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// vocabulary holds the words text bodies are made of: 64 entries, so six
// random bits choose one.
var vocabulary = [64]string{
	"cache", "edge", "shield", "origin", "object", "header", "fresh", "stale",
	"vary", "purge", "range", "bytes", "etag", "request", "response", "hit",
	"miss", "revalidate", "age", "expires", "control", "public", "private", "store",
	"key", "hash", "node", "region", "pop", "latency", "client", "server",
	"stream", "content", "digest", "tier", "memory", "disk", "collapse", "flight",
	"zone", "record", "health", "route", "nearest", "policy", "weight", "ring",
	"surrogate", "tag", "lifetime", "validator", "modified", "match", "status", "method",
	"body", "length", "chunk", "frame", "queue", "token", "bus", "log",
}

// streamKey is the AES key of binary bodies. Changing it changes every body.
const streamKey = "selfcdn-origin/1"

// newStreamCipher returns the block cipher binary bodies are generated
// with; it is safe for concurrent use.
func newStreamCipher() cipher.Block {
	b, err := aes.NewCipher([]byte(streamKey))
	if err != nil {
		panic(err) // unreachable: the key is 16 bytes
	}
	return b
}

// generator produces the bytes of one synthetic body.
type generator struct {
	block cipher.Block // from newStreamCipher
	key   [32]byte
	text  bool
}

func newGenerator(block cipher.Block, key [32]byte, text bool) generator {
	return generator{block: block, key: key, text: text}
}

// fill writes the body bytes at [off, off+len(dst)) into dst.
func (g generator) fill(dst []byte, off int64) {
	if g.text {
		g.fillText(dst, off)
		return
	}
	g.stream(off).XORKeyStream(dst, zero(dst))
}

// zero clears b and returns it.
func zero(b []byte) []byte {
	clear(b)
	return b
}

// stream returns the binary keystream positioned at off.
func (g generator) stream(off int64) cipher.Stream {
	var iv [aes.BlockSize]byte
	copy(iv[:8], g.key[16:24])
	binary.BigEndian.PutUint64(iv[8:], uint64(off)/aes.BlockSize)
	s := cipher.NewCTR(g.block, iv[:])
	if skip := int(uint64(off) % aes.BlockSize); skip > 0 {
		var discard [aes.BlockSize]byte
		s.XORKeyStream(discard[:skip], discard[:skip])
	}
	return s
}

// textSeed is the splitmix64 state text lines are derived from.
func (g generator) textSeed() uint64 { return binary.LittleEndian.Uint64(g.key[24:]) }

func (g generator) fillText(dst []byte, off int64) {
	k0 := g.textSeed()
	line := uint64(off) / textLine
	if skip := int(uint64(off) % textLine); skip != 0 {
		var l [textLine]byte
		textLineAt(l[:], k0, line)
		n := copy(dst, l[skip:])
		dst = dst[n:]
		line++
	}
	for len(dst) >= textLine {
		textLineAt(dst[:textLine], k0, line)
		dst = dst[textLine:]
		line++
	}
	if len(dst) > 0 {
		var l [textLine]byte
		textLineAt(l[:], k0, line)
		copy(dst, l[:])
	}
}

// textLineAt writes line j of the text stream seeded by k0 into dst, which
// is textLine bytes long.
func textLineAt(dst []byte, k0, j uint64) {
	dst = dst[:textLine]
	r := mix64(k0 ^ (j+1)*golden)
	bits := 64
	pos := 0
	// Every word is at least three bytes plus a space, so this loop runs at
	// most textLine/4 times before the line is full.
	for {
		if bits < 6 {
			r = mix64(r + golden)
			bits = 64
		}
		w := vocabulary[r&63]
		r >>= 6
		bits -= 6
		if pos+len(w) > textLine-1 {
			break
		}
		pos += copy(dst[pos:], w)
		if pos < textLine-1 {
			dst[pos] = ' '
			pos++
		}
	}
	for ; pos < textLine-1; pos++ {
		dst[pos] = ' '
	}
	dst[textLine-1] = '\n'
}

// writeRange writes n body bytes starting at off to w, generating them in
// buf-sized chunks. It returns the number of bytes written.
func (g generator) writeRange(w io.Writer, off, n int64, buf []byte) (int64, error) {
	var ks cipher.Stream
	if !g.text {
		ks = g.stream(off)
	}
	var written int64
	for written < n {
		c := buf
		if rem := n - written; rem < int64(len(c)) {
			c = c[:rem]
		}
		if ks != nil {
			ks.XORKeyStream(c, zero(c))
		} else {
			g.fillText(c, off+written)
		}
		m, err := w.Write(c)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
