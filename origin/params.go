package origin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

const (
	// DefaultGenSize is the body length of a synthetic object without size=.
	DefaultGenSize = 1024
	// DefaultMaxGenSize is the largest size= accepted when Config.MaxSize is 0.
	DefaultMaxGenSize = 8 << 30
	// DefaultContentType is the Content-Type of a synthetic object without ctype=.
	DefaultContentType = "application/octet-stream"
	// maxDelay bounds delay= so a typo cannot park a request for days.
	maxDelay = 10 * time.Minute
)

// genParams are the query parameters of one /gen request, parsed and checked.
type genParams struct {
	size         int64
	cc           string // Cache-Control; "" means none
	hasCC        bool
	delay        time.Duration
	status       int
	vary         []string // canonical header names, "*" alone, or nil
	tags         string   // Surrogate-Key value, space separated
	lm           time.Time
	hasLM        bool
	cdncc        string
	hasCDNCC     bool
	expires      int64
	hasExpires   bool
	setCookie    string
	hasCookie    bool
	abort        int64  // -1: never abort
	stall        int64  // -1: never stall
	location     string // Location of a write's answer
	hasLocation  bool
	clocation    string // Content-Location of a write's answer
	hasCLocation bool
	chunked      bool
	contentType  string
	digest       bool
}

// parseGenParams parses a /gen query string. Unknown parameters are ignored,
// as a cache-busting ?v=2 should be; a malformed known one is an error.
func parseGenParams(rawQuery string, maxSize int64) (genParams, error) {
	p := genParams{
		size:        DefaultGenSize,
		status:      http.StatusOK,
		abort:       -1,
		stall:       -1,
		contentType: DefaultContentType,
		digest:      true,
	}
	// A bounded loop over the '&'-separated pairs, without building a
	// url.Values map: this runs on every synthetic request.
	for q := rawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			uk, err := url.QueryUnescape(k)
			if err != nil {
				return p, fmt.Errorf("query parameter name %q: %w", k, err)
			}
			k = uk
		}
		if strings.ContainsAny(v, "%+") {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				return p, fmt.Errorf("query parameter %s=%q: %w", k, v, err)
			}
			v = uv
		}
		if err := p.set(k, v, maxSize); err != nil {
			return p, fmt.Errorf("query parameter %s=%q: %w", k, v, err)
		}
	}
	return p, nil
}

var (
	errNegative     = errors.New("must not be negative")
	errHeaderValue  = errors.New("not a valid header field value")
	errHeaderName   = errors.New("not a valid header field name")
	errStatusRange  = errors.New("status must be 200-599 and not 206")
	errTooLarge     = errors.New("larger than the maximum size")
	errDelayTooLong = errors.New("delay longer than 10 minutes")
)

func (p *genParams) set(k, v string, maxSize int64) error {
	var err error
	switch k {
	case "size":
		p.size, err = strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			return err
		case p.size < 0:
			return errNegative
		case p.size > maxSize:
			return fmt.Errorf("%w %d", errTooLarge, maxSize)
		}
	case "cc":
		p.cc, p.hasCC = v, true
		return checkValue(v)
	case "delay":
		ms, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			return err
		case ms < 0:
			return errNegative
		case ms > maxDelay.Milliseconds():
			return errDelayTooLong
		}
		p.delay = time.Duration(ms) * time.Millisecond
	case "status":
		p.status, err = strconv.Atoi(v)
		if err != nil {
			return err
		}
		if p.status < 200 || p.status > 599 || p.status == http.StatusPartialContent {
			return errStatusRange
		}
	case "vary":
		return p.setVary(v)
	case "tags":
		tags := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		p.tags = strings.Join(tags, " ")
		return checkValue(p.tags)
	case "lm":
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		// HTTP-dates hold four-digit years (RFC 9110 §5.6.7).
		if sec < -62135596800 || sec > 253402300799 {
			return errors.New("outside the years 1-9999")
		}
		p.lm, p.hasLM = time.Unix(sec, 0).UTC(), true
	case "cdncc":
		p.cdncc, p.hasCDNCC = v, true
		return checkValue(v)
	case "expires":
		p.expires, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		if p.expires < -1e10 || p.expires > 1e10 {
			return errors.New("out of range")
		}
		p.hasExpires = true
	case "setcookie":
		p.setCookie, p.hasCookie = v, true
		return checkValue(v)
	case "abort":
		p.abort, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		if p.abort < 0 {
			return errNegative
		}
	case "location":
		p.location, p.hasLocation = v, true
		return checkValue(v)
	case "clocation":
		p.clocation, p.hasCLocation = v, true
		return checkValue(v)
	case "stall":
		p.stall, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		if p.stall < 0 {
			return errNegative
		}
	case "chunked":
		p.chunked, err = strconv.ParseBool(v)
		return err
	case "ctype":
		if v == "" {
			return errors.New("empty")
		}
		p.contentType = v
		return checkValue(v)
	case "digest":
		p.digest, err = strconv.ParseBool(v)
		return err
	}
	return nil
}

func (p *genParams) setVary(v string) error {
	p.vary = p.vary[:0]
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "*" {
			p.vary = append(p.vary[:0], "*")
			return nil
		}
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("%q: %w", name, errHeaderName)
		}
		name = http.CanonicalHeaderKey(name)
		dup := false
		for _, have := range p.vary {
			dup = dup || have == name
		}
		if !dup {
			p.vary = append(p.vary, name)
		}
	}
	return nil
}

func checkValue(v string) error {
	if !httpguts.ValidHeaderFieldValue(v) {
		return errHeaderValue
	}
	return nil
}

// isTextType reports whether a Content-Type names a textual format, for
// which the synthetic body is printable text.
func isTextType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/ecmascript",
		"application/xml", "application/x-ndjson", "application/yaml", "application/toml":
		return true
	}
	return false
}
