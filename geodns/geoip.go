package geodns

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/oschwald/maxminddb-golang"
)

// geoDB is an opened MaxMind database. It is read into memory rather than
// memory-mapped: a database retired by Reload is then released by the
// garbage collector once the last in-flight query drops it, so no query can
// ever touch unmapped memory.
type geoDB struct {
	path   string
	reader *maxminddb.Reader
	kind   string // metadata database_type, e.g. "GeoLite2-City"
}

// geoRecord decodes only what PoP choice needs from a City or Country
// record (the GeoIP2 schema); the localized names are skipped.
type geoRecord struct {
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// location is where a client is, as far as the database knows.
type location struct {
	Found     bool // the database has a record for the network
	HasCoords bool
	Lat, Lon  float64
	Country   string // ISO 3166-1 alpha-2, upper case
	Continent string // AF, AN, AS, EU, NA, OC, SA
	Bits      int    // prefix length of the database network that decided
}

// openGeoDB reads and verifies the database at path. Every error names the
// file. The whole file is verified so that a corrupt database fails here,
// at load or reload, instead of at query time.
func openGeoDB(path string) (*geoDB, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open GeoIP database %s: %w", path, err)
	}
	r, err := maxminddb.FromBytes(buf)
	if err != nil {
		return nil, fmt.Errorf("open GeoIP database %s: %w", path, err)
	}
	kind := r.Metadata.DatabaseType
	for _, bad := range []string{"ASN", "ISP", "Domain", "Connection-Type", "Anonymous-IP"} {
		if strings.Contains(kind, bad) {
			return nil, fmt.Errorf("open GeoIP database %s: database type %q has no locations; need a City or Country database", path, kind)
		}
	}
	// Verify checks the search tree and every data record. It also insists
	// on a description and a type, which only describe the file: databases
	// built with mmdbwriter may lack them, so stand-ins are set meanwhile.
	meta := r.Metadata
	if len(r.Metadata.Description) == 0 {
		r.Metadata.Description = map[string]string{"en": "-"}
	}
	if r.Metadata.DatabaseType == "" {
		r.Metadata.DatabaseType = "-"
	}
	err = r.Verify()
	r.Metadata = meta
	if err != nil {
		return nil, fmt.Errorf("verify GeoIP database %s: %w", path, err)
	}
	// A lookup through the search tree and the data section, as queries
	// will do, for both families.
	var rec geoRecord
	for _, probe := range []net.IP{net.IPv4(1, 1, 1, 1).To4(), net.ParseIP("2001:4860::1")} {
		if _, _, err := r.LookupNetwork(probe, &rec); err != nil {
			return nil, fmt.Errorf("test lookup of %s in GeoIP database %s: %w", probe, path, err)
		}
	}
	return &geoDB{path: path, reader: r, kind: kind}, nil
}

// lookup finds addr's location. Bits is set even when nothing is found: it
// is the length of the database network that holds no record.
func (g *geoDB) lookup(addr netip.Addr) (location, error) {
	var rec geoRecord
	network, found, err := g.reader.LookupNetwork(net.IP(addr.AsSlice()), &rec)
	loc := location{Found: found}
	if network != nil {
		ones, total := network.Mask.Size()
		if addr.Is4() && total == 128 {
			// An IPv4 address found above the IPv4 subtree of an IPv6
			// database: express the length in IPv4 bits.
			ones = max(0, ones-96)
		}
		loc.Bits = ones
	}
	if err != nil {
		return loc, fmt.Errorf("look up %s in GeoIP database %s: %w", addr, g.path, err)
	}
	if !found {
		return loc, nil
	}
	loc.Country = strings.ToUpper(rec.Country.ISOCode)
	if loc.Country == "" {
		loc.Country = strings.ToUpper(rec.RegisteredCountry.ISOCode)
	}
	loc.Continent = strings.ToUpper(rec.Continent.Code)
	if la, lo := rec.Location.Latitude, rec.Location.Longitude; la != nil && lo != nil &&
		*la >= -90 && *la <= 90 && *lo >= -180 && *lo <= 180 {
		loc.HasCoords, loc.Lat, loc.Lon = true, *la, *lo
	}
	return loc, nil
}

// earthRadiusKm is the mean Earth radius used by haversine.
const earthRadiusKm = 6371.0

// haversine is the great-circle distance in kilometres between two points
// given in degrees.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(math.Min(1, a)))
}
