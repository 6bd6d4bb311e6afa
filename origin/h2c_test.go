package origin

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
)

// startH2C serves s over HTTP/1.1 and h2c on 127.0.0.1:0, as cdn origin
// does, and returns a client speaking h2c with prior knowledge.
func startH2C(t *testing.T, s *Server) (string, *http.Client) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: s, Protocols: &p}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	var cp http.Protocols
	cp.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &cp, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return "http://" + ln.Addr().String(), &http.Client{Transport: tr}
}

func TestH2C(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	base, client := startH2C(t, s)
	_, ts1 := startServer(t, Config{})

	res, err := client.Get(base + "/gen/h2?size=70000&cc=max-age=60")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.ProtoMajor != 2 || len(body) != 70000 {
		t.Fatalf("h2c: proto %s, %d bytes, err %v", res.Proto, len(body), err)
	}
	// The same object over HTTP/1.1 is byte for byte the same.
	res1, body1 := get(t, ts1.URL+"/gen/h2?size=70000&cc=max-age=60")
	if !bytes.Equal(body, body1) || res.Header.Get("ETag") != res1.Header.Get("ETag") {
		t.Error("h2c and HTTP/1.1 disagree on the object")
	}

	// abort= resets the stream: the client sees an error, not a short body.
	res, err = client.Get(base + "/gen/h2abort?size=70000&abort=1000")
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil || len(body) > 1000 {
		t.Errorf("h2c abort: read %d bytes, err %v; want an error after at most 1000", len(body), err)
	}
}
