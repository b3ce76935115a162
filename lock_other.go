//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package storage

import (
	"errors"
	"os"
)

// lockFile cannot lock here. A caller that waits goes on without the lock
// (a Put); one that asks without waiting is refused, so that it never takes
// a live file for a dead one's: Local's Cleanup and Sync's clean-up of
// left-open uploads remove nothing on these systems.
func lockFile(_ *os.File, wait bool) error {
	if wait {
		return nil
	}
	return errors.ErrUnsupported
}

func unlinked(*os.File) (bool, error) { return false, nil }
