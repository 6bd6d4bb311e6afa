// Package endpoints describes where the parts of a running CDN listen, as
// the simulation writes it (cdn sim --endpoints FILE) and as scripts and the
// load generator read it.
package endpoints

import (
	"encoding/json"
	"fmt"
	"os"
)

// File is the whole endpoints document.
type File struct {
	// Zone is the DNS zone GeoDNS is authoritative for, with a trailing dot.
	Zone string `json:"zone"`
	// Sites are the hostnames clients ask for.
	Sites []string `json:"sites"`
	// DNS is the host:port of a GeoDNS server (UDP and TCP).
	DNS string `json:"dns"`
	// DNSServers lists every GeoDNS node's host:port.
	DNSServers []string `json:"dns_servers,omitempty"`
	// Admin is an admin API any purge can be sent to.
	Admin Admin `json:"admin"`
	// Origin is the base URL of the origin server.
	Origin string `json:"origin"`
	// Shields are the mid-tier nodes.
	Shields []Node `json:"shields"`
	// PoPs are the points of presence with their edges.
	PoPs []PoP `json:"pops"`
	// NATS is the URL of the purge bus, when it is reachable from outside.
	NATS string `json:"nats,omitempty"`
}

// Admin is an admin API endpoint and the bearer token it requires.
type Admin struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// PoP is one point of presence.
type PoP struct {
	Name     string   `json:"name"`
	Location Location `json:"location"`
	// ClientNetwork is the loopback source network whose addresses GeoDNS
	// places at this PoP's location (simulation only), e.g. "127.1.0.0/16".
	ClientNetwork string `json:"client_network,omitempty"`
	Edges         []Node `json:"edges"`
	// Balancers are the PoP's layer-4 balancers in front of its edges,
	// if any; GeoDNS may answer with them instead of the edges.
	Balancers []Node `json:"balancers,omitempty"`
}

// Location is a point on the globe in degrees.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Node is one edge or shield.
type Node struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Ports   Ports  `json:"ports"`
	// AdminURL is the base URL of the node's admin listener.
	AdminURL string `json:"admin_url"`
}

// Ports are the ports a node listens on; zero means not listening.
type Ports struct {
	HTTP  int `json:"http"`
	HTTPS int `json:"https,omitempty"`
	Admin int `json:"admin"`
}

// Read loads an endpoints file.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read endpoints file: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse endpoints file %s: %w", path, err)
	}
	return &f, nil
}

// Write stores f at path as indented JSON.
func Write(path string, f *File) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write endpoints file: %w", err)
	}
	return nil
}
