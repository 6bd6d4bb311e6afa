//go:build !unix

package tlsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// lockDir takes dir/.lock by creating it exclusively, polling for up to a
// minute, and returns the function that removes it. A lock file older than
// a minute is taken to be left by a crashed process and removed.
func lockDir(dir string) (func(), error) {
	path := filepath.Join(dir, ".lock")
	deadline := time.Now().Add(time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create lock file: %w", err)
		}
		if fi, serr := os.Stat(path); serr == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: still held after a minute", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
