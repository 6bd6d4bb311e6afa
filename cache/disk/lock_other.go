//go:build !unix

package disk

import (
	"fmt"
	"os"
)

// lockDir opens the lock file; without flock the folder is not protected
// from a second store.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open disk cache lock %s: %w", path, err)
	}
	return f, nil
}
