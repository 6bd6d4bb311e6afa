package sim

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// WriteGeoIP writes a MaxMind City database that places each region's
// network at its location (GeoIP2 City schema: location.latitude and
// longitude, country.iso_code, continent.code, city.names.en), so GeoDNS
// locates the simulation's loopback clients on its production path. The
// file is written to a temporary name beside path and renamed, so a
// reader never sees half a database.
func WriteGeoIP(path string, regions []Region) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoLite2-City",
		Description:  map[string]string{"en": "cdn simulation: loopback client networks by region"},
		Languages:    []string{"en"},
		// 127/8 is reserved; the simulation's clients live there.
		IncludeReservedNetworks: true,
		RecordSize:              24,
	})
	if err != nil {
		return fmt.Errorf("new GeoIP database: %w", err)
	}
	for i, r := range regions {
		if !r.Network.IsValid() {
			return fmt.Errorf("GeoIP database: region %d (%s) has no network", i, r.PoP)
		}
		n := &net.IPNet{
			IP:   r.Network.Masked().Addr().AsSlice(),
			Mask: net.CIDRMask(r.Network.Bits(), r.Network.Addr().BitLen()),
		}
		rec := mmdbtype.Map{
			"location": mmdbtype.Map{
				"latitude":        mmdbtype.Float64(r.Location.Lat),
				"longitude":       mmdbtype.Float64(r.Location.Lon),
				"accuracy_radius": mmdbtype.Uint16(20),
			},
		}
		if r.Country != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(r.Country)}
		}
		if r.Continent != "" {
			rec["continent"] = mmdbtype.Map{"code": mmdbtype.String(r.Continent)}
		}
		if r.City != "" {
			rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(r.City)}}
		}
		if err := tree.Insert(n, rec); err != nil {
			return fmt.Errorf("GeoIP database: insert %s (%s): %w", r.Network, r.PoP, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write GeoIP database %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".geoip-*.mmdb")
	if err != nil {
		return fmt.Errorf("write GeoIP database %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = tree.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write GeoIP database %s: %w", path, err)
	}
	return nil
}
