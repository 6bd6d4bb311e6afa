package sim

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/geoip2-golang"
)

// TestWriteGeoIP: the generated database is a City database that a
// standard GeoIP2 reader places each region's loopback clients with.
func TestWriteGeoIP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "city.mmdb")
	if err := WriteGeoIP(path, DefaultRegions()); err != nil {
		t.Fatal(err)
	}
	db, err := geoip2.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Metadata().DatabaseType; got != "GeoLite2-City" {
		t.Errorf("database type %q", got)
	}
	for _, r := range DefaultRegions() {
		rec, err := db.City(net.IP(r.ClientAddr().AsSlice()))
		if err != nil {
			t.Fatalf("look up %s: %v", r.ClientAddr(), err)
		}
		if rec.Location.Latitude != r.Location.Lat || rec.Location.Longitude != r.Location.Lon ||
			rec.Country.IsoCode != r.Country || rec.Continent.Code != r.Continent || rec.City.Names["en"] != r.City {
			t.Errorf("%s: %+v %+v %+v, want %+v", r.ClientAddr(), rec.Location, rec.Country, rec.Continent, r)
		}
	}
	rec, err := db.City(net.ParseIP("127.9.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Location.Latitude != 0 || rec.Country.IsoCode != "" {
		t.Errorf("127.9.0.1 is in no region but got %+v", rec)
	}
}

func TestWriteGeoIPRejectsRegionWithoutNetwork(t *testing.T) {
	err := WriteGeoIP(filepath.Join(t.TempDir(), "x.mmdb"), []Region{{PoP: "nowhere"}})
	if err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("error %v, want one naming the region", err)
	}
}
