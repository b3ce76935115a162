//go:build darwin || freebsd

package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// filesystemType returns the name of the filesystem that holds dir, such as
// "apfs", "hfs", "ufs", "zfs", "nfs" or "msdos", as statfs(2) gives it.
func filesystemType(dir string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", dir, err)
	}
	return unix.ByteSliceToString(st.Fstypename[:]), nil
}
