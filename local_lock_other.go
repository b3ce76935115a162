//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package storage

import (
	"errors"
	"os"
)

// lockFile cannot lock here. A Put goes on without the lock; Cleanup, which
// asks without waiting, is refused, so that it never takes a live Put's
// temporary file for a dead one's: it removes nothing on these systems.
func lockFile(_ *os.File, wait bool) error {
	if wait {
		return nil
	}
	return errors.ErrUnsupported
}

func unlinked(*os.File) (bool, error) { return false, nil }
