package fwdproxy

import (
	"net/netip"
	"net/url"
	"testing"
)

func TestParseAuthority(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // Authority(), "" for an error
	}{
		{"example.com:443", "example.com:443"},
		{"EXAMPLE.com.:443", "example.com:443"},
		{"[::1]:8443", "[::1]:8443"},
		{"[::ffff:127.0.0.1]:443", "[::ffff:127.0.0.1]:443"},
		{"127.0.0.1:443", "127.0.0.1:443"},
		{"example.com", ""},
		{"example.com:", ""},
		{"example.com:0", ""},
		{"example.com:65536", ""},
		{"example.com:+443", ""},
		{"user@example.com:443", ""},
		{"example.com:443/path", ""},
		{"::1:443", ""},
		{"[fe80::1%eth0]:443", ""},
		{"[::1]x:443", ""},
		{"exa mple.com:443", ""},
		{"a..b:443", ""},
		{":443", ""},
		{"[]:443", ""},
	} {
		got, err := ParseAuthority(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseAuthority(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.Authority() != tc.want {
			t.Errorf("ParseAuthority(%q) = %q, %v; want %q", tc.in, got.Authority(), err, tc.want)
		}
	}
}

func TestParseAbsolute(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"http://example.com/x", "example.com:80"},
		{"http://example.com:8080/x", "example.com:8080"},
		{"http://[::1]/x", "[::1]:80"},
		{"https://example.com/x", ""},
		{"ftp://example.com/x", ""},
		{"http://u:p@example.com/x", ""},
		{"http:///x", ""},
	} {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseAbsolute(u)
		if (err != nil) != (tc.want == "") || (err == nil && got.Authority() != tc.want) {
			t.Errorf("parseAbsolute(%q) = %q, %v; want %q", tc.in, got.Authority(), err, tc.want)
		}
	}
}

func TestSpecial(t *testing.T) {
	for _, tc := range []struct{ addr, class string }{
		{"8.8.8.8", ""}, {"2606:4700::1111", ""}, {"198.51.100.7", ""},
		{"127.0.0.1", "loopback"}, {"127.255.255.254", "loopback"}, {"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"}, {"::ffff:10.0.0.1", "private"},
		{"10.1.2.3", "private"}, {"172.16.0.1", "private"}, {"192.168.0.1", "private"}, {"fd00::1", "private"},
		{"100.64.0.1", "private"}, {"fec0::1", "private"},
		{"169.254.169.254", "link-local"}, {"fe80::1", "link-local"},
		{"224.0.0.1", "link-local"}, {"239.1.2.3", "multicast"}, {"ff02::1", "link-local"}, {"ff0e::1", "multicast"},
		{"0.0.0.0", "unspecified"}, {"::", "unspecified"}, {"0.1.2.3", "unspecified"},
		{"255.255.255.255", "reserved"}, {"240.0.0.1", "reserved"},
		{"64:ff9b::7f00:1", "loopback"}, {"64:ff9b::808:808", ""},
		{"2002:c0a8:101::1", "private"}, {"2002:0808:0808::1", ""},
		{"::127.0.0.1", "loopback"}, {"::8.8.8.8", "reserved"},
		{"2001::1", "reserved"}, {"2001:db8::1", "reserved"},
	} {
		if got := Special(netip.MustParseAddr(tc.addr)); got != tc.class {
			t.Errorf("Special(%s) = %q, want %q", tc.addr, got, tc.class)
		}
	}
}

// FuzzParseAuthority checks that no CONNECT target crashes the parser and
// that whatever it accepts is stable: printing and parsing again gives the
// same target, and a host name never hides a port or an address.
func FuzzParseAuthority(f *testing.F) {
	for _, s := range []string{"example.com:443", "[::1]:80", "127.0.0.1:1", "a:b:c", "[", "]:", "x:99999", "%31:443", "[::ffff:1.2.3.4]:443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseAuthority(s)
		if err != nil {
			return
		}
		if tg.Port == 0 || tg.Host == "" {
			t.Fatalf("ParseAuthority(%q) accepted %+v", s, tg)
		}
		again, err := ParseAuthority(tg.Authority())
		if err != nil || again != tg {
			t.Fatalf("ParseAuthority(%q) = %+v; reparsing %q gives %+v, %v", s, tg, tg.Authority(), again, err)
		}
		if !tg.IP.IsValid() && !validName(tg.Host) {
			t.Fatalf("ParseAuthority(%q): host %q is neither an address nor a name", s, tg.Host)
		}
		u := &url.URL{Scheme: "http", Host: tg.Authority()}
		if _, err := parseAbsolute(u); err != nil {
			t.Fatalf("parseAbsolute(%q): %v", u, err)
		}
	})
}
