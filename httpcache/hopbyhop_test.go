package httpcache

import (
	"reflect"
	"testing"
)

func TestRemoveHopByHop(t *testing.T) {
	h := hdr(
		"Connection", "Keep-Alive, x-private-hop",
		"Connection", "upgrade",
		"X-Private-Hop", "1",
		"Keep-Alive", "timeout=5",
		"Proxy-Connection", "keep-alive",
		"TE", "trailers",
		"Trailer", "X-Checksum",
		"Transfer-Encoding", "chunked",
		"Upgrade", "h2c",
		"Proxy-Authenticate", "Basic",
		"Proxy-Authorization", "Basic eA==",
		"Content-Type", "text/plain",
		"Authorization", "Bearer x",
	)
	RemoveHopByHop(h)
	want := hdr("Content-Type", "text/plain", "Authorization", "Bearer x")
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("RFC9110-7.6.1: got %v, want %v", h, want)
	}
}
