package disk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/textproto"
	"sort"
	"time"

	"github.com/selfcdn/cdn/cache"
)

// Metadata file format (little endian):
//
//	0  magic "cdnm"
//	4  version (1)
//	5  kind: 0 object with body, 1 marker (no body)
//	6  reserved (0)
//	8  payload length (uint32)
//	12 CRC-32C of the payload
//	16 payload: uvarint-prefixed strings and uvarints, see encode
//
// The payload carries the key, so a lookup can never return another key's
// object, and the body's length, its write generation and one CRC-32C per
// block of blockSize bytes, so bodies are verified block by block and a
// range read verifies only the blocks it touches.
const (
	metaMagic     = "cdnm"
	metaVersion   = 1
	metaHeaderLen = 16
	kindObject    = 0
	kindMarker    = 1
	// maxMetaSize bounds a metadata file: larger ones are refused on
	// write and treated as corrupt on read.
	maxMetaSize = 1 << 20
	// blockSize is the span of one body checksum. 256 KiB keeps the list
	// small (16 KiB of checksums for 1 GiB) while a range read that starts
	// mid-block reads at most 256 KiB before its first byte to verify it.
	blockSize = 256 << 10
)

// castagnoli is the CRC-32C table (hardware-accelerated on amd64 and
// arm64); read-only after initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorruptMeta marks a metadata file that does not decode.
var errCorruptMeta = errors.New("corrupt metadata")

const (
	flagPass = 1 << iota
	flagHasHead
	flagHeuristic
)

// meta is the decoded metadata of one object or marker.
type meta struct {
	key, primary, site string
	tags, vary         []string
	pass, marker       bool
	gen                uint64 // body file generation; 0 for a marker
	size               int64  // body length
	blockSize          int64
	sums               []uint32
	head               *cache.Head // nil if the object had none
}

// metaOf builds the metadata of o (Body ignored).
func metaOf(o *cache.Object, marker bool) *meta {
	m := &meta{
		key: o.Key, primary: o.Primary, site: o.Site,
		tags: o.Tags, vary: o.VaryFields, pass: o.Pass, marker: marker,
		head: o.Head(),
	}
	if !marker {
		m.blockSize = blockSize
	}
	return m
}

func (m *meta) encode() ([]byte, error) {
	b := make([]byte, metaHeaderLen, 512+len(m.key)+len(m.primary)+4*len(m.sums))
	b = appendString(b, m.key)
	b = appendString(b, m.primary)
	b = appendString(b, m.site)
	b = appendStrings(b, m.tags)
	b = appendStrings(b, m.vary)
	var flags uint64
	if m.pass {
		flags |= flagPass
	}
	h := m.head
	if h != nil {
		flags |= flagHasHead
		if h.Heuristic {
			flags |= flagHeuristic
		}
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendUvarint(b, m.gen)
	b = binary.AppendUvarint(b, uint64(m.size))
	b = binary.AppendUvarint(b, uint64(m.blockSize))
	b = binary.AppendUvarint(b, uint64(len(m.sums)))
	for _, s := range m.sums {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	if h != nil {
		b = binary.AppendVarint(b, int64(h.Status))
		b = appendTime(b, h.RequestTime)
		b = appendTime(b, h.ResponseTime)
		b = appendTime(b, h.Origin)
		b = binary.AppendVarint(b, int64(h.InitialAge))
		b = binary.AppendVarint(b, int64(h.Lifetime))
		names := make([]string, 0, len(h.Header))
		for k := range h.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		b = binary.AppendUvarint(b, uint64(len(names)))
		for _, k := range names {
			b = appendString(b, k)
			b = appendStrings(b, h.Header[k])
		}
	}
	if len(b) > maxMetaSize {
		return nil, fmt.Errorf("encode metadata of %q: %d bytes exceed the limit of %d", m.key, len(b), maxMetaSize)
	}
	copy(b, metaMagic)
	b[4] = metaVersion
	if m.marker {
		b[5] = kindMarker
	}
	payload := b[metaHeaderLen:]
	binary.LittleEndian.PutUint32(b[8:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(payload, castagnoli))
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// appendTime keeps zero times zero and others to the nanosecond.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decodeMeta parses a metadata file. It never panics and allocates no
// more than a small multiple of len(b), whatever the input.
func decodeMeta(b []byte) (*meta, error) {
	if len(b) < metaHeaderLen || string(b[:4]) != metaMagic {
		return nil, fmt.Errorf("%w: bad magic or short file (%d bytes)", errCorruptMeta, len(b))
	}
	if b[4] != metaVersion {
		return nil, fmt.Errorf("%w: unknown version %d", errCorruptMeta, b[4])
	}
	kind := b[5]
	if kind != kindObject && kind != kindMarker || b[6] != 0 || b[7] != 0 {
		return nil, fmt.Errorf("%w: unknown kind %d or flags %#x", errCorruptMeta, kind, b[6:8])
	}
	n := binary.LittleEndian.Uint32(b[8:])
	payload := b[metaHeaderLen:]
	if uint64(n) != uint64(len(payload)) {
		return nil, fmt.Errorf("%w: payload is %d bytes, header says %d", errCorruptMeta, len(payload), n)
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[12:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorruptMeta)
	}
	d := decoder{b: payload}
	m := &meta{marker: kind == kindMarker}
	m.key = d.string()
	m.primary = d.string()
	m.site = d.string()
	m.tags = d.strings()
	m.vary = d.strings()
	flags := d.uvarint()
	m.pass = flags&flagPass != 0
	m.gen = d.uvarint()
	m.size = d.int63()
	m.blockSize = d.int63()
	nsums := d.count(4)
	if nsums > 0 {
		m.sums = make([]uint32, nsums)
		for i := range m.sums {
			m.sums[i] = d.uint32()
		}
	}
	if flags&flagHasHead != 0 {
		h := &cache.Head{}
		h.Status = int(d.varint())
		h.RequestTime = d.time()
		h.ResponseTime = d.time()
		h.Origin = d.time()
		h.InitialAge = time.Duration(d.varint())
		h.Lifetime = time.Duration(d.varint())
		h.Heuristic = flags&flagHeuristic != 0
		nf := d.count(2)
		h.Header = make(textproto.MIMEHeader, nf)
		for range nf {
			k := d.string()
			h.Header[k] = d.strings()
		}
		m.head = h
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorruptMeta, len(d.b))
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// check verifies the body description is self-consistent.
func (m *meta) check() error {
	if m.marker {
		if m.gen != 0 || m.size != 0 || len(m.sums) != 0 {
			return fmt.Errorf("%w: marker with a body", errCorruptMeta)
		}
		return nil
	}
	if m.gen == 0 || m.blockSize <= 0 {
		return fmt.Errorf("%w: object without a body generation or block size", errCorruptMeta)
	}
	if want := (m.size + m.blockSize - 1) / m.blockSize; int64(len(m.sums)) != want {
		return fmt.Errorf("%w: %d checksums for %d bytes in blocks of %d", errCorruptMeta, len(m.sums), m.size, m.blockSize)
	}
	return nil
}

// decoder reads the payload; the first error sticks and later reads
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or invalid %s", errCorruptMeta, what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int63() int64 {
	v := d.uvarint()
	if v > 1<<62 {
		d.fail("length")
		return 0
	}
	return int64(v)
}

// count reads a count of items of at least minSize bytes each, refusing
// counts the remaining bytes cannot hold (so no huge allocation).
func (d *decoder) count(minSize int) int {
	v := d.uvarint()
	if v > uint64(len(d.b)/minSize) {
		d.fail("count")
		return 0
	}
	return int(v)
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail("checksum")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) string() string {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail("string")
		return ""
	}
	s := string(d.b[:v])
	d.b = d.b[v:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

func (d *decoder) time() time.Time {
	if len(d.b) == 0 {
		d.fail("time")
		return time.Time{}
	}
	flag := d.b[0]
	d.b = d.b[1:]
	switch flag {
	case 0:
		return time.Time{}
	case 1:
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			d.fail("time")
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec))
	default:
		d.fail("time")
		return time.Time{}
	}
}
