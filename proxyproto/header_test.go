package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const v2sig = "0d0a0d0a000d0a515549540a"

func TestReadTable(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		in   string // raw input; hex when it starts with "hex:"
		want *Header
		rest string
		err  error
	}{
		// Examples from section 2.1 of the spec.
		{name: "v1 tcp4", in: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n",
			want: &Header{Version: 1, Command: Proxy, Transport: TCP, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")},
			rest: "GET / HTTP/1.1\r\n"},
		{name: "v1 tcp6", in: "PROXY TCP6 ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", err: ErrInvalidHeader},
		{name: "v1 tcp6 real", in: "PROXY TCP6 2001:db8::1 2001:db8::2 65535 65535\r\nx",
			want: &Header{Version: 1, Command: Proxy, Transport: TCP, Source: ap("[2001:db8::1]:65535"), Destination: ap("[2001:db8::2]:65535")}, rest: "x"},
		{name: "v1 unknown", in: "PROXY UNKNOWN\r\n", want: &Header{Version: 1, Command: Proxy}},
		{name: "v1 unknown worst case", in: "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\nbody",
			want: &Header{Version: 1, Command: Proxy}, rest: "body"},
		{name: "v1 family mismatch", in: "PROXY TCP4 2001:db8::1 192.168.0.1 1 2\r\n", err: ErrInvalidHeader},
		{name: "v1 leading zero port", in: "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", err: ErrInvalidHeader},
		{name: "v1 port too big", in: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", err: ErrInvalidHeader},
		{name: "v1 too few fields", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", err: ErrInvalidHeader},
		{name: "v1 double space", in: "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", err: ErrInvalidHeader},
		{name: "v1 bad proto", in: "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", err: ErrInvalidHeader},
		{name: "v1 LF only", in: "PROXY UNKNOWN\n", err: ErrInvalidHeader},
		{name: "v1 too long", in: "PROXY UNKNOWN " + strings.Repeat("a", 120) + "\r\n", err: ErrInvalidHeader},
		{name: "v1 truncated", in: "PROXY TCP4 1.2.3.4", err: io.ErrUnexpectedEOF},
		{name: "not proxy", in: "GET / HTTP/1.1\r\n", err: ErrNoProxyHeader},
		{name: "empty", in: "", err: io.EOF},
		// v2: section 2.2.
		{name: "v2 tcp4", in: "hex:" + v2sig + "21 11 000c 7f000001 0a000002 1f90 01bb" + "68690a",
			want: &Header{Version: 2, Command: Proxy, Transport: TCP, Source: ap("127.0.0.1:8080"), Destination: ap("10.0.0.2:443")},
			rest: "hi\n"},
		{name: "v2 udp4", in: "hex:" + v2sig + "21 12 000c 7f000001 0a000002 1f90 01bb",
			want: &Header{Version: 2, Command: Proxy, Transport: UDP, Source: ap("127.0.0.1:8080"), Destination: ap("10.0.0.2:443")}},
		{name: "v2 tcp6", in: "hex:" + v2sig + "21 21 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 0001 0002",
			want: &Header{Version: 2, Command: Proxy, Transport: TCP, Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:2")}},
		{name: "v2 local", in: "hex:" + v2sig + "20 00 0000", want: &Header{Version: 2, Command: Local}},
		{name: "v2 local with addresses ignored", in: "hex:" + v2sig + "20 11 000c 7f000001 0a000002 1f90 01bb",
			want: &Header{Version: 2, Command: Local}},
		{name: "v2 unspec", in: "hex:" + v2sig + "21 00 0000", want: &Header{Version: 2, Command: Proxy}},
		{name: "v2 with TLVs", in: "hex:" + v2sig + "21 11 0018 7f000001 0a000002 1f90 01bb 02 0003 616263 04 0000 ee 0000",
			want: &Header{Version: 2, Command: Proxy, Transport: TCP, Source: ap("127.0.0.1:8080"), Destination: ap("10.0.0.2:443"),
				TLVs: []TLV{{Type: 2, Value: []byte("abc")}, {Type: 4, Value: []byte{}}, {Type: 0xee, Value: []byte{}}}}},
		{name: "v2 TLV overruns", in: "hex:" + v2sig + "21 11 0010 7f000001 0a000002 1f90 01bb 02 0005 6162", err: ErrInvalidHeader},
		{name: "v2 TLV truncated type", in: "hex:" + v2sig + "21 11 000e 7f000001 0a000002 1f90 01bb 02 00", err: ErrInvalidHeader},
		{name: "v2 short addresses", in: "hex:" + v2sig + "21 11 0004 7f000001", err: ErrInvalidHeader},
		{name: "v2 version 1", in: "hex:" + v2sig + "11 11 0000", err: ErrInvalidHeader},
		{name: "v2 bad command", in: "hex:" + v2sig + "2f 11 0000", err: ErrInvalidHeader},
		{name: "v2 bad family", in: "hex:" + v2sig + "21 41 0000", err: ErrInvalidHeader},
		{name: "v2 truncated body", in: "hex:" + v2sig + "21 11 000c 7f00", err: io.ErrUnexpectedEOF},
		{name: "v2 unix ignored", in: "hex:" + v2sig + "21 31 00d8" + strings.Repeat("00", 216), want: &Header{Version: 2, Command: Proxy}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			if s, ok := strings.CutPrefix(tc.in, "hex:"); ok {
				in = mustHex(t, s)
			}
			br := bufio.NewReader(bytes.NewReader(in))
			h, err := Read(br)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Read: err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(h, tc.want) {
				t.Fatalf("Read = %+v, want %+v", h, tc.want)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.rest {
				t.Fatalf("rest = %q, want %q", rest, tc.rest)
			}
		})
	}
}

func TestWriteRoundTrip(t *testing.T) {
	ap := netip.MustParseAddrPort
	headers := []*Header{
		{Version: 1, Command: Proxy, Transport: TCP, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")},
		{Version: 1, Command: Proxy, Transport: TCP, Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:2")},
		{Version: 1, Command: Proxy},
		{Version: 2, Command: Proxy, Transport: TCP, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")},
		{Version: 2, Command: Proxy, Transport: UDP, Source: ap("[2001:db8::1]:1"), Destination: ap("[2001:db8::2]:2")},
		{Version: 2, Command: Local},
		{Version: 2, Command: Proxy},
		{Version: 2, Command: Proxy, Transport: TCP, Source: ap("1.2.3.4:5"), Destination: ap("6.7.8.9:10"),
			TLVs: []TLV{{Type: 1, Value: []byte("h2")}, {Type: 0xe0, Value: []byte{}}}},
	}
	for _, h := range headers {
		var buf bytes.Buffer
		if _, err := h.WriteTo(&buf); err != nil {
			t.Fatalf("WriteTo(%+v): %v", h, err)
		}
		got, err := Read(bufio.NewReader(&buf))
		if err != nil {
			t.Fatalf("Read(WriteTo(%+v)) = %v", h, err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Fatalf("round trip: got %+v, want %+v", got, h)
		}
	}
	// The spec's v1 example, byte for byte.
	h := &Header{Version: 1, Command: Proxy, Transport: TCP, Source: ap("192.168.0.1:56324"), Destination: ap("192.168.0.11:443")}
	b, _ := h.Append(nil)
	if want := "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"; string(b) != want {
		t.Fatalf("v1 = %q, want %q", b, want)
	}
	// v4-mapped addresses are written as IPv4.
	h = &Header{Version: 2, Command: Proxy, Transport: TCP, Source: ap("[::ffff:127.0.0.1]:1"), Destination: ap("127.0.0.2:2")}
	b, _ = h.Append(nil)
	if want := mustHex(t, v2sig+"21 11 000c 7f000001 7f000002 0001 0002"); !bytes.Equal(b, want) {
		t.Fatalf("v2 = %x, want %x", b, want)
	}
	bad := []*Header{
		{Version: 3},
		{Version: 1, Command: Proxy, Transport: UDP, Source: ap("1.2.3.4:5"), Destination: ap("6.7.8.9:10")},
		{Version: 2, Command: Proxy, Transport: TCP, Source: ap("1.2.3.4:5"), Destination: ap("[::1]:10")},
		{Version: 2, Command: Proxy, Transport: TCP},
	}
	for _, h := range bad {
		if _, err := h.Append(nil); err == nil {
			t.Fatalf("Append(%+v) succeeded, want an error", h)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		in   string
		want Match
	}{
		{"", NeedMore}, {"P", NeedMore}, {"PROXY", NeedMore}, {"PROXY ", V1}, {"PROXY TCP4", V1},
		{"\r\n\r\n", NeedMore}, {"\r\n\r\n\x00\r\nQUIT\n", V2}, {"\r\n\r\n\x00\r\nQUIT\n!", V2},
		{"GET", NoSignature}, {"PROXZ", NoSignature}, {"\r\n\r\n\x01", NoSignature}, {"\x16\x03\x01", NoSignature},
	}
	for _, tc := range tests {
		if got := Detect([]byte(tc.in)); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzRead checks that no input panics the parser, that whatever parses
// writes back and parses to the same header, and that the parser never
// consumes more than the header.
func FuzzRead(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 65535 65535\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(mustHex(f, v2sig+"21 11 000c 7f000001 0a000002 1f90 01bb"))
	f.Add(mustHex(f, v2sig+"21 21 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 0001 0002"))
	f.Add(mustHex(f, v2sig+"20 00 0000"))
	f.Add(mustHex(f, v2sig+"21 11 0018 7f000001 0a000002 1f90 01bb 02 0003 616263 04 0000 ee 0000"))
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		h, err := Read(br)
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(br)
		consumed := len(in) - len(rest)
		if !bytes.Equal(in[consumed:], rest) {
			t.Fatalf("rest is not a suffix of the input")
		}
		b, err := h.Append(nil)
		if err != nil {
			// v1 UNKNOWN with trailing junk, and v2 unix/unspec/local with
			// ignored addresses, write back without them; nothing else
			// may fail.
			t.Fatalf("Append(%+v) of a parsed header: %v", h, err)
		}
		h2, err := Read(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("re-read %x: %v", b, err)
		}
		if h2.Version != h.Version || h2.Command != h.Command || h2.Transport != h.Transport ||
			unmap(h2.Source) != unmap(h.Source) || unmap(h2.Destination) != unmap(h.Destination) || len(h2.TLVs) != len(h.TLVs) {
			t.Fatalf("round trip: %+v became %+v", h, h2)
		}
	})
}

// FuzzParseV2 feeds complete v2 buffers straight to ParseV2.
func FuzzParseV2(f *testing.F) {
	f.Add(mustHex(f, v2sig+"21 11 000c 7f000001 0a000002 1f90 01bb"))
	f.Add(mustHex(f, v2sig+"21 31 0003 000000"))
	f.Fuzz(func(t *testing.T, body []byte) {
		b := append(mustHex(t, v2sig), body...)
		ParseV2(b) //nolint:errcheck // only panics matter
	})
}

func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
