package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// InitialAge returns corrected_initial_age (RFC 9111 §4.2.3): the larger of
// apparent_age = max(0, responseTime − Date) and corrected_age_value = Age +
// (responseTime − requestTime). A missing or invalid Date counts as
// responseTime; an Age that is not a non-negative integer is ignored (§5.1),
// and of a list-valued Age the first member is used.
func InitialAge(resp http.Header, requestTime, responseTime time.Time) time.Duration {
	apparent := max(0, responseTime.Sub(dateOf(resp, responseTime)))
	delay := max(0, responseTime.Sub(requestTime))
	return max(apparent, ageValue(resp)+delay)
}

// ageValue returns the Age field in seconds as a duration, or 0.
func ageValue(h http.Header) time.Duration {
	v := h["Age"]
	if len(v) == 0 {
		return 0
	}
	s := v[0]
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = s[:i]
	}
	secs, ok := parseDeltaSeconds(trimOWS(s))
	if !ok {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// Entry is what the cache knows of a stored response for freshness
// decisions. NewEntry fills every field; a hand-built Entry works too.
type Entry struct {
	Status       int
	Header       http.Header   // the stored header (see StoredHeader)
	RequestTime  time.Time     // when the request that produced it was sent upstream
	ResponseTime time.Time     // when the response was received
	InitialAge   time.Duration // InitialAge at store time
	Lifetime     time.Duration // FreshnessLifetime at store time

	// Control holds the governing response directives (see Control),
	// computed once at store time so that Evaluate does not parse them on
	// every request. If nil, Evaluate derives them from Header with the zero
	// Policy (CDN-Cache-Control honoured).
	Control *CacheControl
}

// NewEntry builds the Entry for a response received at responseTime to a
// request sent at requestTime: the stored header (StoredHeader, with a Date
// added if missing, RFC 9110 §6.6.1), the initial age and the freshness
// lifetime, computed from the header as received.
func NewEntry(status int, resp http.Header, requestTime, responseTime time.Time, p Policy) *Entry {
	h := StoredHeader(resp, p)
	EnsureDate(h, responseTime)
	cc, fromCDN := Control(resp, p)
	lifetime, _ := freshnessLifetime(resp, cc, fromCDN, status, responseTime, p)
	return &Entry{
		Status:       status,
		Header:       h,
		RequestTime:  requestTime,
		ResponseTime: responseTime,
		InitialAge:   InitialAge(resp, requestTime, responseTime),
		Lifetime:     lifetime,
		Control:      &cc,
	}
}

// Revalidated returns the Entry that replaces e after a 304 (Not Modified)
// received at responseTime to a conditional request sent at requestTime
// (RFC 9111 §4.3.4): the header merged by MergeNotModified, and the age and
// freshness computed afresh from the 304 and the merged header. The caller
// checks NotModifiedMatches first. e is not modified.
func (e *Entry) Revalidated(notModified http.Header, requestTime, responseTime time.Time, p Policy) *Entry {
	h := MergeNotModified(e.Header, notModified)
	if _, ok := headerDate(notModified, "Date"); !ok {
		h["Date"] = []string{FormatHTTPDate(responseTime)}
	}
	cc, fromCDN := Control(h, p)
	lifetime, _ := freshnessLifetime(h, cc, fromCDN, e.Status, responseTime, p)
	return &Entry{
		Status:       e.Status,
		Header:       h,
		RequestTime:  requestTime,
		ResponseTime: responseTime,
		InitialAge:   InitialAge(notModified, requestTime, responseTime),
		Lifetime:     lifetime,
		Control:      &cc,
	}
}

// Age returns current_age at now (RFC 9111 §4.2.3): InitialAge plus the time
// the response has been resident since ResponseTime (never negative).
func (e *Entry) Age(now time.Time) time.Duration {
	return e.InitialAge + max(0, now.Sub(e.ResponseTime))
}

// control returns the governing response directives of e.
func (e *Entry) control() CacheControl {
	if e.Control != nil {
		return *e.Control
	}
	cc, _ := Control(e.Header, Policy{})
	return cc
}
