//go:build unix

package influx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/wardwatch/wardwatch"
)

// lockDir takes an exclusive lock on the file at path (creating it), so that
// two processes never share a spool. Closing the returned file releases it.
func lockDir(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock spool: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &wardwatch.Error{Code: wardwatch.ECONFLICT, Message: "the telemetry spool directory is in use by another WardWatch", Err: err}
		}
		return nil, fmt.Errorf("lock spool: %w", err)
	}
	return f, nil
}
