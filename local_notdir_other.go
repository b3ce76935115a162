//go:build !windows

package storage

import "syscall"

// errNotDir is the error for a path with a file where a folder should be.
// It matches neither [fs.ErrNotExist] nor [fs.ErrExist], so that a Put can
// tell an object in its path from a folder a Delete pruned.
const errNotDir = syscall.ENOTDIR
