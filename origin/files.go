package origin

import (
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

// demoFS is the site served when Config.Root is empty.
//
//go:embed demo
var demoFS embed.FS

// fileServer serves files from a directory through os.Root, which refuses
// any name (.., symbolic links included) that resolves outside it, or from
// the embedded demo site.
type fileServer struct {
	root *os.Root // nil when serving the embedded site
	fsys fs.FS
	cc   string // Cache-Control; "" sends none
	// static holds the precomputed validators of the embedded files, whose
	// modification times are unknown. Read-only after newFileServer.
	static map[string]staticMeta
}

// staticMeta are the validators of one embedded file.
type staticMeta struct {
	etag, digest string
}

func newFileServer(dir, cc string) (*fileServer, error) {
	fsrv := &fileServer{cc: cc}
	if dir != "" {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, fmt.Errorf("open file root %s: %w", dir, err)
		}
		fsrv.root, fsrv.fsys = root, root.FS()
		return fsrv, nil
	}
	sub, err := fs.Sub(demoFS, "demo")
	if err != nil {
		return nil, fmt.Errorf("open embedded demo site: %w", err)
	}
	fsrv.fsys = sub
	fsrv.static = make(map[string]staticMeta)
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		fsrv.static[name] = staticMeta{
			etag:   `"` + hex.EncodeToString(sum[:12]) + `"`,
			digest: formatDigest(sum[:]),
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index embedded demo site: %w", err)
	}
	return fsrv, nil
}

func (f *fileServer) close() error {
	if f.root == nil {
		return nil
	}
	if err := f.root.Close(); err != nil {
		return fmt.Errorf("close file root %s: %w", f.root.Name(), err)
	}
	return nil
}

// fileName maps a URL path to a name in the file tree: "." for the root.
// It refuses NUL bytes, backslashes, and any segment starting with a dot,
// which covers "..", "." and hidden files such as .git or .env. dir reports
// a trailing slash.
func fileName(urlPath string) (name string, dir bool, ok bool) {
	if strings.ContainsAny(urlPath, "\x00\\") || !strings.HasPrefix(urlPath, "/") {
		return "", false, false
	}
	dir = strings.HasSuffix(urlPath, "/")
	for seg := range strings.SplitSeq(urlPath[1:], "/") {
		if strings.HasPrefix(seg, ".") {
			return "", false, false
		}
	}
	name = strings.TrimPrefix(path.Clean(urlPath), "/")
	if name == "" {
		name = "."
	}
	return name, dir, fs.ValidPath(name)
}

// serveFile serves a file, or a directory's index.html; never a listing.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) result {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h["Allow"] = []string{"GET, HEAD"}
		return s.textError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
	name, wantDir, ok := fileName(r.URL.Path)
	if !ok {
		return s.textError(w, http.StatusNotFound, "not found")
	}
	fsys := s.files.fsys
	file, info, err := openRegular(fsys, name)
	if err == nil && info.IsDir() {
		file.Close()
		index := path.Join(name, "index.html")
		file, info, err = openRegular(fsys, index)
		if err == nil && !info.IsDir() && !wantDir {
			// Relative references in the index resolve against the
			// directory only with the trailing slash.
			file.Close()
			loc := r.URL.EscapedPath() + "/"
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			h["Location"] = []string{loc}
			return s.textError(w, http.StatusMovedPermanently, "moved to "+loc)
		}
		name = index
	} else if err == nil && wantDir {
		file.Close()
		return s.textError(w, http.StatusNotFound, "not found")
	}
	if err == nil && info.IsDir() {
		file.Close()
		err = fs.ErrNotExist
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("open file", "name", name, "err", err)
		}
		return s.textError(w, http.StatusNotFound, "not found")
	}
	defer file.Close()
	ra, ok := file.(io.ReaderAt)
	if !ok {
		s.log.Error("file does not support ReadAt", "name", name)
		return s.textError(w, http.StatusInternalServerError, "file not readable")
	}

	rep := representation{
		status: http.StatusOK,
		size:   info.Size(),
		body:   fileBody{ra},
	}
	if meta, ok := s.files.static[name]; ok {
		rep.etag, rep.digestValue = meta.etag, meta.digest
	} else {
		mt := info.ModTime()
		rep.lastModified = mt.Truncate(time.Second)
		var b []byte
		b = binary.BigEndian.AppendUint64(b, uint64(mt.UnixNano()))
		b = binary.BigEndian.AppendUint64(b, uint64(info.Size()))
		// Like nginx: a strong tag from modification time and size.
		rep.etag = fmt.Sprintf(`"%x-%x"`, mt.UnixNano(), info.Size())
		rep.digestKey = sha256.Sum256(append(append(b, "file\x00"...), name...))
		rep.wantDigest = true
	}
	rep.boundary = "file" + strings.Trim(rep.etag, `"`)
	rep.contentType = mime.TypeByExtension(path.Ext(name))
	if rep.contentType == "" {
		var head [512]byte
		n, _ := ra.ReadAt(head[:], 0)
		rep.contentType = http.DetectContentType(head[:n])
	}
	f := newFieldWriter(h)
	f.set("Date", s.httpDate(s.now()))
	f.set("Etag", rep.etag)
	if !rep.lastModified.IsZero() {
		f.set("Last-Modified", rep.lastModified.UTC().Format(http.TimeFormat))
	}
	if s.files.cc != "" {
		f.set("Cache-Control", s.files.cc)
	}
	res := s.serve(w, r, f, &rep, sendOptions{abort: -1, stall: -1})
	if res.aborted {
		panic(http.ErrAbortHandler)
	}
	return res
}

// openRegular opens name and stats it.
func openRegular(fsys fs.FS, name string) (fs.File, fs.FileInfo, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if !info.IsDir() && !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, fs.ErrNotExist
	}
	return f, info, nil
}

// fileBody is the bodySource of a file.
type fileBody struct{ ra io.ReaderAt }

func (b fileBody) writeRange(w io.Writer, off, n int64, buf []byte) (int64, error) {
	var written int64
	for written < n {
		c := buf
		if rem := n - written; rem < int64(len(c)) {
			c = c[:rem]
		}
		m, err := b.ra.ReadAt(c, off+written)
		if m < len(c) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the file shrank under us
			}
			return written, fmt.Errorf("read file at offset %d: %w", off+written, err)
		}
		m, err = w.Write(c)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
