package edge

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
)

// Transfer codings net/http does not take. Go's client accepts only
// "Transfer-Encoding: chunked" and fails any other value, so an origin
// that sends "gzip", "gzip, chunked" or a coding of its own would become
// a 502. RFC 9112 §6.3 says how such a response is framed instead: when
// chunked is not the final coding, the body runs until the connection
// closes. unframedRoundTrip sends the request again on a connection of
// its own and reads the response that way: chunked (when final) is
// decoded, then gzip, x-gzip and deflate; the response is passed on, and
// stored, without Transfer-Encoding. The bytes of a coding nobody here
// knows are passed on (and stored) as they came, as the shared-cache
// conformance suite requires.

// isUnsupportedTE reports whether err is net/http refusing a response's
// Transfer-Encoding.
func isUnsupportedTE(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unsupported transfer encoding") || strings.Contains(msg, "too many transfer encodings")
}

// unframedRoundTrip performs r (a GET or HEAD without a body) on a new
// connection, reading a response net/http refused for its transfer
// codings.
func (s *Proxy) unframedRoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	host := r.URL.Host
	if r.URL.Port() == "" {
		if r.URL.Scheme == "https" {
			host = net.JoinHostPort(r.URL.Hostname(), "443")
		} else {
			host = net.JoinHostPort(r.URL.Hostname(), "80")
		}
	}
	conn, err := s.transport.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	if r.URL.Scheme == "https" {
		tc := &tls.Config{}
		if s.transport.TLSClientConfig != nil {
			tc = s.transport.TLSClientConfig.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = r.URL.Hostname()
		}
		t := tls.Client(conn, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = t
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		return nil, err
	}
	out := r.Clone(ctx)
	out.Close = true // the body may run until the connection closes
	if err := out.Write(conn); err != nil {
		return fail(err)
	}
	br := bufio.NewReader(conn)
	tp := textproto.NewReader(br)
	var resp *http.Response
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return fail(err)
		}
		proto, status, ok := strings.Cut(line, " ")
		code, cerr := strconv.Atoi(status[:min(3, len(status))])
		major, minor, vok := http.ParseHTTPVersion(proto)
		if !ok || cerr != nil || !vok || code < 100 || code > 999 {
			return fail(fmt.Errorf("malformed status line %q", line))
		}
		hdr, err := tp.ReadMIMEHeader()
		if err != nil {
			return fail(err)
		}
		if code >= 100 && code < 200 {
			continue // informational: the final response follows
		}
		resp = &http.Response{Status: status, StatusCode: code, Proto: proto, ProtoMajor: major, ProtoMinor: minor,
			Header: http.Header(hdr), ContentLength: -1, Close: true, Request: r}
		break
	}
	codings := transferCodings(resp.Header.Values("Transfer-Encoding"))
	resp.Header.Del("Transfer-Encoding")
	resp.Header.Del("Content-Length") // Transfer-Encoding overrides it (RFC 9112 §6.3)
	var body io.Reader = br
	if n := len(codings); n > 0 && codings[n-1] == "chunked" {
		body = httputil.NewChunkedReader(br)
		codings = codings[:n-1]
	}
	closers := []io.Closer{conn}
	unknown := false
	for i := len(codings) - 1; i >= 0 && !unknown; i-- {
		switch codings[i] {
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(body)
			if err != nil {
				return fail(fmt.Errorf("gzip transfer coding: %w", err))
			}
			body, closers = zr, append(closers, zr)
		case "deflate":
			fr := flate.NewReader(body)
			body, closers = fr, append(closers, fr)
		case "identity":
		default:
			unknown = true
		}
	}
	if r.Method == http.MethodHead || code204or304(resp.StatusCode) {
		body = http.NoBody
	}
	resp.Body = &unframedBody{Reader: body, closers: closers, stop: stop}
	s.log.Info("upstream response with transfer codings net/http refuses, read until close", "url", r.URL.String(), "codings", strings.Join(codings, ", "))
	return resp, nil
}

func code204or304(code int) bool {
	return code == http.StatusNoContent || code == http.StatusNotModified
}

// transferCodings lists the codings of Transfer-Encoding values, lower
// case, in order of application.
func transferCodings(values []string) []string {
	var out []string
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if i := strings.IndexByte(c, ';'); i >= 0 {
				c = strings.TrimSpace(c[:i]) // parameters
			}
			if c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

// unframedBody is the body of an unframed response; closing it closes
// the connection.
type unframedBody struct {
	io.Reader
	closers []io.Closer
	stop    func() bool
}

func (b *unframedBody) Close() error {
	b.stop()
	var err error
	for i := len(b.closers) - 1; i >= 0; i-- {
		if e := b.closers[i].Close(); e != nil && err == nil && i == 0 {
			err = e
		}
	}
	return err
}
