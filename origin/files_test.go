package origin

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fileTree lays out a root with a secret beside it, reachable only by
// escaping the root.
func fileTree(t *testing.T) (root, secret string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	secret = filepath.Join(base, "secret.txt")
	writeFile(t, secret, "top secret")
	writeFile(t, filepath.Join(root, "index.html"), "<h1>home</h1>")
	writeFile(t, filepath.Join(root, "a.css"), "body{}")
	writeFile(t, filepath.Join(root, "noext"), "plain words")
	writeFile(t, filepath.Join(root, "docs", "index.html"), "docs")
	writeFile(t, filepath.Join(root, "empty", "x.txt"), "x")
	writeFile(t, filepath.Join(root, ".env"), "PASSWORD=1")
	if err := os.Symlink(secret, filepath.Join(root, "link.txt")); err != nil {
		t.Logf("no symlink test: %v", err)
	}
	if err := os.Symlink(filepath.Dir(secret), filepath.Join(root, "up")); err != nil {
		t.Logf("no symlink test: %v", err)
	}
	return root, secret
}

func TestFilesServe(t *testing.T) {
	root, _ := fileTree(t)
	_, ts := startServer(t, Config{Root: root})
	tests := []struct {
		path, body, ctype string
	}{
		{"/", "<h1>home</h1>", "text/html; charset=utf-8"},
		{"/index.html", "<h1>home</h1>", "text/html; charset=utf-8"},
		{"/a.css", "body{}", "text/css; charset=utf-8"},
		{"/noext", "plain words", "text/plain; charset=utf-8"},
		{"/docs/", "docs", "text/html; charset=utf-8"},
	}
	for _, tc := range tests {
		res, body := get(t, ts.URL+tc.path)
		if res.StatusCode != 200 || string(body) != tc.body {
			t.Errorf("%s: status %d body %q, want 200 %q", tc.path, res.StatusCode, body, tc.body)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := res.Header.Get("Cache-Control"); got != DefaultFileCacheControl {
			t.Errorf("%s: Cache-Control %q", tc.path, got)
		}
		if res.Header.Get("ETag") == "" || res.Header.Get("Last-Modified") == "" {
			t.Errorf("%s: validators missing: %v", tc.path, res.Header)
		}
		sum := sha256.Sum256(body)
		if got := parseReprDigest(t, res.Header.Get("Repr-Digest")); !bytes.Equal(got, sum[:]) {
			t.Errorf("%s: Repr-Digest does not match", tc.path)
		}
	}

	// Conditional and range requests work on files as on synthetic objects.
	first, _ := get(t, ts.URL+"/a.css")
	res, _ := get(t, ts.URL+"/a.css", "If-None-Match", first.Header.Get("ETag"))
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match on a file: status %d", res.StatusCode)
	}
	res, body := get(t, ts.URL+"/a.css", "Range", "bytes=1-3")
	if res.StatusCode != 206 || string(body) != "ody" {
		t.Errorf("Range on a file: status %d body %q", res.StatusCode, body)
	}
}

func TestFilesDirectories(t *testing.T) {
	root, _ := fileTree(t)
	_, ts := startServer(t, Config{Root: root})
	res, err := noRedirect.Get(ts.URL + "/docs?x=1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/docs/?x=1" {
		t.Errorf("/docs: status %d Location %q, want 301 to /docs/?x=1", res.StatusCode, res.Header.Get("Location"))
	}
	// A directory without index.html is not listed.
	for _, p := range []string{"/empty/", "/empty", "/a.css/", "/missing"} {
		res, body := get(t, ts.URL+p)
		if res.StatusCode != http.StatusNotFound || strings.Contains(string(body), "x.txt") {
			t.Errorf("%s: status %d body %q, want 404 without a listing", p, res.StatusCode, body)
		}
	}
}

// TestFilesTraversal sends raw request targets that try to leave the root;
// none may reach the secret beside it.
func TestFilesTraversal(t *testing.T) {
	root, _ := fileTree(t)
	_, ts := startServer(t, Config{Root: root})
	targets := []string{
		"/../secret.txt",
		"/..%2fsecret.txt",
		"/%2e%2e/secret.txt",
		"/docs/../../secret.txt",
		"/docs/%2e%2e/%2e%2e/secret.txt",
		"/..\\secret.txt",
		"/%5c..%5csecret.txt",
		"/link.txt",       // symlink pointing outside
		"/up/secret.txt",  // symlinked directory outside
		"/.env",           // hidden file
		"/docs/%00",       // NUL
		"//../secret.txt", // empty segment
	}
	for _, target := range targets {
		status, body := rawGet(t, ts.Listener.Addr().String(), target)
		if strings.Contains(body, "top secret") || strings.Contains(body, "PASSWORD") {
			t.Errorf("%s: leaked a file outside the root or a hidden file (status %d)", target, status)
		}
		if status == 200 {
			t.Errorf("%s: status 200", target)
		}
	}
}

// rawGet sends target verbatim, bypassing client-side path cleaning.
func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	s := string(b)
	status := 0
	if f := strings.Fields(s); len(f) > 1 {
		for _, c := range f[1] {
			status = status*10 + int(c-'0')
		}
	}
	return status, s
}

func TestFilesCacheControl(t *testing.T) {
	root, _ := fileTree(t)
	_, ts := startServer(t, Config{Root: root, FileCacheControl: "no-cache"})
	res, _ := get(t, ts.URL+"/a.css")
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache", got)
	}
	_, ts2 := startServer(t, Config{Root: root, FileCacheControl: NoCacheControl})
	res, _ = get(t, ts2.URL+"/a.css")
	if v, ok := res.Header["Cache-Control"]; ok {
		t.Errorf("Cache-Control %q sent with %q", v, NoCacheControl)
	}
}

func TestFilesMethods(t *testing.T) {
	_, ts := startServer(t, Config{})
	res, _ := fetch(t, http.MethodPost, ts.URL+"/")
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	get1, body := get(t, ts.URL+"/style.css")
	head, hbody := fetch(t, http.MethodHead, ts.URL+"/style.css")
	if head.StatusCode != 200 || len(hbody) != 0 || head.ContentLength != int64(len(body)) {
		t.Errorf("HEAD: status %d, %d body bytes, Content-Length %d (GET body %d)", head.StatusCode, len(hbody), head.ContentLength, len(body))
	}
	if head.Header.Get("ETag") != get1.Header.Get("ETag") {
		t.Error("HEAD and GET disagree on ETag")
	}
}

func TestDemoSite(t *testing.T) {
	_, ts := startServer(t, Config{})
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", "<title>"},
		{"/style.css", "text/css; charset=utf-8", "body"},
		{"/app.js", "javascript", "fetch("},
		{"/logo.svg", "image/svg+xml", "<svg"},
	} {
		res, body := get(t, ts.URL+tc.path)
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(body), tc.contains) {
			t.Errorf("%s: status %d Content-Type %q", tc.path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if res.Header.Get("ETag") == "" || res.Header.Get("Repr-Digest") == "" {
			t.Errorf("%s: no ETag or Repr-Digest", tc.path)
		}
	}
}

func TestNewBadRoot(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := New(Config{Root: missing})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("New with a missing root: %v, want an error naming it", err)
	}
}
