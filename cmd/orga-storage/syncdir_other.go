//go:build !windows

package main

import (
	"errors"
	"os"
	"syscall"
)

// syncDir syncs the directory dir, so that the entries renamed into it
// survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) {
		// Some filesystems, CIFS and FUSE ones among them, do not sync
		// directories, and say so with EINVAL.
		return nil
	}
	return err
}
