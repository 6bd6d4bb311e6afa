package geodns

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadDatabases: missing, corrupt and location-less databases fail at
// New with an error naming the file, and never crash.
func TestBadDatabases(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a MaxMind database"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
	}{
		{maxmindDB(t, "GeoIP2-City-Test-Invalid-Node-Count.mmdb"), ""},
		{maxmindDB(t, "GeoIP2-City-Test-Broken-Double-Format.mmdb"), ""},
		{maxmindDB(t, "GeoLite2-ASN-Test.mmdb"), "no locations"},
		{filepath.Join(t.TempDir(), "missing.mmdb"), "no such file"},
		{garbage, "invalid MaxMind DB"},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			cfg := testConfig()
			cfg.GeoIPPath = tc.path
			_, err := New(cfg, Options{})
			if err == nil {
				t.Fatal("New accepted the database")
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should name %s and say %q", err, tc.path, tc.want)
			}
		})
	}
}

// TestGoodDatabases open and answer lookups.
func TestGoodDatabases(t *testing.T) {
	for _, name := range []string{"GeoLite2-City-Test.mmdb", "GeoIP2-City-Test.mmdb", "GeoLite2-Country-Test.mmdb"} {
		t.Run(name, func(t *testing.T) {
			db, err := openGeoDB(maxmindDB(t, name))
			if err != nil {
				t.Fatal(err)
			}
			loc, err := db.lookup(netip.MustParseAddr("81.2.69.142"))
			if err != nil || !loc.Found || loc.Country != "GB" || loc.Continent != "EU" {
				t.Errorf("81.2.69.142: %+v %v", loc, err)
			}
			if m, err := db.find(netip.MustParseAddr("81.2.69.142")); strings.Contains(name, "City") && (!loc.HasCoords || err != nil || m.network.Bits() != 31) {
				t.Errorf("81.2.69.142 in a City database: %+v, network %v %v", loc, m.network, err)
			}
			loc, err = db.lookup(netip.MustParseAddr("2001:218::1"))
			if err != nil || loc.Country != "JP" {
				t.Errorf("2001:218::1: %+v %v", loc, err)
			}
			loc, err = db.lookup(netip.MustParseAddr("10.0.0.1"))
			if err != nil || loc.Found {
				t.Errorf("10.0.0.1: %+v %v, want not found", loc, err)
			}
		})
	}
}
