//go:build !unix

package influx

import (
	"fmt"
	"io"
	"os"
)

// lockDir creates the lock file at path. Outside Unix it does not lock:
// do not point two WardWatch processes at one spool directory.
func lockDir(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock spool: %w", err)
	}
	return f, nil
}
