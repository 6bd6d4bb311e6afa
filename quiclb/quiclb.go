// Package quiclb encodes a server ID in QUIC connection IDs and reads it
// back, with the plaintext algorithm of the QUIC-LB draft
// (draft-ietf-quic-load-balancers, "Plaintext CID Algorithm"), so a layer-4
// balancer can route a QUIC packet to the server that issued its
// destination connection ID even after the client's address or port has
// changed (migration, NAT rebinding).
//
// A connection ID is: one first octet (3 config-rotation bits, then the
// connection ID length minus one in the low 5 bits, "self-encoded
// length"), the server ID, then a random nonce. The edge uses Generator as
// its quic-go ConnectionIDGenerator; the balancer uses Config.ServerID and
// DestConnID.
package quiclb

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"
)

// Config is the shared QUIC-LB configuration of a balancer and its servers.
type Config struct {
	// ConfigID is the config rotation codepoint, 0-6 (7 means
	// "unroutable" in the draft).
	ConfigID uint8
	// ServerIDLen is the server ID's length in octets, 1-15.
	ServerIDLen int
	// NonceLen is the random nonce's length in octets, 4-18, with
	// 1 + ServerIDLen + NonceLen at most 20.
	NonceLen int
}

// Validate reports an unusable configuration.
func (c Config) Validate() error {
	var errs []error
	if c.ConfigID > 6 {
		errs = append(errs, fmt.Errorf("quic_lb.config_id: %d is not 0-6", c.ConfigID))
	}
	if c.ServerIDLen < 1 || c.ServerIDLen > 15 {
		errs = append(errs, fmt.Errorf("quic_lb.server_id_len: %d is not 1-15", c.ServerIDLen))
	}
	if c.NonceLen < 4 || c.NonceLen > 18 {
		errs = append(errs, fmt.Errorf("quic_lb.nonce_len: %d is not 4-18", c.NonceLen))
	}
	if c.Len() > 20 {
		errs = append(errs, fmt.Errorf("quic_lb: connection IDs of %d octets exceed 20", c.Len()))
	}
	return errors.Join(errs...)
}

// Len is the length of the connection IDs of this configuration.
func (c Config) Len() int { return 1 + c.ServerIDLen + c.NonceLen }

// ServerID returns the server ID encoded in cid, if cid was made with this
// configuration (right config rotation bits and length).
func (c Config) ServerID(cid []byte) ([]byte, bool) {
	if len(cid) != c.Len() || cid[0]>>5 != c.ConfigID || int(cid[0]&0x1f) != len(cid)-1 {
		return nil, false
	}
	return cid[1 : 1+c.ServerIDLen], true
}

// Generator issues connection IDs carrying one server's ID. It implements
// quic.ConnectionIDGenerator; set it as quic.Transport.ConnectionIDGenerator
// on the server. It is safe for concurrent use.
type Generator struct {
	cfg      Config
	serverID []byte
}

var _ quic.ConnectionIDGenerator = (*Generator)(nil)

// NewGenerator returns a Generator for the server whose ID is serverID
// (exactly cfg.ServerIDLen octets).
func NewGenerator(cfg Config, serverID []byte) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(serverID) != cfg.ServerIDLen {
		return nil, fmt.Errorf("quic_lb: server ID %x is %d octets, want %d", serverID, len(serverID), cfg.ServerIDLen)
	}
	return &Generator{cfg: cfg, serverID: append([]byte(nil), serverID...)}, nil
}

// GenerateConnectionID returns a new connection ID with the server ID and a
// fresh random nonce.
func (g *Generator) GenerateConnectionID() (quic.ConnectionID, error) {
	b := make([]byte, g.cfg.Len())
	b[0] = g.cfg.ConfigID<<5 | byte(len(b)-1)
	copy(b[1:], g.serverID)
	if _, err := rand.Read(b[1+len(g.serverID):]); err != nil {
		return quic.ConnectionID{}, fmt.Errorf("quic_lb: nonce: %w", err)
	}
	return quic.ConnectionIDFromBytes(b), nil
}

// ConnectionIDLen returns the configuration's connection ID length.
func (g *Generator) ConnectionIDLen() int { return g.cfg.Len() }

// DestConnID returns the destination connection ID of a QUIC packet (RFC
// 9000 §17, RFC 8999): for a long header its encoded length, for a short
// header shortLen octets, which only the receiver's configuration knows.
func DestConnID(packet []byte, shortLen int) ([]byte, bool) {
	if len(packet) < 1 {
		return nil, false
	}
	if packet[0]&0x80 != 0 { // long header: flags, version(4), dcid len, dcid
		if len(packet) < 6 {
			return nil, false
		}
		n := int(packet[5])
		if n > 20 || len(packet) < 6+n {
			return nil, false
		}
		return packet[6 : 6+n], true
	}
	if packet[0]&0x40 == 0 || len(packet) < 1+shortLen { // the fixed bit must be set
		return nil, false
	}
	return packet[1 : 1+shortLen], true
}
