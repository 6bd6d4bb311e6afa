package geodns

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
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
}

// openGeoDB reads and verifies the database at path. Every error names the
// file. The whole file is verified so that a corrupt database fails here,
// at load or reload, instead of at query time.
func openGeoDB(path string) (*geoDB, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open GeoIP database %s: %w", path, err)
	}
	r, err := maxminddb.OpenBytes(buf)
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
	g := &geoDB{path: path, reader: r, kind: kind}
	for _, probe := range []netip.Addr{netip.AddrFrom4([4]byte{1, 1, 1, 1}), netip.MustParseAddr("2001:4860::1")} {
		if r.Metadata.IPVersion == 4 && probe.Is6() {
			continue
		}
		if _, err := g.lookup(probe); err != nil {
			return nil, fmt.Errorf("test lookup: %w", err)
		}
	}
	return g, nil
}

// match is where an address falls in the database: the network holding it
// and the data record of that network, if any.
type match struct {
	network netip.Prefix // masked; in IPv4 terms for an IPv4 address
	offset  uintptr      // data record; valid when found
	found   bool
}

// find walks the search tree for addr without decoding the record, so it
// is cheap enough for every query: the network it returns is the key of
// the ranking cache. An IPv4-mapped IPv6 address is looked up as IPv4.
func (g *geoDB) find(addr netip.Addr) (match, error) {
	addr = addr.Unmap()
	if g.reader.Metadata.IPVersion == 4 && addr.Is6() {
		return match{network: netip.PrefixFrom(netip.IPv6Unspecified(), 0)}, nil
	}
	res := g.reader.Lookup(addr)
	if err := res.Err(); err != nil {
		return match{network: netip.PrefixFrom(addr, 0).Masked()}, fmt.Errorf("look up %s in GeoIP database %s: %w", addr, g.path, err)
	}
	n := res.Prefix()
	if !n.IsValid() || n.Addr().BitLen() != addr.BitLen() {
		// An IPv4 address found above the IPv4 subtree: the network is
		// wider than all of IPv4.
		n = netip.PrefixFrom(addr, 0)
	}
	return match{network: n.Masked(), offset: res.Offset(), found: res.Found()}, nil
}

// location decodes the record of a match.
func (g *geoDB) location(m match) (location, error) {
	if !m.found {
		return location{}, nil
	}
	var rec geoRecord
	if err := g.reader.LookupOffset(m.offset).Decode(&rec); err != nil {
		return location{}, fmt.Errorf("decode record of %s in GeoIP database %s: %w", m.network, g.path, err)
	}
	loc := location{Found: true}
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

// lookup finds addr's location and the database network that holds it.
func (g *geoDB) lookup(addr netip.Addr) (location, error) {
	m, err := g.find(addr)
	if err != nil {
		return location{}, err
	}
	return g.location(m)
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
