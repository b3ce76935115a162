package main

import (
	"io/fs"
	"syscall"
)

// sameChangeTime reports whether the files a and b, two stats of one file,
// have the same inode change time, which any write or setting of the
// modification time moves forward.
func sameChangeTime(a, b fs.FileInfo) bool {
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	if !okA || !okB {
		return true
	}
	return sa.Ctim == sb.Ctim
}
