package httpcache

import (
	"net/http"
	"time"
)

// Layouts of the obsolete HTTP-date formats (RFC 9110 §5.6.7).
const (
	rfc850Layout  = "Monday, 02-Jan-06 15:04:05 GMT"
	asctimeLayout = "Mon Jan _2 15:04:05 2006"
)

// ParseHTTPDate parses an HTTP-date in any of the three formats a recipient
// must accept (RFC 9110 §5.6.7): IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT"), the obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") and
// asctime ("Sun Nov  6 08:49:37 1994"). The result is in UTC. A two-digit
// RFC 850 year is read as 1969–2068; ParseHTTPDateAt applies the RFC's
// 50-year rule against a clock instead. IMF-fixdate is parsed without
// allocating.
func ParseHTTPDate(s string) (time.Time, bool) {
	s = trimOWS(s)
	if t, ok := parseIMFFixdate(s); ok {
		return t, true
	}
	if len(s) == 29 {
		return time.Time{}, false // IMF-fixdate length but not valid
	}
	if t, err := time.Parse(rfc850Layout, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(asctimeLayout, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// ParseHTTPDateAt is ParseHTTPDate with the RFC 850 two-digit year read as
// RFC 9110 §5.6.7 requires: a year that appears more than 50 years after now
// is taken as the most recent past year with the same last two digits.
func ParseHTTPDateAt(s string, now time.Time) (time.Time, bool) {
	t, ok := ParseHTTPDate(s)
	if !ok {
		return t, false
	}
	s = trimOWS(s)
	if len(s) == 29 && s[3] == ',' {
		return t, true // IMF-fixdate: four-digit year
	}
	if _, err := time.Parse(rfc850Layout, s); err != nil {
		return t, true // asctime: four-digit year
	}
	yy := t.Year() % 100
	y := now.UTC().Year()/100*100 + yy
	for y > now.UTC().Year()+50 {
		y -= 100
	}
	for y+100 <= now.UTC().Year()+50 {
		y += 100
	}
	return t.AddDate(y-t.Year(), 0, 0), true
}

// FormatHTTPDate formats t as an IMF-fixdate (RFC 9110 §5.6.7), in UTC.
func FormatHTTPDate(t time.Time) string {
	return t.UTC().Format(http.TimeFormat)
}

// AppendHTTPDate appends t formatted as an IMF-fixdate to b.
func AppendHTTPDate(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, http.TimeFormat)
}

// parseIMFFixdate parses "Sun, 06 Nov 1994 08:49:37 GMT" exactly.
func parseIMFFixdate(s string) (time.Time, bool) {
	if len(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || s[26:] != "GMT" {
		return time.Time{}, false
	}
	switch s[:3] {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
	default:
		return time.Time{}, false
	}
	day, ok1 := twoDigits(s[5:7])
	month := monthOf(s[8:11])
	yh, ok2 := twoDigits(s[12:14])
	yl, ok3 := twoDigits(s[14:16])
	hour, ok4 := twoDigits(s[17:19])
	minute, ok5 := twoDigits(s[20:22])
	sec, ok6 := twoDigits(s[23:25])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month == 0 {
		return time.Time{}, false
	}
	year := yh*100 + yl
	if day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	// A leap second (":60") is normalised into the next minute.
	return time.Date(year, month, day, hour, minute, sec, 0, time.UTC), true
}

func twoDigits(s string) (int, bool) {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

func monthOf(s string) time.Month {
	switch s {
	case "Jan":
		return time.January
	case "Feb":
		return time.February
	case "Mar":
		return time.March
	case "Apr":
		return time.April
	case "May":
		return time.May
	case "Jun":
		return time.June
	case "Jul":
		return time.July
	case "Aug":
		return time.August
	case "Sep":
		return time.September
	case "Oct":
		return time.October
	case "Nov":
		return time.November
	case "Dec":
		return time.December
	}
	return 0
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// headerDate parses the first line of field f of h as an HTTP-date.
func headerDate(h http.Header, f string) (time.Time, bool) {
	v := h[f]
	if len(v) == 0 {
		return time.Time{}, false
	}
	return ParseHTTPDate(v[0])
}

// dateOf returns the response's Date, or responseTime when it is missing or
// invalid (RFC 9110 §6.6.1: a recipient with a clock uses the receipt time).
func dateOf(resp http.Header, responseTime time.Time) time.Time {
	if d, ok := headerDate(resp, "Date"); ok {
		return d
	}
	return responseTime
}

// EnsureDate sets Date to responseTime when h has no valid Date, as a cache
// receiving a response without one must (RFC 9110 §6.6.1).
func EnsureDate(h http.Header, responseTime time.Time) {
	if _, ok := headerDate(h, "Date"); !ok {
		h["Date"] = []string{FormatHTTPDate(responseTime)}
	}
}

// ParseExpires parses an Expires field value (RFC 9111 §5.3) with the
// tolerance peers show for this one field: besides ParseHTTPDate's forms it
// accepts the day, month and zone names in any letter case ("THU, 18 AUG
// 2050 02:01:18 gMT"). Another zone, "UTC" included, is invalid (RFC 9110
// §5.6.7: an HTTP-date is in GMT). A weekday that does not match
// the date is ignored, as time.Parse ignores it. ok is false for anything
// else; the caller then treats the response as already expired (§5.3: "A
// cache recipient MUST interpret invalid date formats, especially the value
// "0", as representing a time in the past").
func ParseExpires(s string) (time.Time, bool) {
	if t, ok := ParseHTTPDate(s); ok {
		return t, true
	}
	s = trimOWS(s)
	if len(s) < 24 || len(s) > 40 {
		return time.Time{}, false
	}
	var buf [40]byte
	b := buf[:0]
	for i := 0; i < len(s); {
		if !isAlpha(s[i]) {
			b = append(b, s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isAlpha(s[j]) {
			j++
		}
		b = append(b, canonicalDateWord(s[i:j])...)
		i = j
	}
	return ParseHTTPDate(string(b))
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// canonicalDateWord returns the canonical spelling of a day, month or zone
// name in any case, or w unchanged.
func canonicalDateWord(w string) string {
	for _, name := range dateWords {
		if equalFoldASCII(name, w) {
			return name
		}
	}
	return w
}

var dateWords = [...]string{
	"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	"GMT",
}
